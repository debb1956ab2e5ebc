"""The ``catalog`` group: every track the service can recommend, as the champion models hear it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, Failure, MetadataValue, asset, asset_check

from assets import CRITICAL_PATH, FETCH_FIRST
from assets.resources import SettingsResource
from moodtune import registry
from moodtune.audio.analysis import analyse
from moodtune.audio.catalog_source import choose_catalog
from moodtune.audio.features import release_workers
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ConfigError
from moodtune.serving.catalog import build_catalog, catalog_dir, label_agreement, save_catalog


@asset(group_name="catalog", compute_kind="apt", op_tags=FETCH_FIRST)
def catalog_tracks(context, settings: SettingsResource) -> pd.DataFrame:
    """The songs the service recommends from (``audio.catalog.source``): real, freely licensed
    music from Debian packages by default, each credited (title, artist, package, version,
    licence, duration); the listener's own folder; or the synthesised demo clips, saying why."""
    try:
        choice = choose_catalog(settings.get(), log=context.log.info)
    except ConfigError as exc:
        raise Failure(description=str(exc)) from exc
    finally:
        release_workers()
    context.log.info(choice.summary())
    for b in choice.bad:
        context.log.warning(f"left out: {b.get('path', '')} {b['problem']}".strip())
    if choice.tracks.empty:
        raise Failure(
            description=f"no playable track for the catalog ({choice.reason})",
            metadata={"left_out": MetadataValue.json(choice.bad)},
        )
    tracks = choice.tracks.copy()
    tracks.attrs["catalog_source"] = choice.summary()  # travels with the table to the catalog's catalog.json
    context.add_output_metadata(
        {
            "tracks": len(tracks),
            "source": choice.source,
            "why": choice.reason,
            "packages": MetadataValue.md(
                pd.DataFrame(choice.packages).to_markdown(index=False) if choice.packages else "-"
            ),
            "labelled_genres": MetadataValue.json(
                {str(k): int(v) for k, v in tracks["genre"].value_counts().items()}
            ),
            "hours": round(float(pd.to_numeric(tracks.get("duration"), errors="coerce").sum()) / 3600, 2)
            if "duration" in tracks
            else 0.0,
            "left_out": MetadataValue.json(choice.bad[:200]),
            "preview": MetadataValue.md(
                tracks[["title", "artist", "package", "licence", "duration"]]
                .head(12)
                .to_markdown(index=False)
            ),
        }
    )
    return tracks


@asset(group_name="catalog", compute_kind="librosa", op_tags=CRITICAL_PATH)
def catalog_features(context, settings: SettingsResource, catalog_tracks: pd.DataFrame) -> pd.DataFrame:
    """The catalog's features and tags (the first ``audio.decode.max_seconds`` of each track), cached by
    file content: a re-run analyses only new or changed files."""
    result = analyse(
        settings.get(),
        dict(zip(catalog_tracks["track_id"], catalog_tracks["path"], strict=True)),
        progress=lambda part, done, total: context.log.info(f"catalog {part}: {done}/{total} tracks"),
    )
    for track_id, problem in result.failed.items():
        context.log.warning(f"no features for {track_id}: {problem}")
    context.add_output_metadata({**result.metadata(), "failed": MetadataValue.json(result.failed)})
    if result.features.empty:
        raise Failure(
            description="no catalog track yielded features",
            metadata={"failed": MetadataValue.json(result.failed)},
        )
    return result.features


@asset(group_name="catalog", compute_kind="python", deps=["audio_emotion_model"])
def catalog(
    context,
    settings: SettingsResource,
    catalog_tracks: pd.DataFrame,
    catalog_features: pd.DataFrame,
    track_text_emotions: pd.DataFrame,
) -> pd.DataFrame:
    """Every catalog track with the champion audio model's genre and emotion profile and, where
    the track has texts, its text emotion; written to ``<data>/catalog/`` for the service.
    Tracks without features (listed in catalog_features' metadata) are left out."""
    s = settings.get()
    audio = registry.load_version(registry.AUDIO, None, s)
    tracks = catalog_tracks[catalog_tracks["track_id"].astype(str).isin(catalog_features.index.astype(str))]
    features = catalog_features.loc[tracks["track_id"].astype(str)]
    table, meta = build_catalog(
        tracks,
        audio.obj.predict_proba(features),
        track_text_emotions,
        model_versions={registry.AUDIO: audio.version},
    )
    sources = table["source"].value_counts().to_dict()
    meta["sources"] = {str(k): int(v) for k, v in sources.items()}
    meta["built_from"] = catalog_tracks.attrs.get("catalog_source", "")
    path = save_catalog(table, meta, catalog_dir(s))
    context.log.info(
        f"catalog: {len(table)} tracks ({meta['tracks_with_text']} with texts; {meta['sources']}) -> {path}"
    )
    preview = table[["track_id", "title", "genre", "emotion", "valence", "arousal", "text_emotion"]].head(15)
    context.add_output_metadata(
        {
            "tracks": len(table),
            "tracks_with_text": meta["tracks_with_text"],
            "path": MetadataValue.path(str(path)),
            "sources": MetadataValue.json(meta["sources"]),
            "built_from": meta["built_from"],
            "model_versions": MetadataValue.json(meta["model_versions"]),
            "text_granularity": str(meta["text_granularity"]),
            "genres": MetadataValue.json(meta["genres"]),
            "emotions": MetadataValue.json(meta["emotions"]),
            "genre_matches_label": label_agreement(table),
            "preview": MetadataValue.md(preview.round(3).to_markdown(index=False)),
        }
    )
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
        metadata={
            "tracks": len(catalog),
            "finite": finite,
            "emotions_in_0_1": in_range,
            "genre_sum_max_error": float(np.abs(sums - 1).max()) if len(sums) else 0.0,
            "unique_ids": bool(catalog["track_id"].is_unique),
        },
    )
