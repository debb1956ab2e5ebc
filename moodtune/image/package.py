"""``moodtune-face`` as an MLflow model (:mod:`moodtune.registry.packaging`): the network, the
Haar cascade and the configuration, as :meth:`~moodtune.image.model.FaceEmotionModel.save`
writes them.

``predict`` takes a DataFrame with an ``image`` column of image-file bytes (or a list of them)
and returns one row per face found: ``image`` (the row it came from), the box, the face's share
of the weight and the 7 expression probabilities. Images without a face give no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from moodtune.emotions import FER7
from moodtune.image.model import CASCADE_FILE, CONFIG_FILE, WEIGHTS_FILE, FaceEmotionModel
from moodtune.image.photo import ServedFace, emotion_of
from moodtune.registry import packaging

if TYPE_CHECKING:
    from moodtune.settings import Settings

__all__ = ["ServedFace", "load_model_dir", "log_model", "predict"]  # ServedFace: the type emotion_of reads

REQUIREMENTS = ("torch", "opencv-python-headless", "numpy", "pandas", "pillow", "mlflow")


def log_model(model: FaceEmotionModel, name: str = "face_model") -> str:
    """Log the face model to the active MLflow run; returns the model URI to register."""
    return packaging.log_model(__name__, model.save, requirements=REQUIREMENTS, name=name)


def load_model_dir(path: Path, settings: Settings) -> ServedFace:
    """The :class:`FaceEmotionModel` :func:`log_model` saved in ``path``."""
    path = Path(path)
    return FaceEmotionModel.from_files(path / WEIGHTS_FILE, path / CASCADE_FILE, path / CONFIG_FILE)


def predict(model: Any, model_input: Any, config: Mapping[str, Any], settings: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        images = list(model_input["image"])
    elif isinstance(model_input, (bytes, bytearray)):
        images = [model_input]
    else:
        images = list(model_input)
    rows = []
    for i, data in enumerate(images):
        for face in emotion_of(bytes(data), model, settings.image).faces:
            x, y, w, h = face.box.as_list()
            rows.append(
                {"image": i, "x": x, "y": y, "w": w, "h": h, "weight": face.weight, **face.expressions}
            )
    return pd.DataFrame(rows, columns=["image", "x", "y", "w", "h", "weight", *FER7])
