"""The ``listeners`` and ``policy`` groups: simulated listeners, environments, A2C, evaluation."""


import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow as mlflow_lib
import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.feedback.reward import reward_for_stress
from moodtune.policy import pipeline
from moodtune.policy.features import ListenerContext
from moodtune.policy.packaging import PolicyPyfunc, input_example
from moodtune.policy.response import LEVELS, ResponseBank

POLICY_MODEL = "moodtune-policy"


@asset(group_name="listeners", compute_kind="python")
def listener_ratings(context: AssetExecutionContext, settings: SettingsResource, audio_clips: pd.DataFrame) -> dict:
    """Listeners (age, gender, mood, hidden taste and physiology; train/test split) and their
    liked/disliked ratings of the catalog's tracks. Emotify annotations when configured."""
    s = settings.get()
    p = s.policy
    if p.listeners_csv:
        out = pipeline.emotify_listener_ratings(s.path(p.listeners_csv))
    else:
        truth = audio_clips.dropna(subset=["genre"])
        out = pipeline.simulated_listener_ratings(truth, p, s.project.seed)
    listeners, ratings = out["listeners"], out["ratings"]
    context.add_output_metadata({
        "listeners": len(listeners),
        "ratings": len(ratings),
        "like_rate": float(ratings["liked"].mean()),
        "held_out_listeners": int((listeners.get("split") == "test").sum()) if "split" in listeners else 0,
        "like_rate_by_mood": MetadataValue.json(ratings.groupby("mood")["liked"].mean().round(3).to_dict()),
    })
    return out


@asset(group_name="policy", compute_kind="python", deps=["audio_emotion_model", "hrv_stress_model"])
def recommendation_env(
    context: AssetExecutionContext,
    settings: SettingsResource,
    audio_clips: pd.DataFrame,
    audio_features: pd.DataFrame,
    listener_ratings: dict,
) -> pipeline.EnvSpec:
    """Songs as the champion audio model hears them, simulated listeners, and the HRV
    response bank read by the champion stress model."""
    from moodtune.hrv import METRIC_COLUMNS, metrics
    from moodtune.hrv.simulate import simulate_rr

    s = settings.get()
    p = s.policy
    audio_model = registry.load(registry.AUDIO, None, s)
    reader = registry.load(registry.HRV, None, s)
    predicted = audio_model.predict_proba(audio_features)
    rng = np.random.default_rng(s.project.seed)
    bank = ResponseBank.build(
        simulate_rr, metrics,
        lambda m: reader.predict_proba(pd.DataFrame(m, columns=list(METRIC_COLUMNS))),
        tuple(METRIC_COLUMNS), grid_size=p.bank_grid, per_point=p.bank_per_point, seconds=p.bank_seconds, rng=rng,
    )
    versions = {
        "moodtune-audio": str(registry.champion("moodtune-audio", s).version),
        "moodtune-hrv": str(registry.champion("moodtune-hrv", s).version),
    }
    rewards = {level: reward_for_stress(level, s.feedback.reward) for level in LEVELS}
    spec = pipeline.build_env_spec(audio_clips, predicted, listener_ratings["listeners"], bank, rewards, p, versions)
    context.add_output_metadata({
        "songs": len(spec.track_ids),
        "listeners": len(spec.listeners),
        "response_bank_recordings": int(np.prod(bank.probabilities.shape[:2])),
        "hrv_reading_matches_simulated_band": bank.level_accuracy(),
        "model_versions": MetadataValue.json(versions),
    })
    return spec


