"""The ``listeners`` and ``policy`` groups: simulated listeners, environments, A2C, evaluation.

Thin adapters: the work is in :mod:`moodtune.policy` (``pipeline`` builds the environment,
``registration`` trains, evaluates, logs, registers and gates). The policy's training asset,
``policy_evaluation``, is built from its spec (:mod:`assets.training`).
"""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from assets import CRITICAL_PATH
from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.policy import pipeline, registration, songs

POLICY_MODEL = registry.POLICY


@asset(group_name="listeners", compute_kind="python", deps=["audio_emotion_model"], op_tags=CRITICAL_PATH)
def listener_ratings(
    context: AssetExecutionContext,
    settings: SettingsResource,
    catalog_tracks: pd.DataFrame,
    catalog_features: pd.DataFrame,
) -> dict:
    """The served catalog's songs as they truly are to the listeners (labels where a song has
    them, else the champion's profile plus a fixed per-song offset: moodtune/policy/songs.py),
    the listeners (age, gender, mood, hidden taste and physiology; train/test split) and their
    liked/disliked ratings of those songs. Emotify annotations when configured."""
    s = settings.get()
    p = s.policy
    audio = registry.load_version(registry.AUDIO, None, s)
    truth = songs.song_truth(
        catalog_tracks, audio.obj.predict_proba(catalog_features), s.project.seed, p.real_truth_noise
    )
    if p.listeners_csv:
        out = pipeline.emotify_listener_ratings(s.path(p.listeners_csv))
    else:
        out = pipeline.simulated_listener_ratings(truth, p, s.project.seed)
    listeners, ratings = out["listeners"], out["ratings"]
    labelled = songs.labelled_share(catalog_tracks)
    context.add_output_metadata(
        {
            "songs": len(truth),
            "songs_truth": "labels"
            if labelled == 1.0
            else (
                "profile + offset" if labelled == 0.0 else f"labels for {labelled:.0%}, else profile + offset"
            ),
            "listeners": len(listeners),
            "ratings": len(ratings),
            "like_rate": float(ratings["liked"].mean()),
            "held_out_listeners": int((listeners.get("split") == "test").sum())
            if "split" in listeners
            else 0,
            "like_rate_by_mood": MetadataValue.json(
                ratings.groupby("mood")["liked"].mean().round(3).to_dict()
            ),
        }
    )
    return {**out, "songs": truth}


@asset(
    group_name="policy",
    compute_kind="python",
    deps=["audio_emotion_model", "hrv_stress_model"],
    op_tags=CRITICAL_PATH,
)
def recommendation_env(
    context: AssetExecutionContext,
    settings: SettingsResource,
    catalog_features: pd.DataFrame,
    listener_ratings: dict,
) -> pipeline.EnvSpec:
    """The served catalog's songs as the champion audio model hears them and as they truly are,
    the simulated listeners, and the HRV response bank read by the champion stress model."""
    spec = pipeline.recommendation_env(
        settings.get(), listener_ratings["songs"], catalog_features, listener_ratings["listeners"]
    )
    context.add_output_metadata(
        {
            "songs": len(spec.track_ids),
            "listeners": len(spec.listeners),
            "response_bank_recordings": int(
                spec.bank.probabilities.shape[0] * spec.bank.probabilities.shape[1]
            ),
            "hrv_reading_matches_simulated_band": spec.bank.level_accuracy(),
            "model_versions": MetadataValue.json(spec.model_versions),
        }
    )
    return spec


@asset(group_name="policy", compute_kind="stable-baselines3", op_tags=CRITICAL_PATH)
def a2c_policy(
    context: AssetExecutionContext,
    settings: SettingsResource,
    mlflow: MlflowResource,
    recommendation_env: pipeline.EnvSpec,
) -> dict:
    """The candidate-aware A2C on the served catalog's listening sessions (one policy per seed) and
    A2C on seed A's bandit; the comparison dynamics are the demo study's (demo_policy_evaluation)."""
    s = settings.get()
    with mlflow.run(context):
        trained = registration.train_and_log(s, recommendation_env)
    context.add_output_metadata(
        {
            "seed_score": trained["seed_score"],
            "timesteps_per_seed": trained["timesteps"],
            "seeds": MetadataValue.json(list(s.policy.seeds)),
            "train_seconds": round(trained["train_seconds"], 1),
            "train_cpu_seconds": round(trained["train_cpu_seconds"], 1),
            "total_train_seconds": round(trained["total_train_seconds"], 1),
            "learning_curves": MetadataValue.json(registration.curve_summary(trained["curves"])),
            # the A2C phase on the same held-out sessions at each point (after the warm start first)
            "held_out_curves": MetadataValue.json(
                {n: [[t, round(r, 3)] for t, r in c] for n, c in trained["held_out_curves"].items()}
            ),
        }
    )
    # the timings are in this metadata and the MLflow run; the stored output (a DVC out) holds
    # what a rebuild reproduces byte for byte
    return {k: v for k, v in trained.items() if not k.endswith("_seconds")}


@asset(group_name="policy", compute_kind="mlflow")
def listener_state_study(
    context: AssetExecutionContext,
    settings: SettingsResource,
    mlflow: MlflowResource,
    recommendation_env: pipeline.EnvSpec,
    a2c_policy: dict,
) -> pd.DataFrame:
    """Held-out simulated listeners whose sentence or photo reflects their state: the stress
    reduction when the policy ranks from the listener state (the service's default) vs the
    songs nearest their emotion (seed B's matching), per seed (docs/state.md)."""
    import mlflow as mlflow_lib

    from moodtune.policy import statestudy
    from moodtune.policy.package import load_ranker

    s = settings.get()
    p = s.policy
    policies = {
        seed: load_ranker(a2c_policy["session"][seed], {"kind": "session"})
        for seed in s.state.study.seeds
        if seed in a2c_policy["session"]
    }
    table = statestudy.run_study(recommendation_env.world("test"), policies, p, s.state, seeds=list(policies))
    summary = statestudy.summarise(table)
    gains = statestudy.gains(table)
    with mlflow.run(context):
        mlflow_lib.log_params(
            {
                "state.study.sessions": s.state.study.sessions,
                "state.study.seeds": ",".join(map(str, s.state.study.seeds)),
                **{
                    f"state.sources.{k}.{axis}": v
                    for k, spread in s.state.sources.model_dump().items()
                    for axis, v in spread.items()
                },
            }
        )
        mlflow_lib.log_metrics(
            {
                f"{source}_{key}": value
                for source, g in gains.items()
                for key, value in g.items()
                if isinstance(value, float)
            }
        )
        mlflow_lib.log_text(summary.round(4).to_markdown(index=False), "state_study/summary.md")
        mlflow_lib.log_text(table.round(4).to_csv(index=False), "state_study/per_seed.csv")
    context.add_output_metadata(
        {
            "summary": MetadataValue.md(summary.round(3).to_markdown(index=False)),
            "gains": MetadataValue.json(gains),
            # plain numbers: Dagster's Plots tab draws them across materializations
            **{f"{source}_gain_over_nearest_emotion": g["mean_difference"] for source, g in gains.items()},
        }
    )
    return table
