"""The policy stage end to end, as plain functions the Dagster assets call."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput
from moodtune.policy.config import IsoSettings, PolicySettings
from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.evaluation import (
    EmotionMatchRanker,
    GreedyCalm,
    IsoHeuristic,
    PlanningOracle,
    PopularityRanker,
    RandomRanker,
    SupervisedRanker,
    evaluate,
    like_rates,
)
from moodtune.policy.features import SONG_COLUMNS
from moodtune.policy.listeners import (
    ListenerParams,
    TasteModel,
    simulate_listeners,
    simulate_ratings,
    split_listeners,
)
from moodtune.policy.package import load_ranker
from moodtune.policy.response import ResponseBank


def simulated_listener_ratings(truth: pd.DataFrame, p: PolicySettings, seed: int) -> dict[str, pd.DataFrame]:
    """Simulated listeners (with their hidden parameters and split) and their ratings."""
    rng = np.random.default_rng(seed)
    listeners = split_listeners(simulate_listeners(p.n_listeners, rng, p), p.test_share, rng)
    ratings = simulate_ratings(listeners, TasteModel(truth, p))
    ratings = ratings.merge(listeners[["listener_id", "split"]], on="listener_id")
    return {"listeners": listeners, "ratings": ratings}


def emotify_listener_ratings(path: Path) -> dict[str, pd.DataFrame]:
    """Emotify annotations: one row per (listener, track) with age, gender, mood and liked.

    Real annotations carry no physiological response model, so they train the supervised
    baseline and are used for ranking metrics; the environments need the simulator.
    """
    if not path.exists():
        raise InvalidInput(f"policy.listeners_csv {path} does not exist; point it at Emotify's data.csv")
    raw = pd.read_csv(path)
    raw.columns = [c.strip().lower().replace(" ", "_") for c in raw.columns]
    need = {"track_id", "age", "gender", "mood", "liked"}
    if not need <= set(raw.columns):
        raise InvalidInput(f"{path} is missing columns {sorted(need - set(raw.columns))}")
    listener_key = raw[["age", "gender", "mood"]].astype(str).agg("-".join, axis=1)
    raw["listener_id"] = "E" + listener_key
    ratings = raw[["listener_id", "track_id", "age", "gender", "mood", "liked"]].copy()
    listeners = ratings.drop_duplicates("listener_id")[["listener_id", "age", "gender", "mood"]]
    return {"listeners": listeners.reset_index(drop=True), "ratings": ratings}


@dataclass
class EnvSpec:
    """What the environments are built from (the ``recommendation_env`` asset)."""

    track_ids: list[str]
    song_features: np.ndarray
    truth: pd.DataFrame
    listeners: pd.DataFrame
    bank: ResponseBank
    rewards: dict[str, float]
    listener_params: ListenerParams
    model_versions: dict[str, str]
    iso: IsoSettings | None = None  # the session dynamics: iso (these effect sizes) or taste (None)
    point_seed: int = 0
    point_jitter: float = 0.0
    stress_shift: np.ndarray | None = None  # (age groups x songs): see World.stress_shift

    def world(self, split: str, dynamics: str | None = None) -> World:
        """The listeners of ``split``; ``dynamics`` ("iso" / "taste") overrides the spec's."""
        listeners = self.listeners[self.listeners["split"] == split].reset_index(drop=True)
        iso = self.iso if dynamics is None else (self.iso or _missing_iso()) if dynamics == "iso" else None
        return World(
            self.song_features,
            TasteModel(self.truth, self.listener_params),
            listeners,
            self.bank,
            self.rewards,
            iso,
            self.point_seed,
            self.point_jitter,
            self.stress_shift,
        )

    def with_dynamics(self, dynamics: str, p: PolicySettings) -> EnvSpec:
        """The same spec under other session dynamics ("iso" or "taste")."""
        return dataclasses.replace(self, iso=p.iso if dynamics == "iso" else None)


def _missing_iso():
    raise InvalidInput("this environment has no iso dynamics parameters; build it with policy.dynamics: iso")


def build_env_spec(
    truth: pd.DataFrame,
    predicted: pd.DataFrame,
    listeners: pd.DataFrame,
    bank: ResponseBank,
    rewards: dict[str, float],
    p: PolicySettings,
    model_versions: dict[str, str],
) -> EnvSpec:
    """Align the audio model's predicted features with the ground truth, track by track."""
    labelled = truth.dropna(subset=list(GEMS6) + ["genre"])
    labelled = labelled[labelled["genre"].isin(GENRES)]
    ids = [t for t in labelled["track_id"] if t in predicted.index]
    if len(ids) < p.playlist_size:
        raise InvalidInput(
            f"only {len(ids)} labelled tracks with audio features; the sessions need {p.playlist_size}"
        )
    truth_aligned = labelled.set_index("track_id").loc[ids].reset_index()
    features = predicted.loc[ids, list(SONG_COLUMNS)].to_numpy(dtype=float)
    if p.dynamics not in ("iso", "taste"):
        raise InvalidInput(f"policy.dynamics must be 'iso' or 'taste', got {p.dynamics!r}")
    return EnvSpec(
        ids,
        features,
        truth_aligned,
        listeners,
        bank,
        dict(rewards),
        p,
        model_versions,
        p.iso if p.dynamics == "iso" else None,
        p.iso.point_seed,
        p.iso.point_jitter,
    )


def make_session_env(spec: EnvSpec, p: PolicySettings, split: str = "train"):
    world = spec.world(split)
    return lambda: ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)


