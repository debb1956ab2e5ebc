"""The ``audio`` group: clips -> features + tags -> a registered genre + emotion model, with the
real-music validation set (Debian game soundtracks) beside it.

Thin adapters over :mod:`moodtune.audio`: each asset calls the domain code, logs to Dagster
and MLflow, and returns a table the IO manager stores under ``data/assets/<asset>``. The model's
training asset, ``audio_emotion_model``, is built from its spec (:mod:`assets.training`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DynamicPartitionsDefinition,
    Failure,
    MetadataValue,
    asset,
    asset_check,
)

from assets import CRITICAL_PATH
from assets.resources import SettingsResource
from moodtune import registry
from moodtune.audio.analysis import analyse
from moodtune.audio.datasets import load_clips
from moodtune.audio.features import feature_config, release_workers
from moodtune.audio.library import analyse_shard, shards
from moodtune.audio.realset import labels_table
from moodtune.audio.scenes import assemble_all
from moodtune.audio.train import label_balance
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ConfigError, ModelNotFound


def _md(df: pd.DataFrame, rows: int = 20) -> MetadataValue:
    return MetadataValue.md(df.head(rows).to_markdown(index=False, floatfmt=".3f"))


@asset(group_name="audio", compute_kind="python", op_tags=CRITICAL_PATH)
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
        raise Failure(
            description=f"no usable audio clips ({len(clipset.bad)} bad files)",
            metadata={"bad_files": MetadataValue.json(clipset.bad)},
        )
    clips = clipset.clips
    balance = label_balance(clips)
    context.add_output_metadata(
        {
            "clips": len(clips),
            "sources": ", ".join(clipset.sources),
            "labelled": int(clips[list(GEMS6)].notna().all(axis=1).sum()),
            "per_genre": MetadataValue.json(
                {str(k): int(v) for k, v in clips["genre"].value_counts().items()}
            ),
            "bad_count": len(clipset.bad),
            "bad_files": MetadataValue.json(clipset.bad),
            "ignored_files": MetadataValue.json(clipset.ignored[:200]),
            "label_balance": _md(balance),
            "preview": _md(clips.drop(columns=["path"]), 10),
        }
    )
    return clips


def _analysed(context, s, clips: pd.DataFrame, what: str):
    result = analyse(
        s,
        dict(zip(clips["track_id"], clips["path"], strict=True)),
        progress=lambda part, done, total: context.log.info(f"{what} {part}: {done}/{total} clips"),
    )
    for track_id, problem in result.failed.items():
        context.log.warning(f"no features for {track_id}: {problem}")
    context.add_output_metadata({**result.metadata(), "failed": MetadataValue.json(result.failed)})
    return result


@asset(group_name="audio", compute_kind="librosa", op_tags=CRITICAL_PATH)
def audio_features(context, settings: SettingsResource, audio_clips: pd.DataFrame) -> pd.DataFrame:
    """Per clip: pre-emphasis + timbral set + tempogram statistics + log-mel summary (one STFT),
    and the musicnn tagger's 100 tags and two 200-d embeddings; cached by file content."""
    s = settings.get()
    result = _analysed(context, s, audio_clips, "audio")
    if result.features.empty:
        raise Failure(
            description="no clip yielded features", metadata={"failed": MetadataValue.json(result.failed)}
        )
    context.add_output_metadata(
        {"feature_config": MetadataValue.json(feature_config(s.audio.features, s.audio.decode))}
    )
    return result.features


@asset(group_name="audio", compute_kind="apt", op_tags=CRITICAL_PATH)
def audio_real_set(context, settings: SettingsResource) -> pd.DataFrame:
    """Real recordings for validation: game soundtracks from Debian packages, one genre per
    package (moodtune/audio/realset.yaml; ``set`` "genre"), and tracks labelled high / low
    arousal or sad by the scene their title names (moodtune/audio/scenes.yaml; ``set``
    "scenes"), fetched once into the package cache. Empty, with the reason, where apt is
    unavailable or the set is disabled: the gate then uses the demo set."""
    real = assemble_all(settings.get(), log=context.log.info)
    if real.unavailable:
        context.log.warning(f"no real-music set: {real.unavailable}; the audio gate uses the demo set alone")
    for problem in real.problems:
        if problem.startswith("no scene set"):
            context.log.warning(f"{problem}: emotion on real music is not measured")
    clips = real.clips
    scenes_only = clips[clips["set"] == "scenes"]
    context.add_output_metadata(
        {
            "clips": len(clips),
            "unavailable": real.unavailable or "",
            "problems": MetadataValue.json(real.problems),
            "per_package": MetadataValue.json(
                {str(k): int(v) for k, v in clips["package"].value_counts().items()}
            ),
            "labels": _md(labels_table().drop(columns=["reason"])),
            "scene_clips": MetadataValue.json(
                {
                    f"{side}.{c}": int(n)
                    for (side, c), n in scenes_only.groupby(["side", "scene"]).size().items()
                }
            ),
        }
    )
    return clips


@asset(group_name="audio", compute_kind="torch", op_tags=CRITICAL_PATH)
def audio_real_features(context, settings: SettingsResource, audio_real_set: pd.DataFrame) -> pd.DataFrame:
    """The real set's features and tags (cached by content hash: a rebuild reads them back)."""
    if audio_real_set.empty:
        return pd.DataFrame(index=pd.Index([], name="track_id"))
    return _analysed(context, settings.get(), audio_real_set, "real set").features


# --- a listener's library at scale: audio.music_dir in stable shards (dynamic partitions) -------

LIBRARY_SHARDS = DynamicPartitionsDefinition(name="audio_library_shards")


