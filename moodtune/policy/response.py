"""A listener's body response, read by the HRV model: stress -> RR -> metrics -> level.

Simulating RR and computing HRV indices for every environment step would dominate training
time, so the bank simulates recordings once on a grid of stress values, computes their eight
metrics, and runs the HRV stress model on all of them in one batch. An environment step then
draws one recording at the listener's current stress and uses the model's reading of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from moodtune.hrv.constants import LEVELS  # noqa: F401  (re-exported: envs and assets read it here)


@dataclass
class ResponseBank:
    grid: np.ndarray  # (g,) stress values
    metrics: np.ndarray  # (g, m, 8) HRV metrics of each simulated recording
    probabilities: np.ndarray  # (g, m, 3) the HRV model's p_low, p_medium, p_high

    @classmethod
    def build(
        cls,
        simulate_rr: Callable[..., np.ndarray],
        metrics_fn: Callable[[np.ndarray], dict],
        predict_proba: Callable[[np.ndarray], np.ndarray],
        metric_columns: tuple[str, ...],
        *,
        grid_size: int,
        per_point: int,
        seconds: float,
        rng: np.random.Generator,
    ) -> ResponseBank:
        grid = np.linspace(0.0, 1.0, grid_size)
        rows = []
        for stress in grid:
            for _ in range(per_point):
                m = metrics_fn(simulate_rr(float(stress), seconds, rng))
                rows.append([m[c] for c in metric_columns])
        metrics = np.asarray(rows, dtype=float)
        probs = np.asarray(predict_proba(metrics), dtype=float)
        return cls(grid, metrics.reshape(grid_size, per_point, -1), probs.reshape(grid_size, per_point, 3))

    def read(self, stress: float, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """The HRV model's reading (level index, probabilities) of one recording at ``stress``."""
        g = int(np.abs(self.grid - stress).argmin())
        probs = self.probabilities[g, rng.integers(self.probabilities.shape[1])]
        return int(probs.argmax()), probs

    def level_accuracy(self, thresholds=(1 / 3, 2 / 3)) -> float:
        """How often the model's reading matches the stress band the recording was simulated at."""
        bands = np.digitize(self.grid, thresholds)
        predicted = self.probabilities.argmax(axis=2)
        return float((predicted == bands[:, None]).mean())


def calm(probabilities: np.ndarray) -> float:
    """Expected calm of a reading in [-1, 1]: p_low - p_high."""
    return float(probabilities[0] - probabilities[2])
