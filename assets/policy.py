"""The ``listeners`` and ``policy`` groups: simulated listeners, environments, A2C, evaluation.

Thin adapters: the work is in :mod:`moodtune.policy` (``pipeline`` builds the environment,
``registration`` trains, evaluates, logs, registers and gates).
"""


import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from assets import CRITICAL_PATH
from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.policy import pipeline, registration

POLICY_MODEL = registry.POLICY


@asset(group_name="listeners", compute_kind="python", op_tags=CRITICAL_PATH)
def listener_ratings(context: AssetExecutionContext, settings: SettingsResource, audio_clips: pd.DataFrame) -> dict:
    """Listeners (age, gender, mood, hidden taste and physiology; train/test split) and their
    liked/disliked ratings of the catalog's tracks. Emotify annotations when configured."""
    s = settings.get()
    p = s.policy
    if p.listeners_csv:
        out = pipeline.emotify_listener_ratings(s.path(p.listeners_csv))
    else:
        out = pipeline.simulated_listener_ratings(audio_clips.dropna(subset=["genre"]), p, s.project.seed)
    listeners, ratings = out["listeners"], out["ratings"]
    context.add_output_metadata({
        "listeners": len(listeners),
        "ratings": len(ratings),
        "like_rate": float(ratings["liked"].mean()),
        "held_out_listeners": int((listeners.get("split") == "test").sum()) if "split" in listeners else 0,
        "like_rate_by_mood": MetadataValue.json(ratings.groupby("mood")["liked"].mean().round(3).to_dict()),
    })
    return out


@asset(group_name="policy", compute_kind="python", deps=["audio_emotion_model", "hrv_stress_model"], op_tags=CRITICAL_PATH)
def recommendation_env(context: AssetExecutionContext, settings: SettingsResource, audio_clips: pd.DataFrame,
                       audio_features: pd.DataFrame, listener_ratings: dict) -> pipeline.EnvSpec:
    """Songs as the champion audio model hears them, simulated listeners, and the HRV
    response bank read by the champion stress model."""
    spec = pipeline.recommendation_env(settings.get(), audio_clips, audio_features, listener_ratings["listeners"])
    context.add_output_metadata({
        "songs": len(spec.track_ids),
        "listeners": len(spec.listeners),
        "response_bank_recordings": int(spec.bank.probabilities.shape[0] * spec.bank.probabilities.shape[1]),
        "hrv_reading_matches_simulated_band": spec.bank.level_accuracy(),
        "model_versions": MetadataValue.json(spec.model_versions),
    })
    return spec


@asset(group_name="policy", compute_kind="stable-baselines3", op_tags=CRITICAL_PATH)
def a2c_policy(context: AssetExecutionContext, settings: SettingsResource, mlflow: MlflowResource,
               recommendation_env: pipeline.EnvSpec) -> dict:
    """The candidate-aware A2C on the listening session (one policy per seed, and per seed under
    each comparison dynamics) and A2C on seed A's bandit."""
    s = settings.get()
    with mlflow.run(context):
        trained = registration.train_and_log(s, recommendation_env)
    context.add_output_metadata({
        "seed_score": trained["seed_score"],
        "timesteps_per_seed": trained["timesteps"],
        "seeds": MetadataValue.json(list(s.policy.seeds)),
        "train_seconds": round(trained["train_seconds"], 1),
        "train_cpu_seconds": round(trained["train_cpu_seconds"], 1),
        "total_train_seconds": round(trained["total_train_seconds"], 1),
        "learning_curves": MetadataValue.json(registration.curve_summary(trained["curves"])),
    })
    # the timings are in this metadata and the MLflow run; the stored output (a DVC out) holds
    # what a rebuild reproduces byte for byte
    return {k: v for k, v in trained.items() if not k.endswith("_seconds")}


@asset(group_name="policy", compute_kind="mlflow", op_tags=CRITICAL_PATH)
def policy_evaluation(context: AssetExecutionContext, settings: SettingsResource, mlflow: MlflowResource,
                      recommendation_env: pipeline.EnvSpec, a2c_policy: dict) -> pd.DataFrame:
    """A2C vs random, popularity, emotion-match, supervised greedy, greedy-calm, the iso
    heuristic and the planning oracle on held-out listeners, per seed, under the session
    dynamics and the comparison ones; registers the first seed's policy and gates it."""
    s = settings.get()
    with mlflow.run(context):
        report = registration.evaluate_and_register(s, recommendation_env, a2c_policy, log=context.log.info)
    summaries = {f"summary_{d}_dynamics": MetadataValue.md(t.round(3).to_markdown(index=False))
                 for d, t in report.extra["summaries"].items()}
    context.add_output_metadata({
        **report.metadata(), **summaries,
        "targets": MetadataValue.json(report.extra["targets"]),
        "learning_curves": MetadataValue.json(registration.curve_summary(a2c_policy["curves"])),
        "registered_version": report.version,
    })
    return report.table

