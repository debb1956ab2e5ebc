"""The Dagster code location: what it lists, and that settings are read when it loads, not on import."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from definitions import JOBS, build_definitions
from moodtune.registry.names import MODEL_NAMES, MODELS
from moodtune.settings import load_settings


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_importing_the_code_location_reads_no_settings(project_root, tmp_path):
    """With no params file, importing works and only loading the definitions fails (saying why)."""
    code = (
        "import definitions, jobs.retraining, jobs.pipeline\n"
        "from moodtune.errors import ConfigError\n"
        "try:\n    definitions.build_definitions(__import__('moodtune.settings').settings.get_settings())\n"
        "except ConfigError as exc:\n    print('ConfigError:', exc)\n"
    )
    env = {"MOODTUNE_PARAMS": str(tmp_path / "missing.yaml"), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project_root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ConfigError:" in done.stdout and "missing.yaml" in done.stdout


def test_the_sensor_interval_comes_from_the_settings_at_load():
    settings = load_settings(overrides={"retrain": {"sensor_interval_seconds": 7}})
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("feedback_retraining_sensor")
    assert sensor.minimum_interval_seconds == 7
    assert sensor.job_name == "policy_retraining_job"


def test_every_listed_job_resolves_and_the_build_everything_job_is_unpartitioned():
    defs = build_definitions(load_settings())
    graph = defs.resolve_asset_graph()
    for job in JOBS:
        assert defs.resolve_job_def(job.name) is not None
    everything = defs.resolve_job_def("all_assets_job")
    assert everything.partitions_def is None
    selected = {k.to_user_string() for k in everything.asset_layer.executable_asset_keys}
    expected = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name not in ("retraining", "library")
    }
    assert selected == expected
    assert "retrained_policy" not in selected and "catalog" in selected


def test_the_serving_asset_waits_for_every_model_s_training_asset_and_the_catalog():
    graph = build_definitions(load_settings()).resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("bento_models")).parent_keys}
    assert parents == {MODELS[name].asset for name in MODEL_NAMES} | {"catalog"}


def test_lazy_defs_is_what_dagster_loads():
    import definitions

    loaded = definitions.defs()
    assert isinstance(loaded, dg.Definitions)
    assert loaded.resolve_sensor_def("feedback_retraining_sensor") is not None
