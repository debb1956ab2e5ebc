"""Train, evaluate, log, register and gate the stress model: the one path of ``moodtune-hrv``.

The subjects are split once, by a stable hash of their id (:func:`gate_split`): the **gate
subjects** are held out of every training run, so every version, the champion included, is
scored on people it never saw. On the other, **development** subjects:

1. each feature set (``absolute``; ``baseline`` when every recording has its subject's resting
   baseline) is scored leave-subjects-out (grouped k-fold) for CatBoost and both baselines;
2. the feature set whose CatBoost scores the higher leave-subjects-out macro-F1 is chosen (the
   choice never looks at the gate subjects);
3. every candidate is fitted on all development subjects with that set and scored on the gate
   subjects; CatBoost's macro-F1 there is the gate metric, and the champion is re-scored on the
   same gate subjects through :func:`moodtune.registry.register_and_gate`.

Logs into the active MLflow run (params, metrics, the comparison tables and plots, the model).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from moodtune import registry
from moodtune.hrv import baseline as base
from moodtune.hrv import plots
from moodtune.hrv.config import ModelSettings
from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS
from moodtune.hrv.model import CANDIDATES, FEATURE_SETS, Scores, evaluate, features, fit, score
from moodtune.settings import Settings


def _report(
    gate: registry.GateReport,
    feature_set: str,
    cv: dict[str, dict[str, Scores]],
    holdout: dict[str, Scores],
    gate_subjects: list[str],
    scores: dict[str, float],
) -> registry.ModelReport:
    """The gate's report: the registry pointer as the stored output (no run id: the same build
    stores the same bytes), the development and gate-subject scores as metadata. ``extra`` holds
    ``cv`` (feature set -> model -> leave-subjects-out scores on the development subjects),
    ``holdout`` (model -> scores on the gate subjects, the chosen feature set) and ``gate_subjects``."""
    cv_f1 = {fs: round(sc["catboost"].macro_f1, 4) for fs, sc in cv.items()}
    metadata = {
        "feature_set": feature_set,
        "gate_subjects": len(gate_subjects),
        **{f"macro_f1_cv_{fs}": v for fs, v in cv_f1.items()},
        **{f"macro_f1_{name}": round(sc.macro_f1, 4) for name, sc in holdout.items()},
        "recall": {lvl: round(r, 4) for lvl, r in holdout["catboost"].recall.items()},
    }
    output = {
        "name": gate.name,
        "version": gate.version,
        "model_uri": f"models:/{gate.name}/{gate.version}",
        "promoted": gate.promoted,
        "scores": scores,
        "feature_set": feature_set,
    }
    extra = {"cv": cv, "holdout": holdout, "gate_subjects": gate_subjects}
    return registry.ModelReport(gate, output, metadata, extra)


def gate_split(subjects: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the rows of the gate subjects: the ``fraction`` of subjects (at least one,
    never all) that rank first by a hash of ``seed:subject`` — the same people on every run."""
    ids = sorted(set(subjects.astype(str)))
    if len(ids) < 3:
        raise ValueError("the HRV evaluation needs at least 3 subjects (2 to cross-validate, 1 held out)")
    rank = sorted(ids, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    k = min(max(1, round(fraction * len(ids))), len(ids) - 2)
    return subjects.astype(str).isin(rank[:k]).to_numpy()


def _holdout_scores(
    dev: pd.DataFrame, held: pd.DataFrame, cfg: ModelSettings, seed: int, feature_set: str
) -> dict[str, Scores]:
    truth = held["level"].astype(str).to_numpy()
    out = {}
    for name in CANDIDATES:
        model = fit(dev, cfg, seed, feature_set, name)
        proba = np.asarray(model.predict_proba(features(held, feature_set)))
        classes = [str(c) for c in model.classes_]
        out[name] = score(name, truth, np.asarray(classes)[proba.argmax(axis=1)])
    return out


def _rescore(held: pd.DataFrame) -> Callable[[Any], registry.Evaluation]:
    """Score a loaded champion (a StressReader) on the gate subjects, whatever its features."""
    frame = pd.concat([held[list(METRIC_COLUMNS)], base.ratios(held)], axis=1)
    truth = held["level"].astype(str).to_numpy()

    def rescore(reader) -> registry.Evaluation:
        predicted = np.asarray(LEVELS)[reader.predict_proba(frame).argmax(axis=1)]
        s = score("champion", truth, predicted)
        return registry.Evaluation({"macro_f1": s.macro_f1, "accuracy": s.accuracy})

    return rescore


def train_and_register(
    settings: Settings, table: pd.DataFrame, log: Callable[[str], None] = lambda _msg: None
) -> registry.ModelReport:
    """Evaluate, choose, fit, log, register and gate the stress model on a metrics table
    (the ``hrv_metrics`` asset's). Call inside an MLflow run."""
    from moodtune.hrv.package import log_model

    hrv, seed = settings.hrv, settings.project.seed
    cfg = hrv.model
    held_mask = gate_split(table["subject"], cfg.gate_subject_fraction, seed)
    dev, held = table[~held_mask].reset_index(drop=True), table[held_mask].reset_index(drop=True)
    sets = ["absolute", "baseline"] if base.has_baseline(table) else ["absolute"]
    registry.log_params(
        {
            "hrv": hrv.model_dump(exclude={"data": {"condition_levels"}, "gate_floors": True}),
            "seed": seed,
            "recordings": len(table),
            "subjects": int(table["subject"].nunique()),
            "gate_subjects": int(held["subject"].nunique()),
            "evaluation": "grouped k-fold by subject (out-of-fold) on the development subjects; "
            "gate on held-out subjects",
            "feature_sets": ",".join(sets),
            "source": ",".join(sorted(table["source"].astype(str).unique())),
        }
    )
    cv = {fs: evaluate(dev, cfg, seed, progress=True, log=log, feature_set=fs) for fs in sets}
    for fs, scores in cv.items():
        registry.log_metrics(
            {f"cv.{fs}.{k}": v for sc in scores.values() for k, v in sc.as_metrics().items()}
        )
        registry.log_metrics({f"macro_f1_{fs}": scores["catboost"].macro_f1})
    chosen = max(sets, key=lambda fs: cv[fs]["catboost"].macro_f1)
    holdout = _holdout_scores(dev, held, cfg, seed, chosen)
    for sc in holdout.values():
        registry.log_metrics(sc.as_metrics())
    best = holdout["catboost"]
    gate_scores = {
        "macro_f1": best.macro_f1,
        "accuracy": best.accuracy,
        **{f"recall_{lvl}": r for lvl, r in best.recall.items()},
        "macro_f1_logistic_regression": holdout["logistic_regression"].macro_f1,
        "macro_f1_majority": holdout["majority"].macro_f1,
    }
    registry.log_metrics(gate_scores)
    log(
        "leave-subjects-out macro-F1: "
        + ", ".join(f"{fs} {cv[fs]['catboost'].macro_f1:.3f}" for fs in sets)
        + f"; {chosen} chosen; gate subjects: macro-F1 {best.macro_f1:.3f}"
    )
    _log_tables(table, dev, held, cv, holdout, chosen)

    model = fit(dev, cfg, seed, chosen)
    registry.log_figure(plots.feature_importance(model), "model/feature_importance.png")
    example = features(dev, chosen).head(5)
    model_uri = log_model(model, example, settings)
    gate = registry.register_and_gate(
        registry.Candidate(
            name=registry.HRV,
            model_uri=model_uri,
            evaluation=registry.Evaluation(gate_scores),
            metric="macro_f1",
            floors=dict(hrv.gate_floors),
            margin=hrv.gate_margin,
            rescore=_rescore(held),
            tags={
                "levels": ",".join(LEVELS),
                "features": ",".join(FEATURE_SETS[chosen]),
                "feature_set": chosen,
            },
        ),
        settings,
        log=log,
    )
    return _report(gate, chosen, cv, holdout, sorted(held["subject"].astype(str).unique()), gate_scores)


def _log_tables(
    table: pd.DataFrame,
    dev: pd.DataFrame,
    held: pd.DataFrame,
    cv: dict[str, dict[str, Scores]],
    holdout: dict[str, Scores],
    chosen: str,
) -> None:
    rows = [
        {
            "feature_set": fs,
            "model": name,
            "evaluation": "leave-subjects-out (development)",
            "macro_f1": sc.macro_f1,
            "accuracy": sc.accuracy,
            **{f"recall_{k}": v for k, v in sc.recall.items()},
        }
        for fs, scores in cv.items()
        for name, sc in scores.items()
    ]
    rows += [
        {
            "feature_set": chosen,
            "model": name,
            "evaluation": "gate subjects (held out)",
            "macro_f1": sc.macro_f1,
            "accuracy": sc.accuracy,
            **{f"recall_{k}": v for k, v in sc.recall.items()},
        }
        for name, sc in holdout.items()
    ]
    registry.log_dataframe(pd.DataFrame(rows), "evaluation/baselines.csv")
    oof = dev[["recording_id", "subject", "level"]].assign(
        **{f"predicted_{fs}_{name}": sc.predicted for fs, scores in cv.items() for name, sc in scores.items()}
    )
    registry.log_dataframe(oof, "evaluation/out_of_fold_predictions.csv")
    registry.log_dataframe(
        held[["recording_id", "subject", "level"]].assign(
            **{f"predicted_{name}": sc.predicted for name, sc in holdout.items()}
        ),
        "evaluation/gate_predictions.csv",
    )
    registry.log_figure(
        plots.confusion_matrices(
            holdout, f"the {held['subject'].nunique()} gate subjects (held out, {chosen} features)"
        ),
        "evaluation/confusion_matrices.png",
    )
    registry.log_figure(plots.metrics_by_level(table), "data/metrics_by_level.png")
    mlflow.set_tag("hrv.feature_set", chosen)
