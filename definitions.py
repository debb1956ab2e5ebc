"""The Dagster code location: every asset, check, job, schedule, sensor and resource.

Assets and checks are loaded from the ``assets`` package, jobs/schedules/sensors from the
``jobs`` package, so adding a module there is all it takes to add a stage.
"""

from __future__ import annotations

import importlib
import pkgutil

from dagster import (
    Definitions,
    FilesystemIOManager,
    JobDefinition,
    ScheduleDefinition,
    SensorDefinition,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

import assets
import jobs
from assets.resources import FeedbackStoreResource, MlflowResource, SettingsResource
from jobs.executor import executor_for
from moodtune.settings import get_settings


def _jobs_sensors_schedules():
    found = {"jobs": [], "sensors": [], "schedules": []}
    for info in pkgutil.iter_modules(jobs.__path__):
        module = importlib.import_module(f"{jobs.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, (JobDefinition, UnresolvedAssetJobDefinition)):
                found["jobs"].append(value)
            elif isinstance(value, SensorDefinition):
                found["sensors"].append(value)
            elif isinstance(value, ScheduleDefinition):
                found["schedules"].append(value)
    return found


def build_resources(settings_resource: SettingsResource | None = None) -> dict:
    """The resources of the code location; tests pass a SettingsResource on temp dirs."""
    settings_resource = settings_resource or SettingsResource()
    settings = settings_resource.get()
    return {
        "settings": settings_resource,
        "mlflow": MlflowResource(settings=settings_resource),
        "feedback": FeedbackStoreResource(settings=settings_resource),
        "io_manager": FilesystemIOManager(base_dir=str(settings.data_path("assets"))),
    }


_found = _jobs_sensors_schedules()

defs = Definitions(
    assets=load_assets_from_package_module(assets),
    asset_checks=load_asset_checks_from_package_module(assets),
    jobs=_found["jobs"],
    sensors=_found["sensors"],
    schedules=_found["schedules"],
    resources=build_resources(),
    executor=executor_for(get_settings()),
)

__all__ = ["defs", "build_resources", "get_settings"]
