"""Genre and GEMS-6 emotion from the musicnn tagger's outputs.

Two parts, both held in :class:`TaggedAudioModel`:

* the zero-shot mapping (``TAG_GENRE_WEIGHTS`` / ``TAG_GEMS_WEIGHTS`` in
  :mod:`moodtune.emotions`): each tag divided by its base rate over the clips the model was
  built on, weighted mean per label; genres normalised to sum 1, emotions ``r / (1 + r)``;
* optionally a genre head: multinomial logistic regression on the standardised tags and
  embeddings, trained on labelled recordings (the real set's training packages and the
  catalogue's labelled training clips), blended with the mapping's genre probabilities
  (``head_weight``, 0.5: equal say, fixed beforehand, not tuned on held-out data); a genre the
  head never saw keeps only the mapping's share;
* optionally an emotion head: one binary logistic regression per GEMS-6 label on the same
  columns, trained on the catalogue's labelled clips (the demo's or Emotify's marks), or on
  real music labelled by the scene its title names (:mod:`moodtune.audio.scenes`: five of the
  six labels; a label the head does not predict keeps the mapping's value). With
  ``emotion_weight`` 1 it replaces the mapping's emotions outright; below 1 it is blended with
  them (``w x head + (1 - w) x mapping``), which pulls every clip's valence-arousal point toward
  the centre (measured in docs/audio.md) but can rank clips better than either alone.

``predict_proba(features) -> DataFrame[GEMS6 + GENRES]``, as the other audio model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodtune.audio.frames import feature_matrix
from moodtune.audio.musicnn.vocab import TAG_COLUMNS, TAGGER_COLUMNS
from moodtune.emotions import GEMS6, GENRES, TAG_GEMS_WEIGHTS, TAG_GENRE_WEIGHTS
from moodtune.errors import ModelNotFound

OUTPUT_COLUMNS: tuple[str, ...] = (*GEMS6, *GENRES)
MODEL_FILE = "tagged_audio_model.json"
KIND = "musicnn-tags"


def _ratio_scores(
    tags: pd.DataFrame, base: Mapping[str, float], table: Mapping[str, Mapping[str, float]]
) -> np.ndarray:
    out = np.zeros((len(tags), len(table)))
    for j, weights in enumerate(table.values()):
        cols = list(weights)
        w = np.array([weights[c] for c in cols])
        ratio = tags[cols].to_numpy(dtype=float) / np.array([max(base[c], 1e-6) for c in cols])
        out[:, j] = ratio @ w / w.sum()
    return out


def base_rates(tags: pd.DataFrame) -> dict[str, float]:
    """Each tag's mean over ``tags`` (the catalogue the model is built on)."""
    return {c: float(tags[c].mean()) for c in TAG_COLUMNS}


def zero_shot(tags: pd.DataFrame, base: Mapping[str, float]) -> pd.DataFrame:
    """The mapping's GEMS6 + GENRES probabilities (see the module docstring)."""
    genre = _ratio_scores(tags, base, TAG_GENRE_WEIGHTS)
    genre = genre / np.maximum(genre.sum(axis=1, keepdims=True), 1e-12)
    emo = _ratio_scores(tags, base, TAG_GEMS_WEIGHTS)
    emo = emo / (1.0 + emo)
    return pd.DataFrame(np.hstack([emo, genre]), index=tags.index, columns=list(OUTPUT_COLUMNS))