def baselines(spec: EnvSpec, seed: int, p: PolicySettings) -> dict:
    """The baselines a sceptic would pick, and the planning oracle (the ceiling)."""
    train = spec.world("train")
    return {
        "random": RandomRanker(seed),
        "popularity": PopularityRanker(like_rates(train), train.song_features),
        "emotion_match": EmotionMatchRanker(),
        "supervised": SupervisedRanker(seed).fit(train),
        "greedy_calm": GreedyCalm(p.iso.calm_point),
        "iso_heuristic": IsoHeuristic(p.iso.calm_point, p.iso.heuristic_step),
        "oracle": PlanningOracle(p.oracle_beam, p.calm_weight),
    }


def evaluate_policy(
    spec: EnvSpec, policies: dict, p: PolicySettings, seed: int, per_session: dict | None = None
) -> pd.DataFrame:
    return evaluate(
        spec.world("test"),
        policies,
        n_sessions=p.eval_sessions,
        playlist_size=p.playlist_size,
        session_length=p.session_length,
        calm_weight=p.calm_weight,
        k=p.eval_k,
        seed=seed,
        per_session=per_session,
    )


def evaluation_table(
    spec: EnvSpec, trained: dict, p: PolicySettings, dynamics: str | None = None
) -> pd.DataFrame:
    """Every policy on the held-out listeners, once per seed (A2C: the policy of that seed).
    ``dynamics``: one of ``policy.compare.dynamics`` (A2C trained under it, ``trained["compare"]``)."""
    frames = []
    bandit = load_ranker(trained["seed_bandit"], {"kind": "seed"})
    sessions, seeds = trained["session"], p.seeds
    if dynamics is not None:
        spec, sessions, seeds = spec.with_dynamics(dynamics, p), trained["compare"][dynamics], p.compare.seeds
    # one process: spawning workers here cost more than it saved (a fresh make up's evaluation
    # took 97 s in 2 workers against 50 s in one)
    for seed in seeds:
        a2c = load_ranker(sessions[seed], {"kind": "session"})
        policies = {"a2c_session": a2c, "a2c_seed_bandit": bandit, **baselines(spec, seed, p)}
        table = evaluate_policy(spec, policies, p, seed)
        table.insert(1, "seed", seed)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds, per policy, best mean reward first."""
    metrics = [c for c in table.columns if c not in ("policy", "seed", "sessions", "reward_std")]
    summary = table.groupby("policy")[metrics].agg(["mean", "std"])
    summary.columns = [f"{m}_{s}" for m, s in summary.columns]
    return summary.sort_values("mean_reward_mean", ascending=False).reset_index()


def recommendation_env(
    settings, truth: pd.DataFrame, features: pd.DataFrame, listeners: pd.DataFrame
) -> EnvSpec:
    """Songs as the champion audio model hears them (from their audio ``features``) beside what
    they truly are (``truth``: track_id, genre, GEMS-6 marks; :mod:`moodtune.policy.songs`), the
    listeners, and the HRV response bank read by the champion stress model (both models loaded
    through the one registry loader)."""
    from moodtune import registry
    from moodtune.feedback.reward import reward_for_stress
    from moodtune.hrv import METRIC_COLUMNS, metrics
    from moodtune.hrv.simulate import simulate_rr
    from moodtune.policy.response import LEVELS

    p = settings.policy
    audio = registry.load_version(registry.AUDIO, None, settings)
    hrv = registry.load_version(registry.HRV, None, settings)
    bank = ResponseBank.build(
        simulate_rr,
        lambda rr: metrics(rr, settings.hrv.metrics),
        lambda m: hrv.obj.predict_proba(pd.DataFrame(m, columns=list(METRIC_COLUMNS))),
        tuple(METRIC_COLUMNS),
        grid_size=p.bank.grid,
        per_point=p.bank.per_point,
        seconds=p.bank.seconds,
        rng=np.random.default_rng(settings.project.seed),
    )
    rewards = {level: reward_for_stress(level, settings.feedback.reward) for level in LEVELS}
    versions = {registry.AUDIO: str(audio.version), registry.HRV: str(hrv.version)}
    return build_env_spec(truth, audio.obj.predict_proba(features), listeners, bank, rewards, p, versions)


MYOPIC_BASELINES = ("random", "popularity", "emotion_match", "supervised", "greedy_calm")


def targets(summary: pd.DataFrame, policy: str = "a2c_session") -> dict[str, float | str]:
    """Issue 21's targets read from a summary: the policy's mean reward over seeds against the
    best myopic baseline (x1.10), the iso heuristic (x1.00) and the planning oracle (x0.90)."""
    mean = summary.set_index("policy")["mean_reward_mean"]
    best = max(MYOPIC_BASELINES, key=lambda name: mean.get(name, float("-inf")))
    out: dict[str, Any] = {
        "a2c_mean_reward": float(mean[policy]),
        "best_baseline": best,
        "best_baseline_mean_reward": float(mean[best]),
        "a2c_over_best_baseline": float(mean[policy] / mean[best]),
    }
    for name, key in (("iso_heuristic", "a2c_over_iso_heuristic"), ("oracle", "a2c_over_oracle")):
        if name in mean:
            out[key] = float(mean[policy] / mean[name])
    out["targets_met"] = float(
        out["a2c_over_best_baseline"] >= 1.10
        and out.get("a2c_over_iso_heuristic", 1) >= 1.0
        and out.get("a2c_over_oracle", 1) >= 0.90
    )
    return out
