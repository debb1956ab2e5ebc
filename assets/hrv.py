"""The ``hrv`` group (seed A's reward signal): recordings -> HRV metrics -> stress model.

Thin adapters: the work is in :mod:`moodtune.hrv`; these read settings, log to Dagster and
MLflow, and return.
"""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset, asset_check
from mlflow import catboost as mlflow_catboost
from mlflow.models import infer_signature

from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.errors import InvalidHRV
from moodtune.hrv import LEVELS, METRIC_COLUMNS, MetricsConfig
from moodtune.hrv import plots as hrv_plots
from moodtune.hrv.constants import PLAUSIBLE
from moodtune.hrv.model import ModelConfig, evaluate, features, fit
from moodtune.hrv.pipeline import compute_metrics, load_recordings
from moodtune.hrv.reader import MODEL_NAME


@asset(group_name="hrv", compute_kind="python")
def hrv_recordings(context, settings: SettingsResource) -> pd.DataFrame:
    """Raw HRV recordings with subject and stress level: the SWELL/WESAD-derived metrics table
    (``hrv.dataset_csv``), RR-interval files with labels (``hrv.rr_dir``), or by default RR
    series simulated per subject and stress level. RR series are kept whole (``rr_ms``)."""
    s = settings.get()
    table = load_recordings(s, progress=True)
    source = str(table["source"].iloc[0])
    context.log.info(f"{len(table)} recordings of {table['subject'].nunique()} subjects from {source}")
    meta = {
        "source": source,
        "recordings": len(table),
        "subjects": int(table["subject"].nunique()),
        "per_level": MetadataValue.json(table["level"].value_counts().reindex(LEVELS, fill_value=0).to_dict()),
        "per_condition": MetadataValue.json({str(k): int(v) for k, v in table["condition"].value_counts().items()}),
    }
    if "rr_ms" in table and table["rr_ms"].notna().any():
        seconds = table["rr_ms"].dropna().map(lambda rr: float(rr.sum()) / 1000.0)
        meta["rr_intervals"] = int(table["rr_ms"].dropna().map(len).sum())
        meta["recording_seconds_median"] = float(seconds.median())
    if "file_seconds" in table:
        per_file = table.groupby("file").agg(file_s=("file_seconds", "first"),
                                             used_s=("rr_ms", lambda x: sum(float(r.sum()) for r in x) / 1000))
        meta["rr_seconds_left_out"] = float((per_file["file_s"] - per_file["used_s"]).sum())
    preview = table.drop(columns=[c for c in ("rr_ms",) if c in table]).head(12)
    meta["preview"] = MetadataValue.md(preview.to_markdown(index=False))
    context.add_output_metadata(meta)
    return table


@asset(group_name="hrv", compute_kind="neurokit2")
def hrv_metrics(context, settings: SettingsResource, hrv_recordings: pd.DataFrame) -> pd.DataFrame:
    """The eight metrics per recording (MEAN_RR, SDRR, HR, RMSSD, pNN50 in ms/bpm/%, VLF, LF,
    HF in ms²) with subject, level and artefact counts; refused recordings are listed in the
    metadata with their reason."""
    s = settings.get()
    table, refused = compute_metrics(hrv_recordings, MetricsConfig.from_settings(s), progress=True,
                                     log=context.log.warning)
    if table.empty:
        raise InvalidHRV(f"every one of the {len(hrv_recordings)} recordings was refused; first reason: "
                         f"{refused['reason'].iloc[0] if len(refused) else 'none'}")
    by_level = table.groupby("level")[list(METRIC_COLUMNS)].median().reindex(LEVELS).round(2)
    context.add_output_metadata({
        "recordings": len(table),
        "refused": len(refused),
        "refused_reasons": MetadataValue.json(refused[["recording_id", "reason"]].head(50).to_dict("records")),
        "artifacts_corrected": int(table["n_artifacts"].fillna(0).sum()),
        "artifact_fraction_max": float(table["artifact_fraction"].fillna(0).max()),
        "median_by_level": MetadataValue.md(by_level.reset_index().to_markdown(index=False)),
        "preview": MetadataValue.md(table.head(12).round(2).to_markdown(index=False)),
    })
    return table


@asset_check(asset=hrv_metrics, description="every metric is finite and physiologically plausible",
             blocking=True)
def hrv_metrics_plausible(hrv_metrics: pd.DataFrame) -> AssetCheckResult:
    problems = {}
    for col, (lo, hi) in PLAUSIBLE.items():
        values = hrv_metrics[col]
        bad = values.isna() | (values < lo) | (values > hi)
        if bad.any():
            problems[col] = int(bad.sum())
    return AssetCheckResult(passed=not problems, metadata={"rows": len(hrv_metrics),
                                                           "implausible": MetadataValue.json(problems)})


