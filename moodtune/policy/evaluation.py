"""Held-out evaluation of policies against baselines and the oracle.

Every policy plays the same sessions (same held-out listener, same playlist, same random
stream) in :class:`ListeningSessionEnv`. Reported per policy: mean episode reward,
hit-rate@k and NDCG@k of its initial top-k against the listener's true likes, and the mean
stress reduction over the session (hidden true stress, start minus end).

Baselines choose from what the service could see (the predicted song features, the
listener's context now, the last HRV reading): random, popularity, emotion-match (the song
nearest the listener's current mood), supervised greedy (a like-probability classifier, re-
scored at each step), greedy-calm (always the calmest-sounding song) and a hand-written iso
heuristic (meet the listener's estimated point, then step toward calm). The planning oracle
searches orders with the true simulator (beam search on the hidden state, the expected
reward over HRV readings): the ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from moodtune.emotions import predicted_points
from moodtune.policy.dynamics import ListenerState
from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.features import ListenerContext, state_matrix
from moodtune.policy.ranking import PolicyRanker
from moodtune.threads import one_thread


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
    """The songs whose emotion is nearest a valence-arousal point (seed B's matching): ``point``,
    else the listener's mood (valence from mood 1..5, arousal 0)."""

    def __init__(self, point=None):
        self.point = None if point is None else np.asarray(point, dtype=float)

    def scores(self, playlist_features, listener):
        target = np.array([(listener.mood - 3) / 2, 0.0]) if self.point is None else self.point
        return -np.linalg.norm(predicted_points(playlist_features) - target, axis=1)


class SupervisedRanker:
    """A classifier predicting "liked" from the same 17 features the policy sees."""

    def __init__(self, seed: int = 0):
        self.model = HistGradientBoostingClassifier(max_iter=150, random_state=seed)

    def fit(self, world: World) -> SupervisedRanker:
        xs, ys = [], []
        for _, listener in world.listeners.iterrows():
            xs.append(state_matrix(world.song_features, world.context(listener)))
            ys.append(world.taste.liked(listener).astype(int))
        with one_thread():  # small data: OpenMP threads cost more than they give (moodtune.threads)
            self.model.fit(np.concatenate(xs), np.concatenate(ys))
        return self

    def scores(self, playlist_features, listener):
        with one_thread():  # one playlist per call: ~20x faster than sklearn's threads under load
            return self.model.predict_proba(state_matrix(playlist_features, listener))[:, 1]


class GreedyCalm:
    """Always the unplayed song that sounds nearest the calm point (predicted valence-arousal)."""

    def __init__(self, calm_point):
        self.calm_point = np.asarray(calm_point, dtype=float)

    def scores(self, playlist_features, listener):
        return -np.linalg.norm(predicted_points(playlist_features) - self.calm_point, axis=1)


class IsoHeuristic:
    """The iso principle by hand: estimate the listener's point (valence from their mood,
    arousal from the last HRV reading, or from the mood before any reading), aim one step of
    ``step`` toward the calm point, play the unplayed song that sounds nearest that aim."""

    def __init__(self, calm_point, step: float):
        self.calm_point = np.asarray(calm_point, dtype=float)
        self.step = step

    def estimate(self, listener: ListenerContext, reading) -> np.ndarray:
        valence = (listener.mood - 3.0) / 2.0
        if reading is None:  # the population's stress at this mood (0.8 at mood 1, 0.4 at mood 5)
            arousal = 2 * (0.8 - 0.1 * (listener.mood - 1)) - 1
        else:
            arousal = float(reading[2] - reading[0])
        return np.array([valence, arousal])

    def choose(self, env: ListeningSessionEnv) -> int:
        here = self.estimate(env.context, env.last_reading)
        gap = self.calm_point - here
        dist = float(np.linalg.norm(gap))
        aim = self.calm_point if dist <= self.step else here + gap * (self.step / dist)
        songs = env.unplayed
        d = np.linalg.norm(predicted_points(env.world.song_features[songs]) - aim, axis=1)
        return songs[int(d.argmin())]


class PlanningOracle:
    """Beam search over song orders with the true simulator (hidden state and taste), each
    order scored by its expected reward over the HRV readings; plays the best order found."""

    def __init__(self, beam: int, calm_weight: float):
        self.beam = beam
        self.calm_weight = calm_weight

    def plan(self, env: ListeningSessionEnv) -> list[int]:
        world, li = env.world, env.listener_index
        beams: list[tuple[float, ListenerState, list[int]]] = [(0.0, env.hidden_state, [])]
        for _ in range(min(env.session_length, len(env.playlist))):
            grown = []
            for total, state, order in beams:
                for song in env.playlist:
                    if song in order:
                        continue
                    nxt, _ = world.next_state(li, state, song)
                    r = world.expected_reward(state.stress, nxt.stress, self.calm_weight)
                    grown.append((total + r, nxt, [*order, song]))
            grown.sort(key=lambda b: -b[0])
            beams = grown[: self.beam]
        return beams[0][2]


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
            "playlist": rng.choice(
                len(world.song_features), size=min(playlist_size, len(world.song_features)), replace=False
            ),
            "seed": int(rng.integers(2**31 - 1)),
        }
        for _ in range(n)
    ]


