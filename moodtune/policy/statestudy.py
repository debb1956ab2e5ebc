"""The listener-state study: ranking toward calm from the state vs matching the mood (seed B).

Held-out simulated listeners start a session at their hidden valence-arousal point (mood and
stress, :func:`moodtune.policy.dynamics.initial_point`). Each writes a sentence or shows their
face, and that input *reflects* the point: the point plus the source's error (the spreads of
``state.sources``, the text's measured on the listener sentences). From that one observation:

* ``policy_from_state``: :func:`moodtune.state.estimate` → the policy's mood → the served policy
  ranks the playlist (what ``/recommend_text`` and ``/recommend_image`` do by default);
* ``policy_state_reading``: the same plus the state's stress as the policy's starting reading
  (an ablation: the policy was trained with no reading before the first song);
* ``nearest_emotion``: the songs nearest the observed point first (seed B's matching, the
  ``mode: match`` option);
* ``policy_told_mood``: the policy with the mood the listener would have picked on the form and
  no reading (today's ``/recommend``), for reference.

The listener then plays the top ``policy.session_length`` songs of that one ranking in order (a
single answer, as the service gives), under the simulator's dynamics; every ranker sees the
same sessions and the same HRV draws (paired). Reported: the stress reduction over the session
and the session reward, per seed.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from moodtune.policy.envs import ListeningSessionEnv
from moodtune.policy.evaluation import EmotionMatchRanker, sessions
from moodtune.policy.features import ListenerContext
from moodtune.state import estimate, from_point

RANKERS = ("policy_from_state", "policy_state_reading", "nearest_emotion", "policy_told_mood")


def _orders(
    policy, features: np.ndarray, context: ListenerContext, observed: np.ndarray, source: str, state_settings
) -> dict[str, np.ndarray]:
    state = estimate([from_point(source, observed[0], observed[1], state_settings)], state_settings)
    reading = state.policy_reading()
    mood = state.policy_mood()

    def by_policy(ctx: ListenerContext) -> np.ndarray:
        return np.argsort(-np.asarray(policy.scores(features, ctx), dtype=float), kind="stable")

    return {
        "policy_from_state": by_policy(ListenerContext(context.age, context.gender, mood)),
        "policy_state_reading": by_policy(
            ListenerContext(
                context.age,
                context.gender,
                mood,
                None if reading is None else cast("tuple[float, float, float]", tuple(map(float, reading))),
            )
        ),
        "nearest_emotion": np.argsort(-EmotionMatchRanker(observed).scores(features, context), kind="stable"),
        "policy_told_mood": by_policy(
            ListenerContext(context.age, context.gender, float(round(context.mood)))
        ),
    }


def run_study(
    world,
    policies: dict[int, object],
    p,
    state_settings,
    *,
    sources=("text", "photo"),
    seeds=None,
    n_sessions: int | None = None,
) -> pd.DataFrame:
    """One row per (source, seed, ranker): mean stress reduction and reward over the sessions.

    ``world``: held-out listeners (``EnvSpec.world("test")``); ``policies``: the trained policy
    per seed (each seed ranks with its own; ``seeds`` defaults to ``state.study.seeds``);
    ``p``: ``settings.policy``; ``state_settings``: ``settings.state``."""
    seeds = list(state_settings.study.seeds if seeds is None else seeds)
    n = int(state_settings.study.sessions if n_sessions is None else n_sessions)
    env = ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)
    rows = []
    for source in sources:
        spread = getattr(state_settings.sources, source)
        sd = np.array([spread.valence_sd, spread.arousal_sd])
        for seed in seeds:
            policy = policies[seed]
            rng = np.random.default_rng([seed, len(source)])
            totals: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in RANKERS}
            for session in sessions(world, n, p.playlist_size, seed):
                env.reset(seed=session["seed"], options=session)
                truth = env.hidden_state.point.copy()
                observed = np.clip(truth + rng.normal(0.0, sd), -1.0, 1.0)
                playlist = np.asarray(env.playlist)
                orders = _orders(
                    policy, world.song_features[playlist], env.context, observed, source, state_settings
                )
                for name, order in orders.items():
                    env.reset(seed=session["seed"], options=session)  # the same start and HRV draws
                    reward, info = 0.0, {}
                    for slot in order[: p.session_length]:
                        _, r, done, _, info = env.play(int(playlist[slot]))
                        reward += r
                        if done:
                            break
                    totals[name][0].append(float(info["stress_reduction"]))
                    totals[name][1].append(reward)
            for name, (reductions, rewards) in totals.items():
                rows.append(
                    {
                        "source": source,
                        "seed": seed,
                        "ranker": name,
                        "stress_reduction": float(np.mean(reductions)),
                        "reward": float(np.mean(rewards)),
                        "sessions": len(reductions),
                    }
                )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per source and ranker: the mean over seeds, and policy-from-state's gain over nearest
    emotion (difference of mean stress reduction) per seed."""
    out = table.groupby(["source", "ranker"])[["stress_reduction", "reward"]].agg(["mean", "std"])
    out.columns = [f"{m}_{s}" for m, s in out.columns]
    return out.reset_index().sort_values(["source", "stress_reduction_mean"], ascending=[True, False])


def gains(table: pd.DataFrame) -> dict[str, dict[str, float | list[float]]]:
    """Per source: stress reduction of policy-from-state minus nearest emotion (per seed, mean)
    and their ratio of means."""
    out: dict[str, dict[str, float | list[float]]] = {}
    for source, part in table.groupby("source"):
        wide = part.pivot(index="seed", columns="ranker", values="stress_reduction")
        diff = (wide["policy_from_state"] - wide["nearest_emotion"]).tolist()
        out[source] = {
            "per_seed_difference": [round(d, 4) for d in diff],
            "mean_difference": round(float(np.mean(diff)), 4),
            "policy_from_state": round(float(wide["policy_from_state"].mean()), 4),
            "nearest_emotion": round(float(wide["nearest_emotion"].mean()), 4),
            "every_seed_better": bool(all(d > 0 for d in diff)),
        }
    return out