@asset_check(asset=hrv_metrics, description="every level is present for the stress model")
def hrv_metrics_cover_levels(hrv_metrics: pd.DataFrame) -> AssetCheckResult:
    counts = hrv_metrics["level"].value_counts().reindex(LEVELS, fill_value=0)
    return AssetCheckResult(passed=bool((counts > 0).all()), severity=AssetCheckSeverity.WARN,
                            metadata={"per_level": MetadataValue.json(counts.to_dict())})


@asset(group_name="hrv", compute_kind="catboost")
def hrv_stress_model(context, settings: SettingsResource, mlflow: MlflowResource,
                     hrv_metrics: pd.DataFrame) -> dict:
    """CatBoost on the eight metrics -> low / medium / high, evaluated leave-subjects-out
    (grouped k-fold by subject) against majority-class and logistic-regression baselines;
    registered as ``moodtune-hrv`` and promoted through the gate. Returns the registry pointer."""
    s = settings.get()
    cfg = ModelConfig.from_settings(s)
    n_subjects = int(hrv_metrics["subject"].nunique())
    with mlflow.run(context) as run:
        registry.log_params({"hrv": s.hrv.model_dump(exclude={"condition_levels", "gate_floors"}),
                             "seed": s.project.seed, "recordings": len(hrv_metrics),
                             "subjects": n_subjects, "evaluation": "grouped k-fold by subject (out-of-fold)",
                             "source": ",".join(sorted(hrv_metrics["source"].astype(str).unique()))})
        scores = evaluate(hrv_metrics, cfg, progress=True, log=context.log.info)
        for sc in scores.values():
            registry.log_metrics(sc.as_metrics())
        best = scores["catboost"]
        gate_scores = {"macro_f1": best.macro_f1, "accuracy": best.accuracy,
                       **{f"recall_{lvl}": r for lvl, r in best.recall.items()},
                       "macro_f1_logistic_regression": scores["logistic_regression"].macro_f1,
                       "macro_f1_majority": scores["majority"].macro_f1}
        registry.log_metrics(gate_scores)
        comparison = pd.DataFrame([{"model": name, "macro_f1": sc.macro_f1, "accuracy": sc.accuracy,
                                    **{f"recall_{lvl}": r for lvl, r in sc.recall.items()}}
                                   for name, sc in scores.items()])
        registry.log_dataframe(comparison, "evaluation/baselines.csv")
        oof = hrv_metrics[["recording_id", "subject", "level"]].assign(
            **{f"predicted_{name}": sc.predicted for name, sc in scores.items()})
        registry.log_dataframe(oof, "evaluation/out_of_fold_predictions.csv")
        registry.log_figure(hrv_plots.confusion_matrices(scores), "evaluation/confusion_matrices.png")
        registry.log_figure(hrv_plots.metrics_by_level(hrv_metrics), "data/metrics_by_level.png")

        model = fit(hrv_metrics, cfg)
        registry.log_figure(hrv_plots.feature_importance(model), "model/feature_importance.png")
        x = features(hrv_metrics)
        example = x.head(5)
        signature = infer_signature(example, model.predict(example))
        info = mlflow_catboost.log_model(model, name="model", input_example=example, signature=signature)
        version = registry.register(info.model_uri, MODEL_NAME, scores=gate_scores, settings=s,
                                    tags={"levels": ",".join(LEVELS), "features": ",".join(METRIC_COLUMNS)})
        decision = registry.promote(MODEL_NAME, version.version, gate_scores, s.hrv.gate_floors,
                                    s.hrv.gate_margin, metric="macro_f1", settings=s)
        run_id = run.info.run_id
    context.log.info(f"{MODEL_NAME} v{version.version}: macro-F1 {best.macro_f1:.3f} (logistic "
                     f"{scores['logistic_regression'].macro_f1:.3f}, majority {scores['majority'].macro_f1:.3f}); "
                     f"{'promoted' if decision.promoted else 'not promoted'}: {decision.reason}")
    context.add_output_metadata({
        "model_version": str(version.version),
        "promoted": decision.promoted,
        "gate_reason": decision.reason,
        "macro_f1": best.macro_f1,
        "macro_f1_logistic_regression": scores["logistic_regression"].macro_f1,
        "macro_f1_majority": scores["majority"].macro_f1,
        "recall": MetadataValue.json(best.recall),
        "baselines": MetadataValue.md(comparison.round(3).to_markdown(index=False)),
        "mlflow_run_id": run_id,
    })
    return {"name": MODEL_NAME, "version": str(version.version), "model_uri": f"models:/{MODEL_NAME}/{version.version}",
            "run_id": run_id, "promoted": decision.promoted, "scores": gate_scores}
