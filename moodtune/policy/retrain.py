"""Retraining from feedback: the replay buffer plus the simulator, then held-out and
off-policy evaluation, so the registry gate can decide.

Logged feedback carries real listener contexts (age, gender, mood) and what they were
offered. The retraining set adds one simulated listener per logged context (visible context
from the log, hidden taste drawn from the population) to the simulator's training listeners,
so the policy is trained more on the contexts real listeners bring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.features import ListenerContext
from moodtune.policy.listeners import TasteModel, simulate_listeners
from moodtune.policy.offpolicy import OffPolicyEstimate, snips
from moodtune.policy.pipeline import EnvSpec, evaluate_policy
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
    return World(spec.song_features, TasteModel(spec.truth, spec.listener_params), listeners, spec.bank, spec.rewards)


def degrade(model, scale: float, seed: int) -> None:
    """Add Gaussian noise to every policy weight (a drill: a challenger made worse on purpose)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.policy.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * scale)


@dataclass
class RetrainResult:
    model: object
    held_out: pd.DataFrame  # challenger, champion and random on the same held-out sessions
    challenger_ope: OffPolicyEstimate
    champion_ope: OffPolicyEstimate
    replay_rows: int

    def scores(self) -> dict[str, float]:
        by = self.held_out.set_index("policy")["mean_reward"]
        return {
            "mean_reward": float(by["challenger"]),
            "reward_lift_over_random": float(by["challenger"] - by["random"]),
            "champion_mean_reward": float(by["champion"]),
            "ope_value": self.challenger_ope.value,
            "ope_champion_value": self.champion_ope.value,
            "ope_logged_value": self.challenger_ope.logged_value,
            "ope_effective_sample_size": self.challenger_ope.effective_sample_size,
            "replay_rows": float(self.replay_rows),
        }


def retrain(spec: EnvSpec, champion: PolicyRanker, feedback: pd.DataFrame, p: PolicySettings, *,
            timesteps: int, seed: int, degrade_scale: float = 0.0) -> RetrainResult:
    """Continue training the champion on replay + simulated listeners; evaluate it."""
    from stable_baselines3 import A2C

    from moodtune.policy.evaluation import RandomRanker

    world = training_world(spec, feedback, seed)
    # A copy of the champion, so the serving champion object is never modified.
    from stable_baselines3.common.env_util import make_vec_env

    def make_env():
        return ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)

    model = A2C("MlpPolicy", make_vec_env(make_env, n_envs=p.n_envs, seed=seed), seed=seed, device="cpu",
                **dict(p.a2c))
    model.policy.load_state_dict(champion.model.policy.state_dict())
    model, _ = train_a2c(make_env, timesteps=timesteps, seed=seed, n_envs=p.n_envs, model=model)
    if degrade_scale > 0:
        degrade(model, degrade_scale, seed)
    challenger = PolicyRanker(model, "session", p.temperature)
    held_out = evaluate_policy(spec, {"challenger": challenger, "champion": champion, "random": RandomRanker(0)},
                               p, p.seeds[0])
    rows = feedback.to_dict("records")
    return RetrainResult(model, held_out, snips(rows, challenger, p.temperature), snips(rows, champion, p.temperature),
                         len(feedback))
