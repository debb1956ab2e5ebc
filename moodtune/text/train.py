"""The text family's steps, framework-free: each Dagster asset of the ``text`` group calls one.

* :func:`describe_lexicon`: what the lexicon holds (params, metrics, problems);
* :func:`learned_tables`: the learned layer and the ambiguous words from the validation corpus's
  tuning split, stored under the data dir (:mod:`moodtune.text.tables`); every later step reads
  text with them, and :func:`train_and_register` logs them with the index's run;
* :func:`read_track_texts`: the NetEase-style database, or demo texts;
* :func:`annotate`: each track's emotion and valence-arousal point (seed B's like weights);
* :func:`train_and_register`: build the index, evaluate it on held-out query texts, log,
  register ``moodtune-text-index`` and gate it through :func:`moodtune.registry.register_and_gate`
  (the champion is re-scored on the same queries; per-query precision@k decides).

Each logs into the active MLflow run (the asset's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from moodtune import registry
from moodtune.text.analysis import AnalyzerOptions, analyzer_for
from moodtune.text.index import EmotionIndex, dominant_codes, precision_at_k, query_label_of
from moodtune.text.lexicon import Lexicon
from moodtune.text.package import log_model
from moodtune.text.sources import (
    DemoTextWriter,
    demo_per_cell,
    demo_queries,
    demo_track_texts,
    load_tracks_db,
)
from moodtune.text.tables import TextTables, save_tables, tables_path
from moodtune.text.tracks import annotate_tracks, text_emotion_table, tracks_from_frame
from moodtune.text.validation import make_tables

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


def demo_writer(lexicon: Lexicon, settings, tables: TextTables) -> DemoTextWriter:
    analyzer = analyzer_for(lexicon, AnalyzerOptions.from_settings(settings.text, tables))
    return DemoTextWriter(lexicon, freq=analyzer.tokenizer.FREQ, noise=settings.text.demo_noise)


# --- the lexicon ---------------------------------------------------------------------------
def describe_lexicon(lexicon: Lexicon, settings, log: Log = _quiet) -> dict[str, Any]:
    """Log the lexicon's size per category and its problems; returns the numbers."""
    entries = lexicon.entries
    multi_sense = int((entries.groupby("word")["sense"].nunique() > 1).sum())
    for line, problem in lexicon.problems[:20]:
        log(f"lexicon line {line}: {problem}" if line else f"lexicon: {problem}")
    per_category = lexicon.summary()
    stats = {
        "words": len(lexicon),
        "entries": len(entries),
        "auxiliary_entries": int(entries["auxiliary"].sum()),
        "multi_sense_words": multi_sense,
        "problems": len(lexicon.problems),
    }
    registry.log_params(
        {
            "source": lexicon.source,
            "granularity": lexicon.granularity,
            "default_intensity": settings.text.default_intensity,
        },
        prefix="text.",
    )
    registry.log_metrics({**stats, **{f"words.{c}": n for c, n in per_category.items()}})
    return {**stats, "words_per_category": per_category}


# --- the learned text tables ----------------------------------------------------------------
def learned_tables(lexicon: Lexicon, settings, log: Log = _quiet) -> tuple[TextTables, Path]:
    """The learned layer and the ambiguous words, made from the validation corpus's tuning split
    with the numbers of ``text.validation`` (:func:`moodtune.text.validation.make_tables`) and
    stored at :func:`moodtune.text.tables.tables_path`; returns them and the file."""
    started = time.perf_counter()
    tables = make_tables(lexicon, settings)
    path = save_tables(tables, tables_path(settings))
    made = tables.made
    log(
        f"learned text tables: {len(tables.learned)} learned words, {len(tables.ambiguous)} ambiguous words "
        f"from {made['texts']} tuning reviews in {time.perf_counter() - started:.0f} s -> {path}"
    )
    return tables, path


def log_tables(tables: TextTables) -> None:
    """The tables and how they were made, in the active run (the text index's)."""
    registry.log_params({"digest": tables.digest, **tables.made}, prefix="text.tables.")
    registry.log_text(tables.to_json(), "text/learned_tables.json")


