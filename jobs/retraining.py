"""Retraining: the feedback sensor and the job it requests."""


from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from assets.resources import FeedbackStoreResource, SettingsResource
from moodtune.settings import get_settings

policy_retraining_job = define_asset_job(
    "policy_retraining_job",
    selection=AssetSelection.assets("retrained_policy"),
    description="Continue training the champion policy on new feedback and gate the result.",
)


@sensor(
    job=policy_retraining_job,
    minimum_interval_seconds=get_settings().retrain.sensor_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests policy retraining when retrain.min_new_feedback rows arrived since the cursor.",
)
def feedback_retraining_sensor(context: SensorEvaluationContext, feedback: FeedbackStoreResource,
                               settings: SettingsResource):
    cursor = int(context.cursor or 0)
    needed = settings.get().retrain.min_new_feedback
    store = feedback.store()
    new = store.count_since(cursor)
    if new < needed:
        return SkipReason(f"{new} new feedback rows since id {cursor}; waiting for {needed - new} more "
                          f"(retrain.min_new_feedback={needed})")
    last = store.latest_feedback_id()
    context.update_cursor(str(last))
    return RunRequest(
        run_key=f"feedback-{last}",
        run_config={"ops": {"retrained_policy": {"config": {"from_id": cursor, "to_id": last}}}},
        tags={"feedback.from_id": str(cursor), "feedback.to_id": str(last)},
    )
