"""What the MLflow UI shows as text: tag values written from numbers, and a run's description.

Every tag written from a float goes through :func:`tag_value` (4 significant digits, read back
with ``float``), so run and version tags read ``0.8123``, not ``0.812345678901``. A run's
description is its ``mlflow.note.content`` tag (markdown); :func:`append_note` adds a paragraph
to it, e.g. the gate's verdict once it is known.
"""

from __future__ import annotations

import math

import mlflow
from mlflow.tracking import MlflowClient

from moodtune.registry.tracking import NOTE_TAG

SIGNIFICANT_DIGITS = 4
MAX_NOTE_CHARS = 8000  # MLflow's limit on a tag value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH)


def rounded(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (NaN and infinities unchanged)."""
    x = float(value)
    return x if not math.isfinite(x) else float(f"{x:.{digits}g}")


def tag_value(value: float, digits: int = SIGNIFICANT_DIGITS) -> str:
    """A float as a tag value: rounded to ``digits`` significant digits, e.g. ``'0.8123'``,
    ``'12350.0'``, ``'nan'``; ``float()`` reads it back."""
    return repr(rounded(value, digits))


def append_note(text: str, run_id: str | None = None, *, client: MlflowClient) -> str:
    """Append ``text`` as a paragraph to the description of ``run_id`` (default: the active run)
    and return the new description; cut to MLflow's tag limit, keeping the beginning."""
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise RuntimeError("append_note: no run_id and no active MLflow run")
        run_id = active.info.run_id
    current = client.get_run(run_id).data.tags.get(NOTE_TAG, "").rstrip()
    note = f"{current}\n\n{text.strip()}" if current else text.strip()
    if len(note) > MAX_NOTE_CHARS:
        note = note[: MAX_NOTE_CHARS - 1] + "…"
    client.set_tag(run_id, NOTE_TAG, note)
    return note