# --- the track texts ----------------------------------------------------------------------
def read_track_texts(
    lexicon: Lexicon, settings, tables: TextTables
) -> tuple[pd.DataFrame, dict[str, int], str]:
    """``(texts, stats, source)``: the configured database, else demo texts for the demo catalog."""
    t = settings.text
    if t.tracks_db:
        df, stats = load_tracks_db(t.tracks_db)
        source = "database"
    else:
        n_per_cell = demo_per_cell(settings)
        df = demo_track_texts(
            demo_writer(lexicon, settings, tables),
            n_per_cell,
            settings.project.seed,
            comments_per_track=t.demo_comments_per_track,
            lyric_lines=t.demo_lyric_lines,
        )
        stats = {
            "tracks": len(df),
            "comments": int(df["comments"].map(len).sum()),
            "demo_per_cell": n_per_cell,
        }
        source = "demo"
    registry.log_params({"source": source, "tracks_db": bool(t.tracks_db)}, prefix="text.")
    registry.log_metrics(stats)
    return df, stats, source


# --- track emotions -----------------------------------------------------------------------
@dataclass(frozen=True)
class Annotation:
    table: pd.DataFrame
    tracks: int
    found: int
    seconds: float
    means: dict[str, float]

    def metadata(self) -> dict[str, Any]:
        return {
            "tracks": self.tracks,
            "tracks_with_emotion": self.found,
            "tracks_without_emotion": self.tracks - self.found,
            "tracks_per_second": round(self.tracks / max(self.seconds, 1e-9), 1),
            "tracks_with_va": int(self.table["valence"].notna().sum()) if "valence" in self.table else 0,
        }


