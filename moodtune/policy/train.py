"""A2C training with stable-baselines3 on vectorised environments."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from moodtune.policy.config import PolicySettings
from moodtune.policy.envs import SeedBanditEnv
from moodtune.policy.network import CandidatePolicy
from moodtune.policy.pipeline import EnvSpec, make_session_env
from moodtune.workers import spawn_pool, worker_count


class LearningCurve(BaseCallback):
    """Collects (timestep, episode reward) from the Monitor wrappers; ``held_out`` holds the
    (timestep, mean session reward) of :class:`HeldOutCurve` when one ran beside it."""

    def __init__(self):
        super().__init__()
        self.points: list[tuple[int, float]] = []
        self.held_out: list[tuple[int, float]] = []

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
        return list(zip(steps[len(steps) - len(smooth) :], smooth.tolist(), strict=True))


class HeldOutCurve(BaseCallback):
    """Every ``every`` steps (and before the first), the policy's mean reward on the same
    ``sessions`` held-out sessions (test listeners, fixed playlists and random streams): the
    learning curve that says whether A2C improves what the warm start gave."""

    def __init__(self, spec: EnvSpec, p: PolicySettings, seed: int, every: int, sessions: int):
        super().__init__()
        self.spec, self.p, self.seed, self.every, self.sessions = spec, p, seed, every, sessions
        self.points: list[tuple[int, float]] = []
        self._next = 0

    def _measure(self) -> None:
        from moodtune.policy.evaluation import evaluate
        from moodtune.policy.ranking import PolicyRanker

        p = self.p
        table = evaluate(
            self.spec.world("test"),
            {"a2c": PolicyRanker(self.model, "session")},
            n_sessions=self.sessions,
            playlist_size=p.playlist_size,
            session_length=p.session_length,
            calm_weight=p.calm_weight,
            k=p.eval_k,
            seed=self.seed,
        )
        self.points.append((int(self.num_timesteps), float(table["mean_reward"].iloc[0])))
        self._next = self.num_timesteps + self.every

    def _on_training_start(self) -> None:
        self._measure()

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._measure()
        return True

    def _on_training_end(self) -> None:
        if self.points[-1][0] != self.num_timesteps:
            self._measure()


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
    held_out: HeldOutCurve | None = None,
) -> tuple[A2C, LearningCurve]:
    """Train (or, given ``model``, continue training) an A2C policy; returns it and its curve.
    ``policy``: the SB3 policy class (default ``MlpPolicy``)."""
    torch.set_num_threads(1)
    vec = make_vec_env(make_env, n_envs=n_envs, seed=seed)
    if model is None:
        model = A2C(
            policy or "MlpPolicy",
            vec,
            seed=seed,
            verbose=0,
            device="cpu",
            policy_kwargs=policy_kwargs,
            **(hyper or {}),
        )
    else:
        model.set_env(vec)
    curve = LearningCurve()
    if timesteps > 0:
        model.learn(
            total_timesteps=timesteps,
            callback=[curve] if held_out is None else [curve, held_out],
            reset_num_timesteps=False,
        )
        curve.held_out = [] if held_out is None else held_out.points
    return model, curve


def train_session_policy(spec: EnvSpec, p: PolicySettings, *, timesteps: int, seed: int):
    """The candidate-aware A2C on the listening session (training listeners); with
    ``policy.warm_start.method: oracle`` its actor first imitates the planning oracle from the
    observations (behaviour cloning), then A2C fine-tunes it at ``warm_start.a2c_lr``. A
    policy trained for 0 steps gets no warm start."""
    torch.set_num_threads(1)
    vec = make_vec_env(make_session_env(spec, p), n_envs=p.n_envs, seed=seed)
    hyper: dict[str, Any] = dict(p.a2c.args)
    warm = p.warm_start.method == "oracle" and timesteps > 0
    if warm:  # a small rate: A2C's noisy updates at the from-scratch rate undo the imitation (docs/policy.md)
        hyper["learning_rate"] = p.warm_start.a2c_lr
    if p.a2c.lr_decay:  # linear to 0 over the run: the last updates settle the policy instead of moving it
        start = float(hyper.pop("learning_rate", 7e-4))
        hyper["learning_rate"] = lambda remaining: start * remaining
    model = A2C(
        CandidatePolicy,
        vec,
        seed=seed,
        verbose=0,
        device="cpu",
        **hyper,
        policy_kwargs={"max_slots": p.playlist_size, "hidden": p.a2c.hidden},
    )
    if warm:
        behaviour_cloning(model, spec, p, seed)
    watch = (
        HeldOutCurve(spec, p, seed, max(1, timesteps // p.held_out_curve.points), p.held_out_curve.sessions)
        if p.held_out_curve.points > 0
        else None
    )
    return train_a2c(
        make_session_env(spec, p),
        timesteps=timesteps,
        seed=seed,
        n_envs=p.n_envs,
        model=model,
        held_out=watch,
    )


def oracle_demonstrations(spec: EnvSpec, p: PolicySettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Observations and the slot the planning oracle plays, on sessions of training listeners."""
    from moodtune.policy.envs import ListeningSessionEnv
    from moodtune.policy.evaluation import PlanningOracle

    env = ListeningSessionEnv(spec.world("train"), p.playlist_size, p.session_length, p.calm_weight)
    teacher = PlanningOracle(p.warm_start.beam, p.calm_weight)
    rng = np.random.default_rng(seed)
    observations, slots = [], []
    for _ in range(p.warm_start.sessions):
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
    optimiser = torch.optim.Adam(model.policy.parameters(), lr=p.warm_start.lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(p.warm_start.epochs):
        for batch in torch.randperm(len(x_t), generator=gen).split(256):
            loss = torch.nn.functional.cross_entropy(actor.forward_actor(x_t[batch]), y_t[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        return float((actor.forward_actor(x_t).argmax(1) == y_t).float().mean())


def side_by_side(fn: Callable, jobs: list, workers: int) -> list:
    """``[fn(job) for job in jobs]`` in up to ``workers`` spawned processes, results in order."""
    workers = worker_count(workers, len(jobs))
    if workers == 1:
        return [fn(job) for job in jobs]
    with spawn_pool(workers) as pool:
        return list(pool.map(fn, jobs))


def _train_job(job: tuple) -> tuple[list[tuple[int, float]], float, list[tuple[int, float]]]:
    """One policy of :func:`train_policies`, in a worker process or this one: train it, save it
    to ``path``; returns its learning curve's points, the CPU seconds it took and its held-out
    curve (session policies)."""
    kind, spec, p, timesteps, seed, path = job
    cpu = time.process_time()
    if kind == "bandit":
        world = spec.world("train")
        model, curve = train_a2c(
            lambda: SeedBanditEnv(world, p.seed_bandit.episode_length),
            timesteps=timesteps,
            seed=seed,
            n_envs=p.n_envs,
        )
    else:
        model, curve = train_session_policy(spec, p, timesteps=timesteps, seed=seed)
    model.save(path)
    return curve.points, time.process_time() - cpu, curve.held_out


def train_policies(spec: EnvSpec, p: PolicySettings, out_dir: Path, timesteps: int | None = None) -> dict:
    """Train the session policy once per seed (and per seed of ``compare.seeds`` under each of
    ``compare.dynamics``) and seed A's bandit policy once; save them. The policies train side by
    side in ``policy.workers`` processes (each single-threaded and seeded, so the result
    does not depend on how many). Records the wall time and the CPU time of the session seeds
    (``train_*``) and of everything (``total_train_*``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    timesteps = p.timesteps if timesteps is None else timesteps
    started, cpu = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {
        "session": {},
        "compare": {},
        "curves": {},
        "held_out_curves": {},
        "timesteps": timesteps,
    }
    jobs: list[tuple] = []
    names: list[tuple[str | None, int, str]] = []
    for seed in p.seeds:
        jobs.append(("session", spec, p, timesteps, seed, str(out_dir / f"session_seed{seed}.zip")))
        names.append((None, seed, f"session_seed{seed}"))
    for d in p.compare.dynamics:
        if d == p.dynamics:
            continue
        compare = spec.with_dynamics(d, p)
        for seed in p.compare.seeds:
            jobs.append(
                ("session", compare, p, timesteps, seed, str(out_dir / f"session_{d}_seed{seed}.zip"))
            )
            names.append((d, seed, f"session_{d}_seed{seed}"))
    jobs.append(("bandit", spec, p, p.seed_bandit.timesteps, p.seeds[0], str(out_dir / "seed_bandit.zip")))
    names.append(("bandit", p.seeds[0], "seed_bandit"))
    done = side_by_side(_train_job, jobs, p.workers)
    workers = worker_count(p.workers, len(jobs))  # as side_by_side decided: 1 in a daemonic process
    session_cpu = 0.0
    for (dynamics, seed, name), job, (points, job_cpu, held_out) in zip(names, jobs, done, strict=True):
        curve = LearningCurve()
        curve.points = points
        result["curves"][name] = curve.smoothed()
        if held_out:
            result["held_out_curves"][name] = held_out
        if dynamics == "bandit":
            result["seed_bandit"] = job[-1]
            # Seed A's score: mean reward per step over the last episodes of training.
            tail = [r for _, r in points[-50:]]
            result["seed_score"] = (
                float(np.mean(tail) / p.seed_bandit.episode_length) if tail else float("nan")
            )
        elif dynamics is None:
            result["session"][seed] = job[-1]
            session_cpu += job_cpu
        else:
            result["compare"].setdefault(dynamics, {})[seed] = job[-1]
    wall = time.perf_counter() - started
    result["train_seconds"] = wall  # the session seeds trained beside the rest: the whole run's wall time
    result["train_cpu_seconds"] = session_cpu
    result["total_train_seconds"] = wall
    result["total_train_cpu_seconds"] = time.process_time() - cpu + sum(c for _, c, _ in done) * (workers > 1)
    return result
