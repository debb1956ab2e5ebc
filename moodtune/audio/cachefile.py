"""Cache entries written whole or not at all (the feature and tag caches are shared by processes)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(target: str | os.PathLike, write: Callable[[Path], None], suffix: str = "") -> None:
    """``write`` a temporary file beside ``target`` (``suffix`` keeps writers such as ``np.save``
    from adding their own), then rename it over ``target``: a reader sees the old entry or the new."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp{suffix}")
    write(tmp)
    os.replace(tmp, path)
