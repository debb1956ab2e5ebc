"""``moodtune-hrv`` as an MLflow model (:mod:`moodtune.registry.packaging`): a frame of the
eight metrics (plus the ``dlog_*`` baseline ratios where the model reads them) in, the stress
level and its three probabilities out (``level, p_low, p_medium, p_high``).

The CatBoost classifier is saved in its own format; loading it gives the
:class:`~moodtune.hrv.reader.StressReader` of the ``hrv`` settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from moodtune.hrv.config import SignalSettings
from moodtune.hrv.constants import LEVELS
from moodtune.hrv.reader import PROBA_COLUMNS, InputCaps, StressReader
from moodtune.registry import packaging

if TYPE_CHECKING:
    from moodtune.settings import Settings

MODEL_FILE = "model.cbm"
REQUIREMENTS = ("catboost", "numpy", "pandas", "mlflow")


@runtime_checkable
class ServedHrv(Protocol):
    """What the service calls on the stress model."""

    @property
    def version(self) -> str | None: ...
    @property
    def limits(self) -> SignalSettings: ...

    def with_caps(self, caps: InputCaps | None) -> Self: ...

    def with_limits(self, **changes: Any) -> Self: ...

    def read(
        self,
        source: Any,
        *,
        baseline: Any = None,
        filename: str | None = None,
        sampling_rate: float | None = None,
    ) -> pd.DataFrame: ...


def log_model(model: Any, example: pd.DataFrame, settings: Settings) -> str:
    """Log a fitted CatBoost classifier to the active MLflow run with an input example and a
    signature; returns the model URI to register."""
    from mlflow.models import infer_signature

    answer = predict(StressReader(model, settings.hrv), example, {}, settings)
    return packaging.log_model(
        __name__,
        lambda directory: model.save_model(str(directory / MODEL_FILE)),
        requirements=REQUIREMENTS,
        input_example=example,
        signature=infer_signature(example, answer),
    )


def load_model_dir(path: Path, settings: Settings) -> ServedHrv:
    """The :class:`StressReader` of the classifier :func:`log_model` saved in ``path``."""
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(str(Path(path) / MODEL_FILE))
    return StressReader(model, settings.hrv)


def predict(reader: Any, model_input: Any, config: Mapping[str, Any], settings: Any) -> pd.DataFrame:
    proba = reader.predict_proba(pd.DataFrame(model_input))
    out = pd.DataFrame(proba, columns=list(PROBA_COLUMNS))
    out.insert(0, "level", np.asarray(LEVELS, dtype=object)[proba.argmax(axis=1)])
    return out
