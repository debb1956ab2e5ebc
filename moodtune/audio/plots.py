"""Figures logged to MLflow: genre confusion matrix, training curve, per-label scores.

Built on ``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend needed).
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def confusion_figure(confusion: pd.DataFrame, title: str = "Genre confusion (held-out)") -> Figure:
    fig = Figure(figsize=(5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    values = confusion.to_numpy()
    im = ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(confusion.columns)), confusion.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(confusion.index)), confusion.index)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = values.max() if values.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(
                j,
                i,
                str(int(values[i, j])),
                ha="center",
                va="center",
                color="white" if values[i, j] > top / 2 else "black",
            )
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return fig


def training_curve_figure(history: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    if len(history):
        ax.plot(history["epoch"], history["train_loss"], label="train")
        if history["heldout_loss"].notna().any():
            ax.plot(history["epoch"], history["heldout_loss"], label="held-out")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no training epochs", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (BCE emotions + CE genre)")
    ax.set_title("Training curve")
    return fig


def per_label_figure(per_label: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = range(len(per_label))
    ax.bar([i - 0.2 for i in x], per_label["auc"].fillna(0), width=0.4, label="ROC-AUC")
    ax.bar([i + 0.2 for i in x], per_label["f1"], width=0.4, label="F1")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(list(x), per_label["label"], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Held-out scores per emotion")
    return fig
