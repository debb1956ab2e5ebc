"""The ``audio`` group: clips -> features -> a registered genre + emotion model.

Thin adapters over :mod:`moodtune.audio`: each asset calls the domain code, logs to Dagster
and MLflow, and returns a table the IO manager stores under ``data/assets/<asset>``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Failure,
    MetadataValue,
    asset,
    asset_check,
)

from assets.resources import MlflowResource, SettingsResource
from moodtune.audio.datasets import load_clips
from moodtune.audio.features import FeatureConfig, extract_batch, release_workers
from moodtune.audio.train import label_balance, train_and_register
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ConfigError


def _md(df: pd.DataFrame, rows: int = 20) -> MetadataValue:
    return MetadataValue.md(df.head(rows).to_markdown(index=False, floatfmt=".3f"))


@asset(group_name="audio", compute_kind="python")
def audio_clips(context, settings: SettingsResource) -> pd.DataFrame:
    """Audio clips with their labels: Emotify (``audio.emotify_dir``) and/or a music folder
    (``audio.music_dir``), else the synthesised demo set. Bad files are reported, not used."""
    s = settings.get()
    try:
        clipset = load_clips(s, log=context.log.info)
    finally:
        release_workers()
    for b in clipset.bad:
        context.log.warning(f"skipped bad audio: {b['problem']}")
    if clipset.clips.empty:
        raise Failure(description=f"no usable audio clips ({len(clipset.bad)} bad files)",
                      metadata={"bad_files": MetadataValue.json(clipset.bad)})
    clips = clipset.clips
    balance = label_balance(clips)
    context.add_output_metadata({
        "clips": len(clips),
        "sources": ", ".join(clipset.sources),
        "labelled": int(clips[list(GEMS6)].notna().all(axis=1).sum()),
        "per_genre": MetadataValue.json({str(k): int(v) for k, v in clips["genre"].value_counts().items()}),
        "bad_count": len(clipset.bad),
        "bad_files": MetadataValue.json(clipset.bad),
        "ignored_files": MetadataValue.json(clipset.ignored[:200]),
        "label_balance": _md(balance),
        "preview": _md(clips.drop(columns=["path"]), 10),
    })
    return clips


@asset(group_name="audio", compute_kind="librosa")
def audio_features(context, settings: SettingsResource, audio_clips: pd.DataFrame) -> pd.DataFrame:
    """Pre-emphasis + timbral set + tempogram statistics + log-mel summary per clip, from one
    STFT per clip; parallel across clips, cached by file content (index: track_id)."""
    s = settings.get()
    config = FeatureConfig.from_settings(s)
    try:
        result = extract_batch(
            dict(zip(audio_clips["track_id"], audio_clips["path"], strict=True)),
            config,
            cache_dir=s.data_path("audio", "feature_cache"),
            n_jobs=s.audio.features.n_jobs,
            progress=lambda done, total: context.log.info(f"audio features: {done}/{total} clips"),
        )
    finally:
        release_workers()
    for track_id, problem in result.failed.items():
        context.log.warning(f"no features for {track_id}: {problem}")
    if result.features.empty:
        raise Failure(description="no clip yielded features", metadata={"failed": MetadataValue.json(result.failed)})
    context.add_output_metadata({
        "clips": len(result.features), "features": result.features.shape[1], "cache_hits": result.cache_hits,
        "computed": result.computed, "failed_count": len(result.failed), "failed": MetadataValue.json(result.failed),
        "seconds": round(result.seconds, 2), "cpu_seconds": round(result.cpu_seconds, 2),
        "clips_per_second": round(result.clips_per_second, 2), "feature_config": MetadataValue.json(config.as_dict()),
    })
    return result.features


@asset(group_name="audio", compute_kind="torch")
def audio_emotion_model(
    context,
    settings: SettingsResource,
    mlflow: MlflowResource,
    audio_clips: pd.DataFrame,
    audio_features: pd.DataFrame,
) -> dict:
    """Multi-label network (6 GEMS emotions + 4 genres) trained on a genre-stratified split,
    evaluated on the held-out clips, registered as ``moodtune-audio`` and gated."""
    s = settings.get()
    with mlflow.run(context):
        try:
            report = train_and_register(s, audio_clips, audio_features, log=context.log.info)
        except ConfigError as exc:
            raise Failure(description=str(exc)) from exc
    ev = report.evaluation
    context.add_output_metadata({
        **report.gate.metadata(),
        "macro_auc": float(ev.metrics["macro_auc"]),
        "macro_f1": float(ev.metrics["macro_f1"]),
        "genre_accuracy": float(ev.metrics["genre_accuracy"]),
        "per_label": _md(ev.per_label),
        "genre_confusion": MetadataValue.md(ev.confusion.to_markdown()),
        "mlflow_run_id": report.gate.run_id or "",
    })
    return report.summary()


# --- checks -------------------------------------------------------------------------------


@asset_check(asset=audio_features, description="every feature of every clip is a finite float")
def audio_features_have_no_nan(audio_features: pd.DataFrame) -> AssetCheckResult:
    bad_cols = [str(c) for c in audio_features.columns if not pd.api.types.is_float_dtype(audio_features[c])]
    finite = np.isfinite(audio_features.to_numpy(dtype=float))
    nan_cols = [str(c) for c, ok in zip(audio_features.columns, finite.all(axis=0), strict=True) if not ok]
    nan_count = int((~finite).sum())
    return AssetCheckResult(
        passed=nan_count == 0 and not bad_cols and not audio_features.empty,
        metadata={"nan_values": nan_count, "columns_with_nan": MetadataValue.json(nan_cols),
                  "non_float_columns": MetadataValue.json(bad_cols), "clips": len(audio_features)},
    )


@asset_check(asset=audio_clips, description="positives per emotion and clips per genre (warns on empty labels)")
def audio_label_balance(audio_clips: pd.DataFrame) -> AssetCheckResult:
    balance = label_balance(audio_clips)
    emotions = balance[balance["kind"] == "emotion"]
    genres = balance[balance["kind"] == "genre"]
    problems = [f"{r.label}: no positives" for r in emotions.itertuples() if r.positives == 0]
    problems += [f"{r.label}: all positive" for r in emotions.itertuples() if r.labelled and r.positives == r.labelled]
    problems += [f"genre {r.label}: fewer than 2 clips" for r in genres.itertuples() if r.positives < 2]
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        metadata={"balance": _md(balance), "problems": MetadataValue.json(problems),
                  **{f"share.{r.label}": float(r.share) for r in balance.itertuples() if pd.notna(r.share)}},
    )


@asset_check(asset=audio_emotion_model, description="held-out macro ROC-AUC is above the gate's floor")
def audio_model_auc_above_floor(audio_emotion_model: dict) -> AssetCheckResult:
    floor = float(audio_emotion_model["floors"].get("macro_auc", 0.5))
    auc = float(audio_emotion_model["metrics"]["macro_auc"])
    return AssetCheckResult(
        passed=auc >= floor,
        metadata={"macro_auc": auc, "floor": floor, "version": audio_emotion_model["version"],
                  "promoted": audio_emotion_model["promoted"], "gate_reason": audio_emotion_model["reason"],
                  "genres": ", ".join(GENRES)},
    )
