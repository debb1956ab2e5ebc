"""Cache entries written whole or not at all (the feature and tag caches are shared by processes)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def write_atomic(target: str | os.PathLike, write: Callable[[Path], object], suffix: str = "") -> None:
    """``write`` a temporary file beside ``target`` (``suffix`` keeps writers such as ``np.save``
    from adding their own), then rename it over ``target``: a reader sees the old entry or the new."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp{suffix}")
    write(tmp)
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    """A JSON cache entry, or None where there is none or it is damaged (then it is recomputed)."""
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError):
        return None


def read_npy(path: Path) -> np.ndarray | None:
    """An ``.npy`` cache entry, or None where there is none or it is damaged."""
    try:
        return np.load(path) if path.exists() else None
    except (OSError, ValueError):
        return None


def user_cache(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/moodtune/<parts>`` (``~/.cache`` when unset): outside every clone."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "moodtune", *parts)
