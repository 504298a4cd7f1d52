"""Where edgecnn keeps what it makes for the user between runs (trained models, logs, compiled
libraries): one folder, ``$EDGECNN_CACHE_DIR`` or the platform's user cache directory."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EDGECNN_CACHE_DIR"


def cache_root() -> Path:
    """``$EDGECNN_CACHE_DIR``, else the platform's user cache directory for edgecnn."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("edgecnn", appauthor=False))
