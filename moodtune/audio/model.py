"""The audio model: a multi-label torch network over clip features.

One network, ten outputs: six GEMS-6 emotions (independent sigmoids: a clip may be tender
*and* sad) and four genres (the same logits read through a softmax, whose argmax is the
genre). Feature standardisation (the training set's mean and scale) is a buffer inside the
network, so the saved model takes raw features, as :func:`moodtune.audio.features.
extract_features` returns them, and the feature configuration it was trained with travels
with it.

:class:`AudioModel` is what the rest of moodtune calls (policy, catalog, service, CLI):
``predict_proba(features) -> DataFrame[GEMS6 + GENRES]``; load a registered one with ``registry.load(registry.AUDIO)``.
The registered ``moodtune-audio`` pyfunc (:mod:`moodtune.audio.package`) wraps the same object,
so both give identical numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from moodtune.audio.frames import feature_matrix
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ModelNotFound

OUTPUT_COLUMNS: tuple[str, ...] = (*GEMS6, *GENRES)
N_EMOTIONS = len(GEMS6)
WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"


class AudioNet(nn.Module):
    """Standardise -> [Linear -> ReLU -> Dropout] x len(hidden) -> 10 logits."""

    mean: torch.Tensor  # buffers (register_buffer)
    scale: torch.Tensor

    def __init__(self, n_features: int, hidden: Sequence[int] = (128, 64), dropout: float = 0.2):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(dropout)]
            width = int(h)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, len(OUTPUT_COLUMNS))

    def fit_standardisation(self, x: np.ndarray) -> None:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-8, scale, 1.0)  # a constant feature passes through centred
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body((x - self.mean) / self.scale))


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Emotion sigmoids and genre softmax, side by side (the 10 output columns)."""
    return torch.cat(
        [torch.sigmoid(logits[:, :N_EMOTIONS]), torch.softmax(logits[:, N_EMOTIONS:], dim=1)], dim=1
    )


class AudioModel:
    """A trained :class:`AudioNet` with its feature columns and feature configuration."""

    def __init__(
        self,
        net: AudioNet,
        feature_columns: Sequence[str],
        feature_config: Mapping[str, Any],
        *,
        hidden: Sequence[int],
        dropout: float,
        meta: Mapping[str, Any] | None = None,
    ):
        self.net = net.eval()
        self.feature_columns = list(feature_columns)
        self.feature_config = dict(feature_config)
        self.hidden = [int(h) for h in hidden]
        self.dropout = float(dropout)
        self.meta = dict(meta or {})
        self.version: str | None = None  # set when loaded from the registry

    # --- prediction -----------------------------------------------------------------------

    def predict_proba(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per row: emotion probabilities (sigmoid) and genre probabilities (softmax, sum 1).

        ``features`` holds at least the model's feature columns (any order; extra columns are
        ignored). The result keeps ``features``' index; columns are GEMS6 then GENRES.
        """
        x = feature_matrix(
            features, self.feature_columns, "extract them with moodtune.audio.features", np.float32
        )
        with torch.no_grad():
            p = probabilities(self.net(torch.from_numpy(x))).numpy().astype(np.float64)
        return pd.DataFrame(p, index=features.index, columns=list(OUTPUT_COLUMNS))

    def predict_genre(self, features: pd.DataFrame) -> pd.Series:
        """The argmax genre per row."""
        return self.predict_proba(features)[list(GENRES)].idxmax(axis=1)

    def analyze(self, source: str | os.PathLike | bytes, *, name: str | None = None) -> pd.Series:
        """Probabilities for one clip (a path or uploaded bytes), with the features the model
        was trained on. Bad audio raises :class:`~moodtune.errors.InvalidAudio`."""
        from moodtune.audio.features import extract_features, feature_settings

        feats = extract_features(source, *feature_settings(self.feature_config), name=name)
        return self.predict_proba(pd.DataFrame([feats]))[list(OUTPUT_COLUMNS)].iloc[0]

    # --- persistence ----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(
            json.dumps(
                {
                    "feature_columns": self.feature_columns,
                    "feature_config": self.feature_config,
                    "hidden": self.hidden,
                    "dropout": self.dropout,
                    "outputs": list(OUTPUT_COLUMNS),
                    "meta": self.meta,
                },
                indent=2,
            )
        )
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> AudioModel:
        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        if config.get("outputs") != list(OUTPUT_COLUMNS):
            raise ModelNotFound(
                f"audio model in {directory} has outputs {config.get('outputs')}, "
                f"expected {list(OUTPUT_COLUMNS)}"
            )
        net = AudioNet(len(config["feature_columns"]), config["hidden"], config["dropout"])
        net.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return cls(
            net,
            config["feature_columns"],
            config["feature_config"],
            hidden=config["hidden"],
            dropout=config["dropout"],
            meta=config.get("meta"),
        )
