"""A2C training with stable-baselines3 on vectorised environments."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env


class LearningCurve(BaseCallback):
    """Collects (timestep, episode reward) from the Monitor wrappers."""

    def __init__(self):
        super().__init__()
        self.points: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None:
                self.points.append((self.num_timesteps, float(episode["r"])))
        return True

    def smoothed(self, window: int = 50) -> list[tuple[int, float]]:
        if not self.points:
            return []
        steps, rewards = zip(*self.points, strict=True)
        kernel = np.ones(min(window, len(rewards))) / min(window, len(rewards))
        smooth = np.convolve(rewards, kernel, mode="valid")
        return list(zip(steps[len(steps) - len(smooth):], smooth.tolist(), strict=True))


def train_a2c(
    make_env: Callable[[], gym.Env],
    *,
    timesteps: int,
    seed: int,
    n_envs: int = 4,
    hyper: dict | None = None,
    model: A2C | None = None,
) -> tuple[A2C, LearningCurve]:
    """Train (or, given ``model``, continue training) an A2C policy; returns it and its curve."""
    torch.set_num_threads(1)
    vec = make_vec_env(make_env, n_envs=n_envs, seed=seed)
    if model is None:
        model = A2C("MlpPolicy", vec, seed=seed, verbose=0, device="cpu", **(hyper or {}))
    else:
        model.set_env(vec)
    curve = LearningCurve()
    if timesteps > 0:
        model.learn(total_timesteps=timesteps, callback=curve, reset_num_timesteps=False)
    return model, curve
