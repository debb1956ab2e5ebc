"""The ``policy_demo`` group: the policy study on the synthesised demo clips, whose songs carry
their true emotions (docs/policy.md#on-the-demo-catalog). The served policy is trained on the
served catalog (group ``policy``); this group keeps the demo catalog's table beside it and the
comparison dynamics (``policy.compare.dynamics``). Not registered. ``make up`` leaves it out
(``make build`` builds it)."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from assets.resources import MlflowResource, SettingsResource
from moodtune.policy import pipeline, registration


@asset(
    group_name="policy_demo",
    compute_kind="stable-baselines3",
    deps=["audio_emotion_model", "hrv_stress_model"],
)
def demo_policy_evaluation(
    context: AssetExecutionContext,
    settings: SettingsResource,
    mlflow: MlflowResource,
    audio_clips: pd.DataFrame,
    audio_features: pd.DataFrame,
) -> pd.DataFrame:
    """A2C trained on the demo clips' sessions (their labels are their truth) per seed, under the
    configured dynamics and each comparison dynamics, and evaluated against every baseline and
    the planning oracle on held-out listeners; logged to MLflow, not registered."""
    s = settings.get()
    truth = audio_clips.dropna(subset=["genre"])
    listeners = pipeline.simulated_listener_ratings(truth, s.policy, s.project.seed)["listeners"]
    spec = pipeline.recommendation_env(s, truth, audio_features, listeners)
    with mlflow.run(context):
        trained = registration.train_and_log(s, spec, s.data_path("policy", "demo_models"), compare=True)
        evaluated = registration.evaluate_and_log(s, spec, trained)
    context.add_output_metadata(
        {
            "songs": len(spec.track_ids),
            "train_seconds": round(trained["train_seconds"], 1),
            **{
                f"summary_{d}_dynamics": MetadataValue.md(t.round(3).to_markdown(index=False))
                for d, t in evaluated["summaries"].items()
            },
            "targets": MetadataValue.json(evaluated["targets"]),
            "learning_curves": MetadataValue.json(registration.curve_summary(trained["curves"])),
            **{k: v for k, v in evaluated["targets"][s.policy.dynamics].items() if isinstance(v, float)},
        }
    )
    return pd.concat([t.assign(dynamics=d) for d, t in evaluated["tables"].items()], ignore_index=True)
