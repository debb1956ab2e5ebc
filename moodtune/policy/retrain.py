"""Retraining from feedback: continue training the champion on the replay buffer plus the
simulator (:mod:`moodtune.policy.registration` then evaluates, registers and gates it).

Logged feedback carries real listener contexts (age, gender, mood) and what they were
offered. The retraining set adds one simulated listener per logged context (visible context
from the log, hidden taste drawn from the population) to the simulator's training listeners,
so the policy is trained more on the contexts real listeners bring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.features import ListenerContext
from moodtune.policy.listeners import TasteModel, simulate_listeners
from moodtune.policy.pipeline import EnvSpec
from moodtune.policy.ranking import PolicyRanker
from moodtune.policy.train import train_a2c
from moodtune.settings import PolicySettings


def replay_listeners(feedback: pd.DataFrame, spec: EnvSpec, seed: int) -> pd.DataFrame:
    """One simulated listener per logged feedback row, with the row's visible context."""
    if feedback.empty:
        return spec.listeners.iloc[0:0]
    rng = np.random.default_rng(seed)
    sims = simulate_listeners(len(feedback), rng, spec.listener_params)
    for i, (_, row) in enumerate(feedback.iterrows()):
        ctx = ListenerContext.parse(row["age"], row["gender"], row["mood"])
        sims.loc[i, ["age", "gender", "mood"]] = [ctx.age, ctx.gender, int(round(ctx.mood))]
        sims.loc[i, "base_stress"] = float(np.clip(0.8 - 0.1 * (ctx.mood - 1) + rng.normal(0, 0.06), 0.05, 0.95))
    sims["listener_id"] = [f"R{int(i):07d}" for i in feedback["id"]]
    sims["split"] = "train"
    return sims


def training_world(spec: EnvSpec, feedback: pd.DataFrame, seed: int) -> World:
    train = spec.listeners[spec.listeners["split"] == "train"]
    listeners = pd.concat([train, replay_listeners(feedback, spec, seed)], ignore_index=True)
    return World(spec.song_features, TasteModel(spec.truth, spec.listener_params), listeners, spec.bank, spec.rewards,
                 spec.iso, spec.point_seed, spec.point_jitter)


def degrade(model, scale: float, seed: int) -> None:
    """Add Gaussian noise to every policy weight (a drill: a challenger made worse on purpose)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.policy.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * scale)


def continue_training(spec: EnvSpec, champion: PolicyRanker, feedback: pd.DataFrame, p: PolicySettings, *,
                      timesteps: int, seed: int, degrade_scale: float = 0.0):
    """A copy of the champion's network trained further on replay + simulated listeners (the
    serving champion object is never modified); ``degrade_scale`` > 0 adds weight noise after."""
    import io

    from stable_baselines3 import A2C

    world = training_world(spec, feedback, seed)

    def make_env():
        return ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)

    buffer = io.BytesIO()
    champion.model.save(buffer)
    buffer.seek(0)
    model = A2C.load(buffer, device="cpu")
    model.set_random_seed(seed)
    # a constant rate for the continued run (a decaying schedule saved with the champion would
    # have reached ~0 by the end of its own training)
    model.learning_rate = float(dict(p.a2c).get("learning_rate", 7e-4))
    model._setup_lr_schedule()
    model, curve = train_a2c(make_env, timesteps=timesteps, seed=seed, n_envs=p.n_envs, model=model)
    if degrade_scale > 0:
        degrade(model, degrade_scale, seed)
    return model, curve