@asset(group_name="library", compute_kind="python")
def audio_library_shards(context, settings: SettingsResource) -> pd.DataFrame:
    """The shards of ``audio.music_dir`` (one row per file); the partitions of ``audio_library``
    become exactly its non-empty shards (a backfill of every partition analyses the folder as it
    is now), so an executor fans the shards out (processes, or Celery workers on other machines)."""
    s = settings.get()
    if not s.audio.music_dir:
        context.log.warning("audio.music_dir is not set: no library to analyse")
        return pd.DataFrame(columns=["shard", "file"])
    folder = s.path(s.audio.music_dir)
    try:
        table = shards(folder, s.audio.library_shards)
    except ConfigError as exc:
        raise Failure(description=str(exc)) from exc
    existing = set(context.instance.get_dynamic_partitions(LIBRARY_SHARDS.name))
    new = [k for k in table if k not in existing]
    gone = sorted(existing - set(table))  # emptied, or numbered for another audio.library_shards
    context.instance.add_dynamic_partitions(LIBRARY_SHARDS.name, new)
    for key in gone:
        context.instance.delete_dynamic_partition(LIBRARY_SHARDS.name, key)
    if not table:
        context.log.warning(f"no audio files under {folder}: no library partitions")
    rows = pd.DataFrame([(k, f) for k, files in table.items() for f in files], columns=["shard", "file"])
    context.add_output_metadata(
        {
            "files": len(rows),
            "shards": len(table),
            "new_shards": len(new),
            "removed_shards": MetadataValue.json(gone),
            "music_dir": str(folder),
        }
    )
    return rows


@asset(group_name="library", compute_kind="torch", partitions_def=LIBRARY_SHARDS, deps=[audio_library_shards])
def audio_library(context, settings: SettingsResource) -> pd.DataFrame:
    """One shard of the library: features, tags and the champion's genre + emotion per file
    (cached by content: a re-run analyses only new or changed files); bad files are listed."""
    s = settings.get()
    try:
        model = registry.load(registry.AUDIO, None, s)
    except ModelNotFound as exc:
        model = None
        context.log.warning(f"no predictions: {exc}")
    if not s.audio.music_dir:
        raise Failure(description="audio.music_dir is not set: there is no library to analyse")
    try:
        result = analyse_shard(
            s,
            s.path(s.audio.music_dir),
            context.partition_key,
            model=model,
            progress=lambda part, done, total: context.log.info(f"{part}: {done}/{total} files"),
        )
    except ConfigError as exc:
        raise Failure(description=str(exc)) from exc
    for b in result.bad:
        context.log.warning(f"bad file {b['file']}: {b['problem']}")
    context.add_output_metadata(
        {
            **result.stats,
            "analysed": len(result.table),
            "bad_count": len(result.bad),
            "bad_files": MetadataValue.json(result.bad),
            "model_version": str(getattr(model, "version", "") or ""),
        }
    )
    return result.table


# --- checks -------------------------------------------------------------------------------


@asset_check(asset=audio_features, description="every feature of every clip is a finite float")
def audio_features_have_no_nan(audio_features: pd.DataFrame) -> AssetCheckResult:
    bad_cols = [str(c) for c in audio_features.columns if not pd.api.types.is_float_dtype(audio_features[c])]
    finite = np.isfinite(audio_features.to_numpy(dtype=float))
    nan_cols = [str(c) for c, ok in zip(audio_features.columns, finite.all(axis=0), strict=True) if not ok]
    nan_count = int((~finite).sum())
    return AssetCheckResult(
        passed=nan_count == 0 and not bad_cols and not audio_features.empty,
        metadata={
            "nan_values": nan_count,
            "columns_with_nan": MetadataValue.json(nan_cols),
            "non_float_columns": MetadataValue.json(bad_cols),
            "clips": len(audio_features),
        },
    )


@asset_check(
    asset=audio_clips, description="positives per emotion and clips per genre (warns on empty labels)"
)
def audio_label_balance(audio_clips: pd.DataFrame) -> AssetCheckResult:
    balance = label_balance(audio_clips)
    emotions = balance[balance["kind"] == "emotion"]
    genres = balance[balance["kind"] == "genre"]
    problems = [f"{r.label}: no positives" for r in emotions.itertuples() if r.positives == 0]
    problems += [
        f"{r.label}: all positive" for r in emotions.itertuples() if r.labelled and r.positives == r.labelled
    ]
    problems += [f"genre {r.label}: fewer than 2 clips" for r in genres.itertuples() if r.positives < 2]
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "balance": _md(balance),
            "problems": MetadataValue.json(problems),
            **{f"share.{r.label}": float(r.share) for r in balance.itertuples() if pd.notna(r.share)},
        },
    )


@asset_check(
    asset="audio_emotion_model",  # built from its spec (assets/training.py)
    description="every held-out gate floor is met (demo macro ROC-AUC, or "
    "genre accuracy on the real set's held-out packages)",
)
def audio_model_auc_above_floor(audio_emotion_model: dict) -> AssetCheckResult:
    floors, metrics = audio_emotion_model["floors"], audio_emotion_model["metrics"]
    below = {
        k: metrics.get(k) for k, floor in floors.items() if not metrics.get(k, float("nan")) >= float(floor)
    }
    return AssetCheckResult(
        passed=not below,
        metadata={
            **{k: float(metrics[k]) for k in floors if k in metrics},
            "floors": MetadataValue.json(floors),
            "below": MetadataValue.json(below),
            "version": audio_emotion_model["version"],
            "promoted": audio_emotion_model["promoted"],
            "gate_reason": audio_emotion_model["reason"],
            "genres": ", ".join(GENRES),
        },
    )
