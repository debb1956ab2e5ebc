"""Retraining: the feedback sensor and the job it requests."""

from dagster import (
    AssetObservation,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from assets.resources import FeedbackStoreResource, SettingsResource

policy_retraining_job = define_asset_job(
    "policy_retraining_job",
    selection=AssetSelection.assets("retrained_policy", "shadow_challenger"),
    description="Retrain the policy from new feedback and gate it; then judge the challenger running in shadow.",
)


def parse_cursor(text: str | None) -> tuple[int, int | None]:
    """``"ID"`` or ``"ID:SEEN"``: the last feedback id retrained on, and how many new rows the
    sensor last reported on the asset (``None``: not reported since that retrain)."""
    head, _, seen = (text or "0").partition(":")
    return int(head), (int(seen) if seen else None)


def _feedback_retraining(
    context: SensorEvaluationContext, feedback: FeedbackStoreResource, settings: SettingsResource
):
    cursor, reported = parse_cursor(context.cursor)
    needed = settings.get().retrain.min_new_feedback
    store = feedback.store()
    new = store.count_since(cursor)
    if new < needed:
        message = (
            f"{new} new feedback rows since id {cursor}; waiting for {needed - new} more "
            f"(retrain.min_new_feedback={needed})"
        )
        if new == reported:
            return SkipReason(message)
        # the count changed: say so on the retrained_policy asset too (its page and Plots tab show
        # the latest observation), so why the sensor waits is visible without opening a tick
        context.update_cursor(f"{cursor}:{new}")
        return SensorResult(
            skip_reason=message,
            asset_events=[
                AssetObservation(
                    "retrained_policy",
                    description=f"feedback retraining sensor: {message}",
                    metadata={
                        "new_feedback_rows": new,
                        "rows_needed": needed,
                        "waiting_for": needed - new,
                        "since_feedback_id": cursor,
                    },
                )
            ],
        )
    last = store.latest_feedback_id()
    context.update_cursor(str(last))
    return RunRequest(
        run_key=f"feedback-{last}",
        run_config={"ops": {"retrained_policy": {"config": {"from_id": cursor, "to_id": last}}}},
        tags={"feedback.from_id": str(cursor), "feedback.to_id": str(last)},
    )


def build_feedback_retraining_sensor(interval_seconds: int) -> SensorDefinition:
    """The feedback sensor, evaluated at most every ``interval_seconds``
    (``retrain.sensor_interval_seconds``; ``definitions.py`` passes it when the code location loads)."""
    return sensor(
        name="feedback_retraining_sensor",
        job=policy_retraining_job,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests policy retraining when retrain.min_new_feedback rows arrived since the cursor.",
    )(_feedback_retraining)


def __getattr__(name: str):
    # ``feedback_retraining_sensor`` for callers that import it by name: built on first use with
    # the settings of that moment, so importing this module reads no settings.
    if name == "feedback_retraining_sensor":
        from moodtune.settings import get_settings

        return build_feedback_retraining_sensor(get_settings().retrain.sensor_interval_seconds)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
