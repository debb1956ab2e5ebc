"""The ``retraining`` group: feedback -> continued training -> held-out + off-policy -> gate."""


from dagster import AssetExecutionContext, Config, MetadataValue, asset

from assets.resources import FeedbackStoreResource, MlflowResource, SettingsResource
from moodtune import registry
from moodtune.feedback.reread import reread_with_champion
from moodtune.policy import pipeline, registration


class RetrainConfig(Config):
    """The feedback window (``from_id`` < id <= ``to_id``; -1 = latest) and training budget."""

    from_id: int = 0
    to_id: int = -1
    timesteps: int = -1  # -1 -> retrain.timesteps
    degrade_scale: float = 0.0  # > 0 adds noise to the weights: a drill that must be rejected


@asset(group_name="retraining", compute_kind="stable-baselines3")
def retrained_policy(context: AssetExecutionContext, config: RetrainConfig, settings: SettingsResource,
                     mlflow: MlflowResource, feedback: FeedbackStoreResource,
                     recommendation_env: pipeline.EnvSpec) -> dict:
    """Continue training the champion policy on the feedback window plus the simulator, then
    gate it: held-out reward against the champion re-scored on the same sessions, and the
    off-policy estimates of both on the logged feedback."""
    s = settings.get()
    store = feedback.store()
    to_id = store.latest_feedback_id() if config.to_id < 0 else config.to_id
    window = store.window(config.from_id, to_id)
    rows = store.feedback_since(config.from_id)
    rows = reread_with_champion(rows[rows["id"] <= to_id], s, log=context.log.info)  # against stored baselines
    champion = registry.load_version(registry.POLICY, None, s)
    timesteps = s.retrain.timesteps if config.timesteps < 0 else config.timesteps
    with mlflow.run(context, run_name=f"retrain feedback {window.first_id}-{window.last_id}"):
        report = registration.retrain_and_register(s, recommendation_env, champion, rows, timesteps=timesteps,
                                                   degrade_scale=config.degrade_scale, window=window.as_dict(),
                                                   log=context.log.info)
    context.add_output_metadata({
        **report.metadata(),
        "feedback_window": MetadataValue.json({k: str(v) for k, v in window.as_dict().items()}),
        "held_out": MetadataValue.md(report.table.round(3).to_markdown(index=False)),
    })
    return {"version": report.version, "promoted": report.promoted, "scores": report.scores,
            "reason": report.reason}
