"""The ``catalog`` group: every track the service can recommend, as the champion models hear it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, MetadataValue, asset, asset_check

from assets.resources import SettingsResource
from moodtune import registry
from moodtune.emotions import GEMS6, GENRES
from moodtune.serving.catalog import build_catalog, catalog_dir, label_agreement, save_catalog


@asset(group_name="catalog", compute_kind="python", deps=["audio_emotion_model"])
def catalog(context, settings: SettingsResource, audio_clips: pd.DataFrame, audio_features: pd.DataFrame,
            track_text_emotions: pd.DataFrame) -> pd.DataFrame:
    """Every clip with the champion audio model's genre and emotion profile and, where the
    track has texts, its text emotion; written to ``<data>/catalog/`` for the service."""
    s = settings.get()
    audio = registry.load_version(registry.AUDIO, None, s)
    features = audio_features.loc[[t for t in audio_clips["track_id"].astype(str) if t in audio_features.index]]
    table, meta = build_catalog(audio_clips, audio.obj.predict_proba(features), track_text_emotions,
                                model_versions={registry.AUDIO: audio.version})
    path = save_catalog(table, meta, catalog_dir(s))
    context.log.info(f"catalog: {len(table)} tracks ({meta['tracks_with_text']} with texts) -> {path}")
    preview = table[["track_id", "title", "genre", "emotion", "valence", "arousal", "text_emotion"]].head(15)
    context.add_output_metadata({
        "tracks": len(table), "tracks_with_text": meta["tracks_with_text"], "path": MetadataValue.path(str(path)),
        "model_versions": MetadataValue.json(meta["model_versions"]), "text_granularity": str(meta["text_granularity"]),
        "genres": MetadataValue.json(meta["genres"]), "emotions": MetadataValue.json(meta["emotions"]),
        "genre_matches_label": label_agreement(table),
        "preview": MetadataValue.md(preview.round(3).to_markdown(index=False)),
    })
    return table


@asset_check(asset=catalog, description="every track has a finite profile; genre probabilities sum to 1")
def catalog_profiles_valid(catalog: pd.DataFrame) -> AssetCheckResult:
    emotions = catalog[list(GEMS6)].to_numpy(dtype=float)
    genres = catalog[list(GENRES)].to_numpy(dtype=float)
    finite = bool(np.isfinite(emotions).all() and np.isfinite(genres).all())
    in_range = bool(((emotions >= 0) & (emotions <= 1)).all())
    sums = genres.sum(axis=1)
    return AssetCheckResult(
        passed=finite and in_range and bool(np.allclose(sums, 1.0, atol=1e-4)) and len(catalog) > 0,
        metadata={"tracks": len(catalog), "finite": finite, "emotions_in_0_1": in_range,
                  "genre_sum_max_error": float(np.abs(sums - 1).max()) if len(sums) else 0.0,
                  "unique_ids": bool(catalog["track_id"].is_unique)},
    )
