"""The ``hrv`` group (seed A's reward signal): recordings -> HRV metrics -> stress model.

Thin adapters: the work is in :mod:`moodtune.hrv`; these read settings, log to Dagster and
MLflow, and return. The stress model's training asset, ``hrv_stress_model``, is built from its
spec (:mod:`assets.training`).
"""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset, asset_check

from assets import CRITICAL_PATH
from assets.resources import SettingsResource
from moodtune.errors import InvalidHRV
from moodtune.hrv import LEVELS, METRIC_COLUMNS
from moodtune.hrv.constants import ARTEFACT_TYPES, PLAUSIBLE
from moodtune.hrv.pipeline import compute_metrics, load_recordings


@asset(group_name="hrv", compute_kind="python", op_tags=CRITICAL_PATH)
def hrv_recordings(context, settings: SettingsResource) -> pd.DataFrame:
    """Raw HRV recordings with subject and stress level: the SWELL/WESAD-derived metrics table
    (``hrv.data.dataset_csv``), RR-interval files with labels (``hrv.data.rr_dir``), or by default RR
    series simulated per subject and stress level. RR series are kept whole (``rr_ms``)."""
    s = settings.get()
    table = load_recordings(s, progress=True)
    source = str(table["source"].iloc[0])
    context.log.info(f"{len(table)} recordings of {table['subject'].nunique()} subjects from {source}")
    meta = {
        "source": source,
        "recordings": len(table),
        "subjects": int(table["subject"].nunique()),
        "per_level": MetadataValue.json(
            table["level"].value_counts().reindex(LEVELS, fill_value=0).to_dict()
        ),
        "per_condition": MetadataValue.json(
            {str(k): int(v) for k, v in table["condition"].value_counts().items()}
        ),
    }
    if "rr_ms" in table and table["rr_ms"].notna().any():
        seconds = table["rr_ms"].dropna().map(lambda rr: float(rr.sum()) / 1000.0)
        meta["rr_intervals"] = int(table["rr_ms"].dropna().map(len).sum())
        meta["recording_seconds_median"] = float(seconds.median())
    if "file_seconds" in table:
        per_file = table.groupby("file").agg(
            file_s=("file_seconds", "first"),
            used_s=("rr_ms", lambda x: sum(float(r.sum()) for r in x) / 1000),
        )
        meta["rr_seconds_left_out"] = float((per_file["file_s"] - per_file["used_s"]).sum())
    preview = table.drop(columns=[c for c in ("rr_ms", "baseline_rr_ms") if c in table]).head(12)
    meta["preview"] = MetadataValue.md(preview.to_markdown(index=False))
    context.add_output_metadata(meta)
    return table


@asset(group_name="hrv", compute_kind="neurokit2", op_tags=CRITICAL_PATH)
def hrv_metrics(context, settings: SettingsResource, hrv_recordings: pd.DataFrame) -> pd.DataFrame:
    """The eight metrics per recording (MEAN_RR, SDRR, HR, RMSSD, pNN50 in ms/bpm/%, VLF, LF,
    HF in ms²) with subject, level and artefact counts; refused recordings are listed in the
    metadata with their reason."""
    s = settings.get()
    table, refused = compute_metrics(
        hrv_recordings,
        s.hrv.metrics,
        progress=True,
        log=context.log.warning,
        baseline_condition=s.hrv.data.baseline_condition,
    )
    if table.empty:
        raise InvalidHRV(
            f"every one of the {len(hrv_recordings)} recordings was refused; first reason: "
            f"{refused['reason'].iloc[0] if len(refused) else 'none'}"
        )
    by_level = table.groupby("level")[list(METRIC_COLUMNS)].median().reindex(LEVELS).round(2)
    context.add_output_metadata(
        {
            "recordings": len(table),
            "refused": len(refused),
            "refused_reasons": MetadataValue.json(
                refused[["recording_id", "reason"]].head(50).to_dict("records")
            ),
            "artifacts_corrected": int(table["n_artifacts"].fillna(0).sum()),
            "artifacts_by_type": MetadataValue.json(
                {k: int(table[f"n_{k}"].fillna(0).sum()) for k in ARTEFACT_TYPES}
            ),
            "with_baseline": int(table["baseline_RMSSD"].notna().sum()),
            "artifact_fraction_max": float(table["artifact_fraction"].fillna(0).max()),
            "median_by_level": MetadataValue.md(by_level.reset_index().to_markdown(index=False)),
            "preview": MetadataValue.md(table.head(12).round(2).to_markdown(index=False)),
        }
    )
    return table


@asset_check(
    asset=hrv_metrics, description="every metric is finite and physiologically plausible", blocking=True
)
def hrv_metrics_plausible(hrv_metrics: pd.DataFrame) -> AssetCheckResult:
    problems = {}
    for col, (lo, hi) in PLAUSIBLE.items():
        values = hrv_metrics[col]
        bad = values.isna() | (values < lo) | (values > hi)
        if bad.any():
            problems[col] = int(bad.sum())
    return AssetCheckResult(
        passed=not problems, metadata={"rows": len(hrv_metrics), "implausible": MetadataValue.json(problems)}
    )


@asset_check(asset=hrv_metrics, description="every level is present for the stress model")
def hrv_metrics_cover_levels(hrv_metrics: pd.DataFrame) -> AssetCheckResult:
    counts = hrv_metrics["level"].value_counts().reindex(LEVELS, fill_value=0)
    return AssetCheckResult(
        passed=bool((counts > 0).all()),
        severity=AssetCheckSeverity.WARN,
        metadata={"per_level": MetadataValue.json(counts.to_dict())},
    )
