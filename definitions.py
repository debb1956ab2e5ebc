"""The Dagster code location: every asset, check, job, sensor and resource, listed here.

A new asset module, job or sensor is added to the lists below (a new asset group also needs
its DVC stage: ``tests/test_dvc_stages.py`` says which); a model family's training asset is
not: :mod:`assets.training` builds one per ``ModelSpec``, with its gate check. The settings are
read when Dagster loads the code location (``defs`` is lazy), never when this module is imported.
"""

from __future__ import annotations

import dagster as dg

from assets import (
    audio,
    catalog,
    hrv,
    image,
    policy,
    policy_demo,
    retraining,
    serving,
    taxonomy,
    text,
    training,
)
from assets.resources import FeedbackStoreResource, MlflowResource, SettingsResource, StoredOutputsIOManager
from jobs.executor import executor_for
from jobs.pipeline import all_assets_job, taxonomy_job
from jobs.retraining import build_feedback_retraining_sensor, policy_retraining_job
from moodtune.settings import Settings, get_settings

ASSET_MODULES = [
    taxonomy,
    audio,
    image,
    hrv,
    text,
    training,
    policy,
    catalog,
    policy_demo,
    serving,
    retraining,
]
JOBS = [all_assets_job, taxonomy_job, policy_retraining_job]


def build_resources(settings_resource: SettingsResource | None = None) -> dict:
    """The code location's resources. Tests pass a SettingsResource on temp dirs; the same
    classes serve every profile (PostgreSQL, an MLflow server: configuration, not code)."""
    settings_resource = settings_resource or SettingsResource()
    return {
        "settings": settings_resource,
        "mlflow": MlflowResource(settings=settings_resource),
        "feedback": FeedbackStoreResource(settings=settings_resource),
        "io_manager": StoredOutputsIOManager(settings=settings_resource),
    }


def build_definitions(
    settings: Settings, settings_resource: SettingsResource | None = None
) -> dg.Definitions:
    """Every asset, check, job and sensor, with ``settings`` deciding the sensor's interval."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=JOBS,
        sensors=[build_feedback_retraining_sensor(settings.retrain.sensor_interval_seconds)],
        resources=build_resources(settings_resource),
        executor=executor_for(settings),  # dagster.executor: multiprocess, or celery in the server profile
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dagster ... -m definitions`` loads (at start-up, with that moment's environment)."""
    return build_definitions(get_settings())


__all__ = ["ASSET_MODULES", "JOBS", "build_definitions", "build_resources", "defs"]
