"""The policy stage end to end, as plain functions the Dagster assets call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput
from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.evaluation import (
    EmotionMatchRanker,
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
from moodtune.policy.packaging import load_ranker
from moodtune.policy.response import ResponseBank
from moodtune.settings import PolicySettings


def listener_params(p: PolicySettings) -> ListenerParams:
    return ListenerParams(
        taste_noise=p.taste_noise, song_noise=p.song_noise, like_threshold=p.like_threshold,
        neutral_utility=p.neutral_utility, sensitivity=tuple(p.sensitivity), mood_gain=p.mood_gain,
    )


def simulated_listener_ratings(truth: pd.DataFrame, p: PolicySettings, seed: int) -> dict[str, pd.DataFrame]:
    """Simulated listeners (with their hidden parameters and split) and their ratings."""
    rng = np.random.default_rng(seed)
    listeners = split_listeners(simulate_listeners(p.n_listeners, rng, listener_params(p)), p.test_share, rng)
    ratings = simulate_ratings(listeners, TasteModel(truth, listener_params(p)))
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

    def world(self, split: str) -> World:
        listeners = self.listeners[self.listeners["split"] == split].reset_index(drop=True)
        return World(self.song_features, TasteModel(self.truth, self.listener_params), listeners, self.bank, self.rewards)


def build_env_spec(truth: pd.DataFrame, predicted: pd.DataFrame, listeners: pd.DataFrame, bank: ResponseBank,
                   rewards: dict[str, float], p: PolicySettings, model_versions: dict[str, str]) -> EnvSpec:
    """Align the audio model's predicted features with the ground truth, track by track."""
    labelled = truth.dropna(subset=list(GEMS6) + ["genre"])
    labelled = labelled[labelled["genre"].isin(GENRES)]
    ids = [t for t in labelled["track_id"] if t in predicted.index]
    if len(ids) < p.playlist_size:
        raise InvalidInput(f"only {len(ids)} labelled tracks with audio features; the sessions need {p.playlist_size}")
    truth_aligned = labelled.set_index("track_id").loc[ids].reset_index()
    features = predicted.loc[ids, list(SONG_COLUMNS)].to_numpy(dtype=float)
    return EnvSpec(ids, features, truth_aligned, listeners, bank, dict(rewards), listener_params(p), model_versions)


def make_session_env(spec: EnvSpec, p: PolicySettings, split: str = "train"):
    world = spec.world(split)
    return lambda: ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)


def baselines(spec: EnvSpec, seed: int) -> dict:
    train = spec.world("train")
    return {
        "random": RandomRanker(seed),
        "popularity": PopularityRanker(like_rates(train), train.song_features),
        "emotion_match": EmotionMatchRanker(),
        "supervised": SupervisedRanker(seed).fit(train),
        "oracle": "oracle",
    }


def evaluate_policy(spec: EnvSpec, policies: dict, p: PolicySettings, seed: int,
                    per_session: dict | None = None) -> pd.DataFrame:
    return evaluate(spec.world("test"), policies, n_sessions=p.eval_sessions, playlist_size=p.playlist_size,
                    session_length=p.session_length, calm_weight=p.calm_weight, k=p.eval_k, seed=seed,
                    per_session=per_session)


def evaluation_table(spec: EnvSpec, trained: dict, p: PolicySettings) -> pd.DataFrame:
    """Every policy on the held-out listeners, once per seed (A2C: the policy of that seed)."""
    frames = []
    bandit = load_ranker(trained["seed_bandit"], {"kind": "seed", "temperature": p.temperature})
    for seed in p.seeds:
        policies = {"a2c_session": load_ranker(trained["session"][seed], {"kind": "session", "temperature": p.temperature}),
                    "a2c_seed_bandit": bandit, **baselines(spec, seed)}
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


def recommendation_env(settings, audio_clips: pd.DataFrame, audio_features: pd.DataFrame,
                       listeners: pd.DataFrame) -> EnvSpec:
    """Songs as the champion audio model hears them, the listeners, and the HRV response bank
    read by the champion stress model (both loaded through the one registry loader)."""
    from moodtune import registry
    from moodtune.feedback.reward import reward_for_stress
    from moodtune.hrv import METRIC_COLUMNS, metrics
    from moodtune.hrv.simulate import simulate_rr
    from moodtune.policy.response import LEVELS

    p = settings.policy
    audio = registry.load_version(registry.AUDIO, None, settings)
    hrv = registry.load_version(registry.HRV, None, settings)
    bank = ResponseBank.build(
        simulate_rr, metrics, lambda m: hrv.obj.predict_proba(pd.DataFrame(m, columns=list(METRIC_COLUMNS))),
        tuple(METRIC_COLUMNS), grid_size=p.bank_grid, per_point=p.bank_per_point, seconds=p.bank_seconds,
        rng=np.random.default_rng(settings.project.seed),
    )
    rewards = {level: reward_for_stress(level, settings.feedback.reward) for level in LEVELS}
    versions = {registry.AUDIO: str(audio.version), registry.HRV: str(hrv.version)}
    return build_env_spec(audio_clips, audio.obj.predict_proba(audio_features), listeners, bank, rewards, p,
                          versions)
