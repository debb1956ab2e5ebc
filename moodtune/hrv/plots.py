"""Figures of the HRV stage (returned as matplotlib figures; the caller logs them to MLflow)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS, UNITS
from moodtune.hrv.model import Scores


def confusion_matrices(scores: Mapping[str, Scores], title: str = "held-out subjects"):
    """One row-normalised confusion matrix per model, side by side, counts in the cells."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scores), figsize=(4.2 * len(scores), 4), squeeze=False)
    for ax, (name, s) in zip(axes[0], scores.items(), strict=True):
        cm = s.confusion.astype(float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(LEVELS)):
            for j in range(len(LEVELS)):
                ax.text(
                    j,
                    i,
                    f"{int(cm[i, j])}\n{norm[i, j]:.0%}",
                    ha="center",
                    va="center",
                    color="white" if norm[i, j] > 0.6 else "black",
                    fontsize=9,
                )
        ax.set_xticks(range(len(LEVELS)), LEVELS)
        ax.set_yticks(range(len(LEVELS)), LEVELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}\nmacro-F1 {s.macro_f1:.3f}")
    fig.suptitle(f"predictions on {title}")
    fig.tight_layout()
    return fig


def feature_importance(model):
    import matplotlib.pyplot as plt

    values = np.asarray(model.get_feature_importance(), dtype=float)
    names = np.asarray(getattr(model, "feature_names_", None) or METRIC_COLUMNS)
    order = np.argsort(values)
    fig, ax = plt.subplots(figsize=(5, 0.3 * len(values) + 1.5))
    ax.barh(names[order], values[order], color="#4c72b0")
    ax.set_xlabel("CatBoost feature importance")
    fig.tight_layout()
    return fig


def metrics_by_level(df: pd.DataFrame):
    """Box plots of each metric per stress level (log scale for the band powers)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(13, 6))
    for ax, col in zip(axes.ravel(), METRIC_COLUMNS, strict=True):
        data = [df.loc[df["level"] == lvl, col].to_numpy(dtype=float) for lvl in LEVELS]
        ax.boxplot(data, tick_labels=list(LEVELS), showfliers=False)
        ax.set_title(f"{col} ({UNITS[col]})")
        if col in ("VLF", "LF", "HF"):
            ax.set_yscale("log")
    fig.suptitle("HRV metrics by stress level")
    fig.tight_layout()
    return fig
