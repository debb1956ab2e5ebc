"""The policy's figures (logged to MLflow as artifacts): learning curves and the policy table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curves(curves: dict[str, list[tuple[int, float]]]):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        if curve:
            steps, rewards = zip(*curve, strict=True)
            ax.plot(steps, rewards, label=name)
    ax.set_xlabel("timesteps")
    ax.set_ylabel("episode reward (moving mean)")
    ax.legend()
    return fig


def policy_bars(summary: pd.DataFrame, k: int):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric in zip(axes, ["mean_reward", f"ndcg_at_{k}", "stress_reduction"], strict=True):
        ax.bar(summary["policy"], summary[f"{metric}_mean"], yerr=summary[f"{metric}_std"].fillna(0))
        ax.set_title(metric)
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig
