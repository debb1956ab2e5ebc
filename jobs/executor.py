"""The Dagster executor the settings name (``dagster.executor``): one code path for every profile."""

from __future__ import annotations

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from moodtune.settings import Settings


def executor_for(settings: Settings) -> ExecutorDefinition:
    """``in_process``, ``multiprocess`` (``max_concurrent`` steps) or ``celery`` (Redis broker)."""
    d = settings.dagster
    if d.executor == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured({"broker": d.celery_broker, "backend": d.celery_backend})
    if d.executor == "in_process":
        return in_process_executor
    config: dict = {"max_concurrent": d.max_concurrent}
    if d.start_method == "forkserver":
        # steps fork from a server that imported the code location once, instead of each
        # step's process importing torch, mlflow, sklearn, ... again (~5 s of CPU per step)
        config["start_method"] = {"forkserver": {"preload_modules": ["definitions"]}}
    return multiprocess_executor.configured(config)
