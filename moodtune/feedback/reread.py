"""Logged feedback read again by the HRV model, against the baseline stored with each row.

The service stores, with a feedback row read from HRV, the eight metrics of the listener's
resting baseline when one was uploaded (``baseline_<metric>`` in the feedback store). Retraining
reads each such row's stress level again with the serving HRV champion, from the row's metrics
and against its baseline, so the reward a policy is retrained and judged on is read relative to
the person's own rest by whichever model now serves (a baseline-relative model reads the ratios;
an absolute one ignores them). Rows without a stored baseline keep the reading they were logged
with; the logged values stay in ``logged_*`` columns.

Here, in the feedback package, and not in :mod:`moodtune.hrv`: it reads logged feedback, with
the HRV model as a reader (feedback imports hrv; hrv never imports feedback).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from moodtune.feedback.reward import reward_table
from moodtune.hrv import baseline as base
from moodtune.hrv.constants import BASELINE_METRICS, LEVELS, METRIC_COLUMNS

READ_COLUMNS = ("stress_level", "p_low", "p_medium", "p_high", "reward")


def with_baseline(rows: pd.DataFrame) -> np.ndarray:
    """Which rows carry their eight metrics and a baseline to read them against."""
    needed = [*METRIC_COLUMNS, *(f"baseline_{m}" for m in BASELINE_METRICS)]
    if rows.empty or any(c not in rows for c in needed):
        return np.zeros(len(rows), dtype=bool)
    return rows[needed].apply(pd.to_numeric, errors="coerce").notna().all(axis=1).to_numpy()


def reread_rewards(rows: pd.DataFrame, reader, rewards: Mapping[str, float] | Any) -> pd.DataFrame:
    """``rows`` (:meth:`FeedbackStore.feedback_since`) with ``stress_level``, ``p_*`` and ``reward``
    read again by ``reader`` (a :class:`~moodtune.hrv.reader.StressReader`) where a row has a
    baseline; ``logged_<column>`` keep the stored values, ``reread`` marks the rows read again."""
    out = rows.copy()
    for column in READ_COLUMNS:
        out[f"logged_{column}"] = out[column] if column in out else np.nan
    mask = with_baseline(rows)
    out["reread"] = mask
    if not mask.any():
        return out
    picked = rows.loc[mask]
    table = picked[[*METRIC_COLUMNS, *(f"baseline_{m}" for m in BASELINE_METRICS)]].astype(float)
    proba = reader.predict_proba(pd.concat([table[list(METRIC_COLUMNS)], base.ratios(table)], axis=1))
    levels = np.asarray(LEVELS)[proba.argmax(axis=1)]
    table_rewards = reward_table(rewards)
    out.loc[mask, "stress_level"] = levels
    out.loc[mask, ["p_low", "p_medium", "p_high"]] = proba
    out.loc[mask, "reward"] = [table_rewards[level] for level in levels]
    return out


def reread_with_champion(
    rows: pd.DataFrame, settings, log: Callable[[str], None] = lambda _m: None
) -> pd.DataFrame:
    """:func:`reread_rewards` with the HRV champion (loaded only when a row has a baseline)."""
    if not with_baseline(rows).any():
        return rows
    from moodtune import registry

    loaded = registry.load_version(registry.HRV, None, settings)
    out = reread_rewards(rows, loaded.obj, settings.feedback.reward)
    changed = int((out["reward"] != out["logged_reward"]).sum())
    log(
        f"{int(out['reread'].sum())} feedback rows read again against their baseline by {registry.HRV} "
        f"v{loaded.version}; {changed} rewards changed"
    )
    return out
