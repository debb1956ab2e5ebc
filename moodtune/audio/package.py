"""``moodtune-audio`` as an MLflow model (:mod:`moodtune.registry.packaging`): a features
DataFrame in, the 10 probabilities (GEMS-6 emotions, then genres) out.

The network (:class:`~moodtune.audio.model.AudioModel`) or the tag model
(:class:`~moodtune.audio.tagmodel.TaggedAudioModel`) is saved with its own ``save``; which one a
directory holds is told by the tag model's file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from moodtune.audio.model import AudioModel
from moodtune.audio.tagmodel import MODEL_FILE, TaggedAudioModel
from moodtune.registry import packaging

if TYPE_CHECKING:
    from moodtune.settings import Settings

REQUIREMENTS = ("torch", "numpy", "pandas", "librosa", "soundfile", "mlflow")


@runtime_checkable
class ServedAudio(Protocol):
    """What the service calls on the audio model."""

    @property
    def version(self) -> str | None: ...

    def analyze(self, source: str | os.PathLike | bytes, *, name: str | None = None) -> pd.Series: ...


def log_model(model: AudioModel | TaggedAudioModel, example: pd.DataFrame, name: str = "model") -> str:
    """Log ``model`` to the active MLflow run with an input example and a signature; returns
    the model URI to register."""
    from mlflow.models import infer_signature

    example = example[model.feature_columns].astype(np.float64)
    return packaging.log_model(
        __name__,
        model.save,
        requirements=REQUIREMENTS,
        input_example=example.head(2),
        signature=infer_signature(example, model.predict_proba(example)),
        name=name,
    )


def load_model_dir(path: Path, settings: Settings) -> ServedAudio:
    """The audio model :func:`log_model` saved in ``path``."""
    if (Path(path) / MODEL_FILE).is_file():
        return TaggedAudioModel.load(path)
    return AudioModel.load(path)


def predict(model: Any, model_input: Any, config: Mapping[str, Any], settings: Any) -> pd.DataFrame:
    return model.predict_proba(pd.DataFrame(model_input))
