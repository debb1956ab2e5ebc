"""HRV -> stress level (seed A's reward signal): beats, artefact correction, metrics, the model
and its reader.

Imports stay light: neurokit2, CatBoost and MLflow load when first used, pandas with
:class:`StressReader` (imported lazily, so that ``moodtune --help`` does not load it). The
metrics stay eager (numpy only): the function :func:`metrics` has its module's name, and a lazy
name would be the module once anything imported ``moodtune.hrv.metrics``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS, UNITS
from moodtune.hrv.metrics import HrvResult, analyze, metrics
from moodtune.lazy import lazy_names

if TYPE_CHECKING:
    from moodtune.hrv.reader import StressReader

__all__ = ["LEVELS", "METRIC_COLUMNS", "UNITS", "HrvResult", "analyze", "metrics", "StressReader"]

__getattr__ = lazy_names(__name__, {"StressReader": "moodtune.hrv.reader"})