@asset(group_name="policy", compute_kind="stable-baselines3")
def a2c_policy(context: AssetExecutionContext, settings: SettingsResource, mlflow: MlflowResource,
               recommendation_env: pipeline.EnvSpec) -> dict:
    """A2C on the listening-session environment (one policy per seed) and on seed A's bandit."""
    s = settings.get()
    p = s.policy
    with mlflow.run(context):
        registry.log_params({"policy": p.model_dump(exclude={"gate_floors"})})
        trained = pipeline.train_policies(recommendation_env, p, s.data_path("policy", "models"))
        registry.log_metrics({"seed_score": trained["seed_score"]})
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, curve in trained["curves"].items():
            if curve:
                steps, rewards = zip(*curve, strict=True)
                ax.plot(steps, rewards, label=name)
        ax.set_xlabel("timesteps")
        ax.set_ylabel("episode reward (moving mean)")
        ax.legend()
        registry.log_figure(fig, "policy/learning_curve.png")
        for name, curve in trained["curves"].items():
            for step, value in curve[:: max(1, len(curve) // 200)]:
                registry.log_metrics({f"curve.{name}": value}, step=int(step))
    context.add_output_metadata({
        "seed_score": trained["seed_score"],
        "timesteps_per_seed": trained["timesteps"],
        "seeds": MetadataValue.json(list(p.seeds)),
    })
    return trained


@asset(group_name="policy", compute_kind="mlflow")
def policy_evaluation(context: AssetExecutionContext, settings: SettingsResource, mlflow: MlflowResource,
                      recommendation_env: pipeline.EnvSpec, a2c_policy: dict) -> pd.DataFrame:
    """A2C vs random, popularity, emotion matching, supervised and the oracle on held-out
    listeners, per seed; registers the first seed's policy and gates it on mean reward."""
    s = settings.get()
    p = s.policy
    spec = recommendation_env
    table = pipeline.evaluation_table(spec, a2c_policy, p)
    summary = pipeline.summarise(table)
    first = table[table["seed"] == p.seeds[0]].set_index("policy")
    candidate = float(first.loc["a2c_session", "mean_reward"])
    scores = {
        "mean_reward": candidate,
        "reward_lift_over_random": candidate - float(first.loc["random", "mean_reward"]),
        f"hit_rate_at_{p.eval_k}": float(first.loc["a2c_session", f"hit_rate_at_{p.eval_k}"]),
        f"ndcg_at_{p.eval_k}": float(first.loc["a2c_session", f"ndcg_at_{p.eval_k}"]),
        "stress_reduction": float(first.loc["a2c_session", "stress_reduction"]),
        "seed_score": float(a2c_policy["seed_score"]),
    }
    with mlflow.run(context) as run:
        registry.log_metrics(scores)
        registry.log_dataframe(table, "evaluation/per_seed.csv")
        registry.log_text(summary.to_markdown(index=False), "evaluation/summary.md")
        registry.log_figure(_bar_plot(summary, p.eval_k), "evaluation/policies.png")
        champion_score = _champion_score(spec, p, s)
        version = _register(spec, a2c_policy, p, s, scores, run.info.run_id)
        decision = registry.promote(POLICY_MODEL, version.version, scores, p.gate_floors, p.gate_margin,
                                    metric="mean_reward", champion_score=champion_score, settings=s)
    context.log.info(f"gate: {decision.reason}")
    context.add_output_metadata({
        "summary": MetadataValue.md(summary.round(3).to_markdown(index=False)),
        "seed_score": scores["seed_score"],
        "registered_version": str(version.version),
        "promoted": decision.promoted,
        "gate_reason": decision.reason,
    })
    return table


def _bar_plot(summary: pd.DataFrame, k: int):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric in zip(axes, ["mean_reward", f"ndcg_at_{k}", "stress_reduction"], strict=True):
        ax.bar(summary["policy"], summary[f"{metric}_mean"], yerr=summary[f"{metric}_std"].fillna(0))
        ax.set_title(metric)
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def _champion_score(spec, p, s) -> float | None:
    """The current champion re-evaluated on the same held-out sessions (first seed)."""

    if registry.champion(POLICY_MODEL, s) is None:
        return None
    ranker = registry.load(registry.POLICY, None, s)
    table = pipeline.evaluate_policy(spec, {"champion": ranker}, p, p.seeds[0])
    return float(table.iloc[0]["mean_reward"])


def _register(spec, trained: dict, p, s, scores: dict, run_id: str):
    seed = p.seeds[0]
    with tempfile.TemporaryDirectory() as tmp:
        meta = pipeline.write_meta(Path(tmp) / "meta.json", "session", p.temperature,
                                   {"seed": seed, "timesteps": trained["timesteps"], **spec.model_versions})
        example = input_example(spec.song_features[: p.playlist_size], spec.track_ids[: p.playlist_size],
                                ListenerContext(30, 0, 2.0))
        info = mlflow_lib.pyfunc.log_model(
            name="policy",
            python_model=PolicyPyfunc(),
            artifacts={"policy": trained["session"][seed], "meta": str(meta)},
            input_example=example,
        )
    return registry.register(info.model_uri, POLICY_MODEL, scores=scores,
                             tags={"source_run": run_id, "kind": "listening-session A2C"}, settings=s)