def _play(env: ListeningSessionEnv, policy, session: dict) -> tuple[float, float, list[int]]:
    obs, _ = env.reset(seed=session["seed"], options=session)
    total, done, played, info = 0.0, False, [], {}
    plan = policy.plan(env) if isinstance(policy, PlanningOracle) else None
    while not done:
        if plan is not None:
            obs, r, done, _, info = env.play(plan[len(env.played)])
        elif isinstance(policy, PolicyRanker) and policy.kind == "session":
            action, _ = policy.model.predict(obs, deterministic=True)
            obs, r, done, _, info = env.step(action)
        elif hasattr(policy, "choose"):
            obs, r, done, _, info = env.play(policy.choose(env))
        else:  # a ranker, greedy: re-scored on the unplayed songs with the listener's context now
            songs = env.unplayed
            s = np.asarray(policy.scores(env.world.song_features[songs], env.context), dtype=float)
            obs, r, done, _, info = env.play(int(songs[int(np.argmax(s))]))
        total += r
        played.append(info["track_index"])
    return total, float(info["stress_reduction"]), played


def initial_ranking(world: World, policy, session: dict) -> np.ndarray:
    listener = world.listeners.iloc[session["listener"]]
    feats = world.song_features[session["playlist"]]
    if isinstance(policy, PlanningOracle):
        s = world.taste.utilities(listener)[session["playlist"]]
    elif hasattr(policy, "choose"):  # a sequential heuristic: the order it plays from the start
        env = ListeningSessionEnv(world, len(session["playlist"]), len(session["playlist"]))
        return np.asarray(_play(env, policy, {**session, "seed": session["seed"]})[2])
    else:
        s = policy.scores(feats, world.context(listener))
    return np.asarray(session["playlist"])[np.argsort(-np.asarray(s), kind="stable")]


def evaluate(
    world: World,
    policies: dict,
    *,
    n_sessions: int,
    playlist_size: int,
    session_length: int,
    calm_weight: float,
    k: int,
    seed: int,
    per_session: dict | None = None,
) -> pd.DataFrame:
    """One row per policy: mean_reward, hit_rate_at_k, ndcg_at_k, stress_reduction.

    ``per_session``: a dict to fill with each policy's session rewards, in session order (the
    gate's paired comparison)."""
    env = ListeningSessionEnv(
        world, playlist_size=playlist_size, session_length=session_length, calm_weight=calm_weight
    )
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
        rows.append(
            {
                "policy": name,
                "mean_reward": float(np.mean(rewards)),
                "reward_std": float(np.std(rewards)),
                f"hit_rate_at_{k}": float(np.mean(hits)),
                f"ndcg_at_{k}": float(np.mean(ndcgs)) if ndcgs else float("nan"),
                "stress_reduction": float(np.mean(reductions)),
                "sessions": len(plan),
            }
        )
    return pd.DataFrame(rows)
