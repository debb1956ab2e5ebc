"""The stress model (CatBoost on the eight metrics) and its leave-subjects-out evaluation.

HRV windows of one person are alike, so a random row split puts a subject's windows on both
sides and overstates accuracy. Every score here is out-of-fold over a grouped k-fold by
subject: each recording is predicted by a model that never saw its subject. The CatBoost
model is compared with two baselines on exactly the same folds: the majority class and a
logistic regression (on log band powers, standardised).

Two feature sets: ``absolute`` (the eight metrics) and ``baseline`` (the eight plus the
log-ratios to the person's resting baseline, :mod:`moodtune.hrv.baseline`). The baseline
CatBoost is also trained on a copy of every row with the ratios missing, so the one registered
model still reads a recording given without a baseline (CatBoost routes missing values).

Every function takes the ``hrv.model`` settings (:class:`moodtune.hrv.config.ModelSettings`) and
the project's seed (``project.seed``) as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from moodtune.hrv import baseline as base
from moodtune.hrv.config import ModelSettings
from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS, RATIO_COLUMNS

POWER_COLUMNS = ("VLF", "LF", "HF")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "absolute": METRIC_COLUMNS,
    "baseline": (*METRIC_COLUMNS, *RATIO_COLUMNS),
}


def features(df: pd.DataFrame, feature_set: str = "absolute") -> pd.DataFrame:
    """The model's input: the eight metrics as floats, in :data:`METRIC_COLUMNS` order, and for
    the ``baseline`` set the ``dlog_*`` ratios (from ``baseline_*`` columns, NaN without)."""
    x = df.loc[:, list(METRIC_COLUMNS)].astype(float)
    if feature_set == "baseline":
        ratios = df.loc[:, list(RATIO_COLUMNS)] if set(RATIO_COLUMNS) <= set(df.columns) else base.ratios(df)
        x = pd.concat([x, ratios.astype(float)], axis=1)
    return x


def _fit_one(name: str, cfg: ModelSettings, seed: int, x: pd.DataFrame, y: np.ndarray):
    """Fit candidate ``name``; a baseline CatBoost also learns the rows without their ratios."""
    if name == "catboost" and set(RATIO_COLUMNS) <= set(x.columns):
        blind = x.copy()
        blind.loc[:, list(RATIO_COLUMNS)] = np.nan
        x, y = pd.concat([x, blind], ignore_index=True), np.concatenate([y, y])
    return CANDIDATES[name](cfg, seed).fit(x, y)


def make_catboost(cfg: ModelSettings, seed: int):
    from catboost import CatBoostClassifier

    return CatBoostClassifier(
        iterations=cfg.iterations,
        depth=cfg.depth,
        learning_rate=cfg.learning_rate,
        loss_function="MultiClass",
        class_names=list(LEVELS),
        random_seed=seed,
        thread_count=cfg.thread_count,
        verbose=False,
        allow_writing_files=False,
    )


def _log_powers(x: pd.DataFrame) -> pd.DataFrame:
    x = x.copy()
    for col in POWER_COLUMNS:
        x[col] = np.log1p(x[col].clip(lower=0))
    return x


def make_logistic(cfg: ModelSettings, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(
        FunctionTransformer(_log_powers),
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )


def make_majority(cfg: ModelSettings, seed: int):
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent")


CANDIDATES: dict[str, Callable[[ModelSettings, int], Any]] = {
    "catboost": make_catboost,
    "logistic_regression": make_logistic,
    "majority": make_majority,
}


def predict_levels_proba(model, x: pd.DataFrame) -> np.ndarray:
    """``(n, 3)`` probabilities in :data:`LEVELS` order, whatever the model's class order."""
    proba = np.asarray(model.predict_proba(x), dtype=float)
    classes = [str(c) for c in getattr(model, "classes_", LEVELS)]
    out = np.zeros((len(x), len(LEVELS)))
    for j, cls in enumerate(classes):
        out[:, LEVELS.index(cls)] = proba[:, j]
    return out


@dataclass
class Scores:
    """Out-of-fold scores of one model."""

    name: str
    macro_f1: float
    accuracy: float
    recall: dict[str, float]
    confusion: np.ndarray  # rows: true level, columns: predicted level (LEVELS order)
    predicted: np.ndarray  # out-of-fold predicted level per recording

    def as_metrics(self) -> dict[str, float]:
        return {
            f"{self.name}.macro_f1": self.macro_f1,
            f"{self.name}.accuracy": self.accuracy,
            **{f"{self.name}.recall_{lvl}": r for lvl, r in self.recall.items()},
        }


def grouped_folds(
    subjects: pd.Series | np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped k-fold by subject (no subject on both sides); ``min(n_folds, subjects)`` folds."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(subjects).astype(str)
    n = min(n_folds, len(np.unique(groups)))
    if n < 2:
        raise ValueError("a leave-subjects-out evaluation needs at least 2 subjects")
    splitter = GroupKFold(n_splits=n, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def score(name: str, truth: np.ndarray, predicted: np.ndarray) -> Scores:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    labels = list(LEVELS)
    recall = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return Scores(
        name=name,
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(truth, predicted)),
        recall={lvl: float(r) for lvl, r in zip(labels, recall, strict=True)},
        confusion=confusion_matrix(truth, predicted, labels=labels),
        predicted=np.asarray(predicted),
    )


def evaluate(
    df: pd.DataFrame,
    cfg: ModelSettings,
    seed: int,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    feature_set: str = "absolute",
) -> dict[str, Scores]:
    """Out-of-fold scores of every candidate on the same grouped folds (leave subjects out)."""
    from tqdm.auto import tqdm

    x, y = features(df, feature_set), df["level"].astype(str).to_numpy()
    folds = grouped_folds(df["subject"], cfg.cv_folds, seed)
    predicted = {name: np.empty(len(df), dtype=object) for name in CANDIDATES}
    for k, (train, test) in enumerate(tqdm(folds, desc="leave-subjects-out folds", disable=not progress)):
        for name in CANDIDATES:
            model = _fit_one(name, cfg, seed, x.iloc[train], y[train])
            proba = predict_levels_proba(model, x.iloc[test])
            predicted[name][test] = np.asarray(LEVELS)[proba.argmax(axis=1)]
        if log:
            log(
                f"fold {k + 1}/{len(folds)}: {len(test)} held-out recordings of "
                f"{df['subject'].iloc[test].nunique()} subjects"
            )
    return {name: score(name, y, pred.astype(str)) for name, pred in predicted.items()}


def fit(
    df: pd.DataFrame, cfg: ModelSettings, seed: int, feature_set: str = "absolute", name: str = "catboost"
):
    """Candidate ``name`` (CatBoost by default: what gets registered) fitted on every recording."""
    return _fit_one(name, cfg, seed, features(df, feature_set), df["level"].astype(str).to_numpy())
