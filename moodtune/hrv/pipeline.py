"""The steps of the ``hrv`` asset group, as plain functions (the Dagster assets call these)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from moodtune.errors import InvalidHRV
from moodtune.hrv.config import MetricsSettings
from moodtune.hrv.constants import ARTEFACT_TYPES, BASELINE_COLUMNS, BASELINE_METRICS, METRIC_COLUMNS
from moodtune.hrv.data import load_dataset_csv, load_rr_dir
from moodtune.hrv.metrics import analyze
from moodtune.hrv.simulate import simulate_dataset

if TYPE_CHECKING:
    from moodtune.settings import Settings

RECORDING_COLUMNS = ("recording_id", "subject", "level", "condition", "source")


def load_recordings(settings: Settings, progress: bool = False) -> pd.DataFrame:
    """The raw recordings: ``hrv.data.dataset_csv``, else ``hrv.data.rr_dir``, else the simulated
    demo (``hrv.demo``). ``settings``: the whole settings (paths resolve against the project root,
    the demo draws from ``project.seed``)."""
    d, demo = settings.hrv.data, settings.hrv.demo
    if d.dataset_csv is not None:
        return load_dataset_csv(
            settings.path(d.dataset_csv),
            condition_column=d.condition_column,
            subject_column=d.subject_column,
            condition_levels=d.condition_levels,
        )
    if d.rr_dir is not None:
        return load_rr_dir(
            settings.path(d.rr_dir),
            condition_column=d.condition_column,
            subject_column=d.subject_column,
            condition_levels=d.condition_levels,
            window_seconds=d.window_seconds,
            min_seconds=settings.hrv.metrics.min_seconds,
        )
    return simulate_dataset(
        demo.subjects,
        demo.recordings_per_level,
        demo.recording_seconds,
        settings.project.seed,
        progress=progress,
        baseline_seconds=demo.baseline_seconds,
    )


def compute_metrics(
    recordings: pd.DataFrame,
    config: MetricsSettings,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    baseline_condition: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The eight metrics per recording (+ subject, level, artefact counts per type, and the
    subject's ``baseline_<m>`` metrics where a baseline exists), and the refused recordings with
    the reason (an RR recording that :func:`analyze` refuses is not used, and is listed, never
    dropped silently). Rows that already carry metrics pass through.

    A subject's baseline is its ``baseline_rr_ms`` recording (the simulated demo), or the median
    of its rows whose condition is ``baseline_condition`` (real data; those rows are then the
    baseline, not recordings to classify)."""
    from tqdm.auto import tqdm

    rows: list[dict] = []
    refused: list[dict] = []
    has_rr = "rr_ms" in recordings.columns
    baselines = _baseline_recordings(recordings, config, refused, log)
    for rec in tqdm(
        recordings.itertuples(index=False), total=len(recordings), desc="HRV metrics", disable=not progress
    ):
        base = {c: getattr(rec, c) for c in RECORDING_COLUMNS}
        rr = rec.rr_ms if has_rr else None
        if rr is None or (isinstance(rr, float) and np.isnan(rr)):
            rows.append(
                {
                    **base,
                    **{c: float(getattr(rec, c)) for c in METRIC_COLUMNS},
                    "n_intervals": np.nan,
                    "n_artifacts": np.nan,
                    "artifact_fraction": np.nan,
                    "duration_s": np.nan,
                    **{f"n_{k}": np.nan for k in ARTEFACT_TYPES},
                }
            )
            continue
        try:
            rows.append({**base, **analyze(rr, config).as_dict()})
        except InvalidHRV as exc:
            refused.append({**base, "reason": str(exc)})
            if log:
                log(f"recording {base['recording_id']} refused: {exc}")
    table = pd.DataFrame(
        rows,
        columns=[
            *RECORDING_COLUMNS,
            *METRIC_COLUMNS,
            "n_intervals",
            "n_artifacts",
            *(f"n_{k}" for k in ARTEFACT_TYPES),
            "artifact_fraction",
            "duration_s",
        ],
    )
    if baseline_condition is not None:
        is_base = table["condition"].astype(str).str.strip().str.lower() == baseline_condition.strip().lower()
        medians = table[is_base].groupby("subject")[list(BASELINE_METRICS)].median()
        baselines.update({str(s): row.to_dict() for s, row in medians.iterrows()})
        table = table[~is_base].reset_index(drop=True)
    for m, col in zip(BASELINE_METRICS, BASELINE_COLUMNS, strict=True):
        table[col] = [baselines.get(str(s), {}).get(m, np.nan) for s in table["subject"]]
    return table, pd.DataFrame(refused, columns=[*RECORDING_COLUMNS, "reason"])


def _baseline_recordings(
    recordings: pd.DataFrame, config: MetricsSettings, refused: list, log: Callable[[str], None] | None
) -> dict[str, dict[str, float]]:
    """Subject -> baseline metrics, from a ``baseline_rr_ms`` column (one recording per subject)."""
    if "baseline_rr_ms" not in recordings.columns:
        return {}
    out = {}
    for subject, rr in recordings.groupby("subject")["baseline_rr_ms"].first().items():
        try:
            out[str(subject)] = analyze(rr, config).values
        except InvalidHRV as exc:
            refused.append(
                {
                    "recording_id": f"{subject}-baseline",
                    "subject": subject,
                    "level": "",
                    "condition": "baseline",
                    "source": "baseline",
                    "reason": str(exc),
                }
            )
            if log:
                log(f"baseline of {subject} refused: {exc}")
    return out