def _standardised(x: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    cols = [col for col in TAGGER_COLUMNS if col in x.columns]
    v = x[cols].to_numpy(dtype=float)
    mean, scale = v.mean(axis=0), v.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    return cols, mean, scale, (v - mean) / scale


class LinearHead:
    """A linear model over standardised tagger columns (fitted with scikit-learn, stored as
    numbers): ``softmax`` over exclusive classes (genre) or one ``sigmoid`` per label (emotions)."""

    def __init__(
        self,
        columns: Sequence[str],
        classes: Sequence[str],
        mean,
        scale,
        coef,
        intercept,
        link: str = "softmax",
    ):
        if link not in ("softmax", "sigmoid"):
            raise ValueError(f"link must be softmax or sigmoid, got {link!r}")
        self.columns, self.classes, self.link = list(columns), list(classes), link
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.coef, self.intercept = np.asarray(coef, float), np.asarray(intercept, float)

    @classmethod
    def fit(cls, x: pd.DataFrame, genres: Sequence[str], *, c: float, seed: int) -> LinearHead:
        """A multinomial head over the classes in ``genres`` (one label per row)."""
        from sklearn.linear_model import LogisticRegression

        cols, mean, scale, z = _standardised(x)
        lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
        lr.fit(z, list(genres))
        coef, intercept = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # scikit-learn keeps one row for two classes
            coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2
        return cls(cols, [str(k) for k in lr.classes_], mean, scale, coef, intercept)

    @classmethod
    def fit_labels(cls, x: pd.DataFrame, marks: pd.DataFrame, *, c: float, seed: int) -> LinearHead:
        """One binary head per column of ``marks`` (0/1; each column needs both values)."""
        from sklearn.linear_model import LogisticRegression

        cols, mean, scale, z = _standardised(x)
        coef, intercept = [], []
        for label in marks.columns:
            lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
            lr.fit(z, marks[label].to_numpy(dtype=int))
            coef.append(lr.coef_[0])
            intercept.append(lr.intercept_[0])
        return cls(
            cols, [str(k) for k in marks.columns], mean, scale, np.array(coef), np.array(intercept), "sigmoid"
        )

    def proba(self, x: pd.DataFrame) -> np.ndarray:
        z = ((x[self.columns].to_numpy(dtype=float) - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.link == "sigmoid":
            return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def as_dict(self) -> dict:
        return {
            "columns": self.columns,
            "classes": self.classes,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "link": self.link,
        }


class TaggedAudioModel:
    """Zero-shot tag mapping (+ optional genre and emotion heads) over the tagger's columns."""

    kind = KIND

    def __init__(
        self,
        base: Mapping[str, float],
        head: LinearHead | None = None,
        meta: Mapping[str, Any] | None = None,
        tagger_config: Mapping[str, Any] | None = None,
        head_weight: float = 0.5,
        emotion_head: LinearHead | None = None,
        emotion_weight: float = 1.0,
    ):
        if emotion_head is not None and (
            not emotion_head.classes
            or not set(emotion_head.classes) <= set(GEMS6)
            or len(set(emotion_head.classes)) != len(emotion_head.classes)
        ):
            raise ValueError(
                f"an emotion head predicts some of {list(GEMS6)}, each once; got {emotion_head.classes}"
            )
        if not 0.0 < emotion_weight <= 1.0:
            raise ValueError(f"emotion_weight must be in (0, 1], got {emotion_weight}")
        self.base = dict(base)
        self.head = head
        self.head_weight = float(head_weight)
        self.emotion_head = emotion_head
        self.emotion_weight = float(emotion_weight)
        self.meta = dict(meta or {})
        self.tagger_config = dict(tagger_config or {})
        self.version: str | None = None
        needed = set(TAG_COLUMNS).union(*(h.columns for h in (head, emotion_head) if h is not None))
        self.feature_columns = [c for c in TAGGER_COLUMNS if c in needed]

    def _check(self, features: pd.DataFrame) -> None:
        feature_matrix(features, self.feature_columns, "tag the clips with moodtune.audio.musicnn.tagger")

    def predict_proba(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per row: GEMS-6 probabilities and genre probabilities (sum 1), index kept."""
        self._check(features)
        out = zero_shot(features, self.base)
        if self.head is not None:
            # the head's genres blended with the mapping's; a genre the head never saw keeps
            # only the mapping's (down-weighted) share, so the row still sums to 1
            p = self.head.proba(features)
            head = np.zeros((len(out), len(GENRES)))
            for j, g in enumerate(GENRES):
                if g in self.head.classes:
                    head[:, j] = p[:, self.head.classes.index(g)]
            w = self.head_weight
            out[list(GENRES)] = w * head + (1.0 - w) * out[list(GENRES)].to_numpy()
        if self.emotion_head is not None:
            labels, w = self.emotion_head.classes, self.emotion_weight
            out[labels] = w * self.emotion_head.proba(features) + (1.0 - w) * out[labels].to_numpy()
        return out

    def predict_genre(self, features: pd.DataFrame) -> pd.Series:
        return self.predict_proba(features)[list(GENRES)].idxmax(axis=1)

    def analyze(self, source: str | os.PathLike | bytes, *, name: str | None = None) -> pd.Series:
        """Probabilities for one clip (a path or uploaded bytes); bad audio raises InvalidAudio."""
        from moodtune.audio.musicnn.tagger import tag, tagger_settings

        if not self.tagger_config:
            raise ValueError("this tag model holds no tagger configuration, so it cannot tag a file")
        tagger, limits = tagger_settings(self.tagger_config)
        return self.predict_proba(pd.DataFrame([tag(source, tagger, limits, name=name)])).iloc[0]

    def save(self, directory: str | os.PathLike) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_text(
            json.dumps(
                {
                    "kind": KIND,
                    "outputs": list(OUTPUT_COLUMNS),
                    "base_rates": self.base,
                    "head": self.head.as_dict() if self.head else None,
                    "head_weight": self.head_weight,
                    "emotion_head": self.emotion_head.as_dict() if self.emotion_head else None,
                    "emotion_weight": self.emotion_weight,
                    "meta": self.meta,
                    "tagger_config": self.tagger_config,
                }
            )
        )
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TaggedAudioModel:
        data = json.loads((Path(directory) / MODEL_FILE).read_text())
        if data.get("kind") != KIND or data.get("outputs") != list(OUTPUT_COLUMNS):
            raise ModelNotFound(
                f"{directory} does not hold a {KIND} audio model with outputs {list(OUTPUT_COLUMNS)}"
            )
        head = LinearHead(**data["head"]) if data.get("head") else None
        emotion_head = LinearHead(**data["emotion_head"]) if data.get("emotion_head") else None
        return cls(
            data["base_rates"],
            head,
            data.get("meta"),
            data.get("tagger_config"),
            data.get("head_weight", 0.5),
            emotion_head,
            data.get("emotion_weight", 1.0),
        )
