"""Baseline-relative stress: a person's metrics read against their own resting recording.

Absolute HRV transfers poorly between people (Nkurikiyeyezu 2020: SWELL cross-person stress
accuracy 42.5 ± 19.9 %); wearables read a person against their own baseline. With a baseline,
the features gain ``dlog_<m> = ln(m / baseline m)`` for RMSSD, HF, LF and MEAN_RR
(:data:`moodtune.hrv.constants.BASELINE_METRICS`): 0 at rest, negative when vagal tone falls.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from moodtune.hrv.constants import BASELINE_COLUMNS, BASELINE_METRICS, RATIO_COLUMNS

_FLOOR = 1e-3  # a band with no measurable power (0 ms²) is read as this, so its log-ratio stays finite


def attach(table: pd.DataFrame, baseline: Mapping[str, float] | None) -> pd.DataFrame:
    """``table`` with ``baseline_<m>`` columns from one baseline's metrics (NaN without one)."""
    out = table.copy()
    for m, col in zip(BASELINE_METRICS, BASELINE_COLUMNS, strict=True):
        out[col] = np.nan if baseline is None else float(baseline[m])
    return out


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """The ``dlog_<m>`` columns of a table holding the metrics and ``baseline_<m>`` columns
    (NaN where a row has no baseline)."""
    out = pd.DataFrame(index=table.index)
    for m, base, ratio in zip(BASELINE_METRICS, BASELINE_COLUMNS, RATIO_COLUMNS, strict=True):
        if base not in table:
            out[ratio] = np.nan
            continue
        value = np.maximum(table[m].to_numpy(dtype=float), _FLOOR)
        ref = np.maximum(table[base].to_numpy(dtype=float), _FLOOR)
        out[ratio] = np.log(value / ref)
    return out


def has_baseline(table: pd.DataFrame) -> bool:
    """Every row carries a baseline."""
    return all(c in table for c in BASELINE_COLUMNS) and bool(
        table[list(BASELINE_COLUMNS)].notna().all().all()
    )
