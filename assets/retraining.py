"""The ``retraining`` group: feedback -> reward model -> recalibrated simulator -> retrained copy
of the champion -> held-out + off-policy -> gate."""

from dagster import AssetExecutionContext, Config, asset

from assets.emit import emit, gate_check_spec
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


@asset(
    group_name="retraining",
    compute_kind="stable-baselines3",
    check_specs=[gate_check_spec("retrained_policy")],  # the policy spec's also_gated_by
)
def retrained_policy(
    context: AssetExecutionContext,
    config: RetrainConfig,
    settings: SettingsResource,
    mlflow: MlflowResource,
    feedback: FeedbackStoreResource,
    recommendation_env: pipeline.EnvSpec,
):
    """Learn the listeners' response from the feedback window's logged outcomes (a reward model
    that recalibrates the simulator), teach a copy of the champion in it, then gate the copy:
    held-out reward against the champion re-scored on the same sessions, and the doubly robust
    off-policy estimates of both on feedback rows the reward model never saw."""
    s = settings.get()
    store = feedback.store()
    to_id = store.latest_feedback_id() if config.to_id < 0 else config.to_id
    window = store.window(config.from_id, to_id)
    rows = store.feedback_since(config.from_id)
    rows = reread_with_champion(
        rows[rows["id"] <= to_id], s, log=context.log.info
    )  # against stored baselines
    champion = registry.load_version(registry.POLICY, None, s)
    timesteps = s.retrain.timesteps if config.timesteps < 0 else config.timesteps
    with mlflow.run(context, run_name=f"retrain feedback {window.first_id}-{window.last_id}", link=False):
        report = registration.retrain_and_register(
            s,
            recommendation_env,
            champion,
            rows,
            timesteps=timesteps,
            degrade_scale=config.degrade_scale,
            window=window.as_dict(),
            log=context.log.info,
        )
    yield from emit(context, report, s)


@asset(group_name="retraining", compute_kind="mlflow", deps=[retrained_policy])
def shadow_challenger(
    context: AssetExecutionContext,
    settings: SettingsResource,
    mlflow: MlflowResource,
    feedback: FeedbackStoreResource,
) -> dict:
    """The policy challenger running in shadow (the service ranks every request with it too and
    logs its probabilities beside the champion's): its running off-policy estimate on those rows
    against the champion's rewards, in MLflow and here; the gate promotes it once the effective
    sample size allows a verdict and the interval clears the margin."""
    s = settings.get()
    rows = reread_with_champion(feedback.store().feedback_since(0), s, log=context.log.info)
    challenger = registry.get_alias(registry.POLICY, s.registry.challenger_alias, s)
    if challenger is None:
        out = registration.gate_shadow(s, rows, log=context.log.info)
    else:
        with mlflow.run(context, run_name=f"shadow {registry.POLICY} v{challenger.version}"):
            out = registration.gate_shadow(s, rows, log=context.log.info)
    context.add_output_metadata(
        {k: (v if isinstance(v, (int, float, bool)) else str(v)) for k, v in out.items() if v == v}
    )
    return out
