"""What `pip install .` puts in the wheel: every Python package and every data file edgecnn
reads at run time (a fresh install once missed a new sub-package)."""
import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_python_package_is_listed():
    found = {".".join(p.parent.relative_to(REPO).parts)
             for p in (REPO / "edgecnn").rglob("__init__.py")}
    assert found <= set(CONFIG["packages"]), found - set(CONFIG["packages"])


def test_every_data_file_is_packaged():
    for package, folder in CONFIG["package-dir"].items():
        patterns = CONFIG["package-data"][package]
        for path in (REPO / folder).rglob("*"):
            if path.is_file():
                rel = path.relative_to(REPO / folder).as_posix()
                assert any(fnmatch.fnmatch(rel, pat) and rel.count("/") == pat.count("/")
                           for pat in patterns), f"{folder}/{rel} is not in the wheel"
