"""userdirs.py: one folder for what edgecnn keeps between runs."""
from __future__ import annotations

from pathlib import Path

from edgecnn.userdirs import cache_root


def test_the_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGECNN_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.setenv("EDGECNN_CACHE_DIR", "~/edgecnn-cache")
    assert cache_root() == Path.home() / "edgecnn-cache"


def test_otherwise_the_platform_s_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGECNN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "edgecnn"
