"""A2C training with stable-baselines3 on vectorised environments."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from moodtune.policy.envs import SeedBanditEnv
from moodtune.policy.network import CandidatePolicy
from moodtune.policy.pipeline import EnvSpec, make_session_env
from moodtune.settings import PolicySettings


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
    policy=None,
    policy_kwargs: dict | None = None,
) -> tuple[A2C, LearningCurve]:
    """Train (or, given ``model``, continue training) an A2C policy; returns it and its curve.
    ``policy``: the SB3 policy class (default ``MlpPolicy``)."""
    torch.set_num_threads(1)
    vec = make_vec_env(make_env, n_envs=n_envs, seed=seed)
    if model is None:
        model = A2C(policy or "MlpPolicy", vec, seed=seed, verbose=0, device="cpu", policy_kwargs=policy_kwargs,
                    **(hyper or {}))
    else:
        model.set_env(vec)
    curve = LearningCurve()
    if timesteps > 0:
        model.learn(total_timesteps=timesteps, callback=curve, reset_num_timesteps=False)
    return model, curve


def train_session_policy(spec: EnvSpec, p: PolicySettings, *, timesteps: int, seed: int):
    """The candidate-aware A2C on the listening session (training listeners); with
    ``policy.warm_start: oracle`` its actor first imitates the planning oracle from the
    observations (behaviour cloning), then A2C fine-tunes it at ``warm_start_a2c_lr``. A
    policy trained for 0 steps gets no warm start."""
    torch.set_num_threads(1)
    vec = make_vec_env(make_session_env(spec, p), n_envs=p.n_envs, seed=seed)
    hyper = dict(p.a2c)
    warm = p.warm_start == "oracle" and timesteps > 0
    if warm:  # a small rate: A2C's noisy updates at the from-scratch rate undo the imitation (docs/policy.md)
        hyper["learning_rate"] = p.warm_start_a2c_lr
    if p.a2c_lr_decay:  # linear to 0 over the run: the last updates settle the policy instead of moving it
        start = float(hyper.pop("learning_rate", 7e-4))
        hyper["learning_rate"] = lambda remaining: start * remaining
    model = A2C(CandidatePolicy, vec, seed=seed, verbose=0, device="cpu", **hyper,
                policy_kwargs={"max_slots": p.playlist_size, "hidden": p.a2c_hidden})
    if warm:
        behaviour_cloning(model, spec, p, seed)
    return train_a2c(make_session_env(spec, p), timesteps=timesteps, seed=seed, n_envs=p.n_envs, model=model)


def oracle_demonstrations(spec: EnvSpec, p: PolicySettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Observations and the slot the planning oracle plays, on sessions of training listeners."""
    from moodtune.policy.envs import ListeningSessionEnv
    from moodtune.policy.evaluation import PlanningOracle

    env = ListeningSessionEnv(spec.world("train"), p.playlist_size, p.session_length, p.calm_weight)
    teacher = PlanningOracle(p.warm_start_beam, p.calm_weight)
    rng = np.random.default_rng(seed)
    observations, slots = [], []
    for _ in range(p.warm_start_sessions):
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        for song in teacher.plan(env):
            observations.append(obs)
            slots.append(env.playlist.index(song))
            obs, _, done, _, _ = env.play(song)
            if done:
                break
    return np.asarray(observations, dtype=np.float32), np.asarray(slots)


def behaviour_cloning(model: A2C, spec: EnvSpec, p: PolicySettings, seed: int) -> float:
    """Fit the actor's slot logits to the oracle's choices (cross-entropy); returns the
    share of demonstrations whose slot it then ranks first."""
    x, y = oracle_demonstrations(spec, p, seed)
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long)
    actor = model.policy.mlp_extractor
    optimiser = torch.optim.Adam(model.policy.parameters(), lr=p.warm_start_lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(p.warm_start_epochs):
        for batch in torch.randperm(len(x_t), generator=gen).split(256):
            loss = torch.nn.functional.cross_entropy(actor.forward_actor(x_t[batch]), y_t[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        return float((actor.forward_actor(x_t).argmax(1) == y_t).float().mean())


def train_policies(spec: EnvSpec, p: PolicySettings, out_dir: Path, timesteps: int | None = None) -> dict:
    """Train the session policy once per seed (and per seed of ``compare_seeds`` under each of
    ``compare_dynamics``) and seed A's bandit policy once; save them. Records the time taken."""
    out_dir.mkdir(parents=True, exist_ok=True)
    timesteps = p.timesteps if timesteps is None else timesteps
    started, cpu = time.perf_counter(), time.process_time()
    result = {"session": {}, "compare": {}, "curves": {}, "timesteps": timesteps}
    runs = [(p.dynamics, seed, spec) for seed in p.seeds]
    runs += [(d, seed, spec.with_dynamics(d, p)) for d in p.compare_dynamics if d != p.dynamics for seed in p.compare_seeds]
    for dynamics, seed, env_spec in runs:
        model, curve = train_session_policy(env_spec, p, timesteps=timesteps, seed=seed)
        main = dynamics == p.dynamics
        path = out_dir / (f"session_seed{seed}.zip" if main else f"session_{dynamics}_seed{seed}.zip")
        model.save(path)
        (result["session"] if main else result["compare"].setdefault(dynamics, {}))[seed] = str(path)
        result["curves"][f"session_seed{seed}" if main else f"session_{dynamics}_seed{seed}"] = curve.smoothed()
        if main and seed == p.seeds[-1]:
            result["train_seconds"] = time.perf_counter() - started
            result["train_cpu_seconds"] = time.process_time() - cpu
    world = spec.world("train")
    bandit, curve = train_a2c(lambda: SeedBanditEnv(world, p.seed_episode_length), timesteps=p.seed_timesteps,
                              seed=p.seeds[0], n_envs=p.n_envs)
    path = out_dir / "seed_bandit.zip"
    bandit.save(path)
    result["seed_bandit"] = str(path)
    result["curves"]["seed_bandit"] = curve.smoothed()
    # Seed A's score: mean reward per step over the last episodes of training.
    tail = [r for _, r in curve.points[-50:]]
    result["seed_score"] = float(np.mean(tail) / p.seed_episode_length) if tail else float("nan")
    result["total_train_seconds"] = time.perf_counter() - started
    result["total_train_cpu_seconds"] = time.process_time() - cpu
    return result