def annotate(
    lexicon: Lexicon, texts: pd.DataFrame, settings, tables: TextTables, log: Log = _quiet
) -> Annotation:
    """Each track's emotion from its name, lyrics and comments (seed B), across cores."""
    t = settings.text
    analyzer = analyzer_for(lexicon, AnalyzerOptions.from_settings(settings.text, tables))
    n = len(texts)
    step, last = max(1, n // 10), [0]

    def progress(done: int, total: int | None) -> None:
        if done - last[0] >= step or done == total:
            last[0] = done
            log(f"track emotions: {done}/{total} tracks")

    started = time.perf_counter()
    raw, keywords, va = annotate_tracks(
        analyzer,
        tracks_from_frame(texts),
        total=n,
        batch_size=t.batch_size,
        workers=t.workers,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    table = text_emotion_table(texts, raw, keywords, lexicon.codes, lexicon.granularity, va)
    found = int(table["found"].sum())
    means = table.loc[table["found"], list(lexicon.codes)].mean().fillna(0.0)
    registry.log_params(
        {
            "top_keywords": t.top_keywords,
            "negators": ",".join(t.negators),
            "granularity": lexicon.granularity,
            "workers": t.workers,
            "batch_size": t.batch_size,
            **{f"rules.{k}": v for k, v in t.rules.model_dump().items()},
        },
        prefix="text.",
    )
    registry.log_metrics(
        {
            "tracks": n,
            "tracks_with_emotion": found,
            "tracks_without_emotion": n - found,
            "tracks_per_second": n / max(seconds, 1e-9),
            **{f"mean.{c}": float(v) for c, v in means.items()},
        }
    )
    registry.log_dataframe(table.head(500), "text/track_text_emotions_head.csv")
    if n - found:
        log(f"{n - found} of {n} tracks have no emotion words: left out of the index")
    return Annotation(table, n, found, seconds, {c: round(float(v), 4) for c, v in means.items()})


# --- the index: build, evaluate, register, gate --------------------------------------------
def _report(
    index: EmotionIndex, scores: dict[str, Any], queries: pd.DataFrame, gate: registry.GateReport
) -> registry.ModelReport:
    """The gate's report: the registry pointer as the stored output (the index itself lives in
    MLflow; no run id: the same build stores the same bytes), the held-out scores as metadata;
    ``extra`` holds the ``index``, its ``scores`` and the held-out ``queries``."""
    output = {
        "name": gate.name,
        "version": gate.version,
        "model_uri": f"models:/{gate.name}/{gate.version}",
        "promoted": gate.promoted,
        "scores": gate.scores,
        "granularity": index.granularity,
        "tracks": len(index),
        "space": index.space,
    }
    metadata = {
        "tracks": len(index),
        "granularity": index.granularity,
        "space": index.space,
        "precision_at_k": float(scores["precision_at_k"]),
        "baseline_random_precision_at_k": float(scores["baseline_random_precision_at_k"]),
        "baseline_popularity_precision_at_k": float(scores["baseline_popularity_precision_at_k"]),
        "per_label": scores["per_label"],
        "ground_truth": str(scores["ground_truth"]),
        "model_version": gate.version,
        "gate_decision": "promoted" if gate.promoted else "rejected",
        "queries": registry.Markdown(queries.head(12).to_markdown(index=False)),
    }
    return registry.ModelReport(
        gate, output, metadata, {"index": index, "scores": scores, "queries": queries}
    )


def track_labels(index: EmotionIndex, table: pd.DataFrame) -> tuple[dict[str, str], bool]:
    """Ground-truth labels of the demo (primary emotion), else each track's dominant code."""
    if "primary_emotion" in table.columns and table["primary_emotion"].notna().all():
        return dict(zip(table["track_id"].astype(str), table["primary_emotion"], strict=True)), True
    return dict(
        zip(index.tracks["track_id"], dominant_codes(index.emotion_points, index.codes), strict=True)
    ), False


def evaluate(index: EmotionIndex, table: pd.DataFrame, queries: pd.DataFrame, k: int) -> dict[str, Any]:
    """Held-out precision@k of the query texts (with per-query values and the baselines)."""
    labels, ground_truth = track_labels(index, table)
    query_labels = (
        None if ground_truth else [query_label_of(e, index.granularity) for e in queries["emotion"]]
    )
    result = precision_at_k(index, queries, labels, k, query_labels=query_labels)
    result["ground_truth"] = (
        "demo primary emotion" if ground_truth else "dominant category (consistency check)"
    )
    return result


def _evaluation(scores: dict[str, Any]) -> registry.Evaluation:
    gate_scores = {key: float(v) for key, v in scores.items() if key.endswith("precision_at_k")}
    return registry.Evaluation(gate_scores, per_item=list(scores["per_query"]))


def train_and_register(
    settings, lexicon: Lexicon, table: pd.DataFrame, tables: TextTables, log: Log = _quiet
) -> registry.ModelReport:
    """Build the index over ``table`` (``track_text_emotions``), reading text with the learned
    ``tables`` (which the pickled index carries into the registry), evaluate it on held-out
    query texts, log params/metrics/artifacts and the tables, log the pyfunc, register and gate it."""
    t = settings.text
    index = EmotionIndex.from_table(table, lexicon, t, tables=tables)
    log_tables(tables)
    queries = demo_queries(
        demo_writer(lexicon, settings, tables), t.eval_queries_per_emotion, settings.project.seed + 1
    )
    scores = evaluate(index, table, queries, t.eval_k)
    evaluation = _evaluation(scores)
    log(
        f"held-out precision@{scores['k']}: {scores['precision_at_k']:.3f} "
        f"(random {scores['baseline_random_precision_at_k']:.3f}, popularity {scores['baseline_popularity_precision_at_k']:.3f})"
    )
    registry.log_params(
        {
            "index_norm": t.index_norm,
            "index_algorithm": t.index_algorithm,
            "leaf_size": t.leaf_size,
            "eval_k": t.eval_k,
            "granularity": index.granularity,
            "index_space": index.space,
            "va_weight": t.va_weight,
            "eval_queries_per_emotion": t.eval_queries_per_emotion,
            "ground_truth": scores["ground_truth"],
        },
        prefix="text.",
    )
    registry.log_metrics(
        {
            **evaluation.scores,
            "tracks": len(index),
            "queries": scores["queries"],
            "queries_without_emotion": scores["queries_without_emotion"],
            **{f"precision_at_k.{lab}": v for lab, v in scores["per_label"].items()},
        }
    )
    registry.log_dataframe(queries.assign(precision_at_k=scores["per_query"]), "text/heldout_queries.csv")
    registry.log_json({k: v for k, v in scores.items() if k != "per_query"}, "text/heldout_scores.json")
    model_uri = log_model(index, t.recommend_k)
    gate = registry.register_and_gate(
        registry.Candidate(
            name=registry.TEXT,
            model_uri=model_uri,
            evaluation=evaluation,
            metric="precision_at_k",
            floors=dict(t.gate_floors),
            margin=t.gate_margin,
            rescore=lambda champion: _evaluation(evaluate(champion, table, queries, t.eval_k)),
            tags={"granularity": index.granularity, "space": index.space, "learned_tables": tables.digest},
        ),
        settings,
        log=log,
    )
    return _report(index, scores, queries, gate)
