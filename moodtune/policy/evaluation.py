"""Held-out evaluation of policies against baselines and the oracle.

Every policy plays the same sessions (same held-out listener, same playlist, same random
stream) in :class:`ListeningSessionEnv`. Reported per policy: mean episode reward,
hit-rate@k and NDCG@k of its initial top-k against the listener's true likes, and the mean
stress reduction over the session (hidden true stress, start minus end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from moodtune.emotions import GEMS6, to_dlut
from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.features import ListenerContext, state_matrix
from moodtune.policy.ranking import PolicyRanker


class Ranker(Protocol):
    def scores(self, playlist_features: np.ndarray, listener: ListenerContext) -> np.ndarray: ...


@dataclass
class RandomRanker:
    seed: int = 0

    def __post_init__(self):
        self._rng = np.random.default_rng(self.seed)

    def scores(self, playlist_features, listener):
        return self._rng.random(len(playlist_features))


class PopularityRanker:
    """Most-liked overall: each song's like rate among training listeners."""

    def __init__(self, like_rate: np.ndarray, song_features: np.ndarray):
        self._by_row = {tuple(np.round(f, 6)): r for f, r in zip(song_features, like_rate, strict=True)}

    def scores(self, playlist_features, listener):
        return np.array([self._by_row.get(tuple(np.round(f, 6)), 0.0) for f in playlist_features])


class EmotionMatchRanker:
    """The song whose emotion is nearest the listener's mood (valence from mood 1..5)."""

    def scores(self, playlist_features, listener):
        target = np.array([(listener.mood - 3) / 2, 0.0])
        points = np.array([
            to_dlut("gems6", dict(zip(GEMS6, f[:6], strict=True))).valence_arousal()
            if f[:6].sum() > 0 else (0.0, 0.0)
            for f in playlist_features
        ])
        return -np.linalg.norm(points - target, axis=1)


class SupervisedRanker:
    """A classifier predicting "liked" from the same 17 features the policy sees."""

    def __init__(self, seed: int = 0):
        self.model = HistGradientBoostingClassifier(max_iter=150, random_state=seed)

    def fit(self, world: World) -> SupervisedRanker:
        xs, ys = [], []
        for _, listener in world.listeners.iterrows():
            xs.append(state_matrix(world.song_features, world.context(listener)))
            ys.append(world.taste.liked(listener).astype(int))
        self.model.fit(np.concatenate(xs), np.concatenate(ys))
        return self

    def scores(self, playlist_features, listener):
        return self.model.predict_proba(state_matrix(playlist_features, listener))[:, 1]


def like_rates(world: World) -> np.ndarray:
    return np.mean([world.taste.liked(row) for _, row in world.listeners.iterrows()], axis=0)


def ndcg_at_k(relevance_in_rank_order: np.ndarray, k: int) -> float | None:
    rel = np.asarray(relevance_in_rank_order, dtype=float)
    ideal = np.sort(rel)[::-1][:k]
    if ideal.sum() == 0:
        return None
    discounts = 1 / np.log2(np.arange(2, k + 2))
    return float((rel[:k] * discounts[: len(rel[:k])]).sum() / (ideal * discounts[: len(ideal)]).sum())


def sessions(world: World, n: int, playlist_size: int, seed: int) -> list[dict]:
    """``n`` fixed (listener, playlist) pairs drawn from ``world``'s listeners."""
    rng = np.random.default_rng(seed)
    return [
        {
            "listener": int(rng.integers(len(world.listeners))),
            "playlist": rng.choice(len(world.song_features), size=min(playlist_size, len(world.song_features)), replace=False),
            "seed": int(rng.integers(2**31 - 1)),
        }
        for _ in range(n)
    ]


def _play(env: ListeningSessionEnv, policy, session: dict) -> tuple[float, float, list[int]]:
    obs, _ = env.reset(seed=session["seed"], options=session)
    total, done, played, info = 0.0, False, [], {}
    listener = env.world.listeners.iloc[session["listener"]]
    order = None
    while not done:
        if policy == "oracle":
            u = env.world.taste.utilities(listener, env._mood)
            remaining = [s for s in env.playlist if s not in env._played]
            song = max(remaining, key=lambda s: u[s])
            obs, r, done, _, info = env.play(song)
        elif isinstance(policy, PolicyRanker) and policy.kind == "session":
            action, _ = policy.model.predict(obs, deterministic=True)
            obs, r, done, _, info = env.step(action)
        else:
            if order is None:
                ctx = env.world.context(listener)
                s = policy.scores(env.world.song_features[session["playlist"]], ctx)
                order = [session["playlist"][i] for i in np.argsort(-s, kind="stable")]
            song = next(s for s in order if s not in env._played)
            obs, r, done, _, info = env.play(int(song))
        total += r
        played.append(info["track_index"])
    return total, float(info["stress_reduction"]), played


def initial_ranking(world: World, policy, session: dict) -> np.ndarray:
    listener = world.listeners.iloc[session["listener"]]
    feats = world.song_features[session["playlist"]]
    if policy == "oracle":
        s = world.taste.utilities(listener)[session["playlist"]]
    else:
        s = policy.scores(feats, world.context(listener))
    return np.asarray(session["playlist"])[np.argsort(-np.asarray(s), kind="stable")]


def evaluate(world: World, policies: dict, *, n_sessions: int, playlist_size: int, session_length: int,
             calm_weight: float, k: int, seed: int, per_session: dict | None = None) -> pd.DataFrame:
    """One row per policy: mean_reward, hit_rate_at_k, ndcg_at_k, stress_reduction.

    ``per_session``: a dict to fill with each policy's session rewards, in session order (the
    gate's paired comparison)."""
    env = ListeningSessionEnv(world, playlist_size=playlist_size, session_length=session_length, calm_weight=calm_weight)
    plan = sessions(world, n_sessions, playlist_size, seed)
    rows = []
    for name, policy in policies.items():
        rewards, reductions, hits, ndcgs = [], [], [], []
        for session in plan:
            total, reduction, _ = _play(env, policy, session)
            rewards.append(total)
            reductions.append(reduction)
            listener = world.listeners.iloc[session["listener"]]
            liked = world.taste.liked(listener)
            ranking = initial_ranking(world, policy, session)
            rel = liked[ranking].astype(float)
            hits.append(float(rel[:k].any()))
            n = ndcg_at_k(rel, k)
            if n is not None:
                ndcgs.append(n)
        if per_session is not None:
            per_session[name] = rewards
        rows.append({
            "policy": name,
            "mean_reward": float(np.mean(rewards)),
            "reward_std": float(np.std(rewards)),
            f"hit_rate_at_{k}": float(np.mean(hits)),
            f"ndcg_at_{k}": float(np.mean(ndcgs)) if ndcgs else float("nan"),
            "stress_reduction": float(np.mean(reductions)),
            "sessions": len(plan),
        })
    return pd.DataFrame(rows)
