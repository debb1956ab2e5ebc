"""Shared fixtures: every test runs against its own data dir and SQLite MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Point data, MLflow and Dagster at temp dirs so no test touches the project's stores."""
    base = tmp_path_factory.mktemp("moodtune")
    monkeypatch.setenv("MOODTUNE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
    monkeypatch.setenv("MOODTUNE_MLFLOW__ARTIFACT_ROOT", str(base / "artifacts"))
    monkeypatch.setenv("DAGSTER_HOME", str(base / "dagster"))
    (base / "dagster").mkdir()
    from moodtune.settings import get_settings

    get_settings.cache_clear()
    yield base
    get_settings.cache_clear()


@pytest.fixture
def settings(isolated_env):
    """Settings on the test's temp dirs (params.yaml plus the environment above)."""
    from moodtune.settings import load_settings

    return load_settings()


@pytest.fixture
def resources(isolated_env):
    """The code location's resources, bound to the test's temp dirs."""
    from assets.resources import SettingsResource
    from definitions import build_resources

    return build_resources(SettingsResource())


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


# Upstream models for the policy and retraining tests: audio, hrv, listeners and policy
# groups materialized once per session on small demo data, in their own stores.
SMALL = """
audio: {clips_per_cell: 4, clip_seconds: 3.0}
hrv: {subjects: 8, recordings_per_level: 2, recording_seconds: 180, iterations: 100}
policy:
  n_listeners: 80
  bank_grid: 6
  bank_per_point: 4
  bank_seconds: 120
  timesteps: 12000
  seed_timesteps: 2000
  seeds: [0]
  eval_sessions: 80
  playlist_size: 8
  session_length: 4
"""


@pytest.fixture(scope="session")
def policy_stack(tmp_path_factory):
    """Materialize audio, hrv, listeners and policy groups once, on small data."""
    from dagster import load_assets_from_modules, materialize

    from assets import audio, hrv, policy
    from assets.resources import SettingsResource
    from definitions import build_resources

    base = tmp_path_factory.mktemp("policy_stack")
    res = SettingsResource(data_dir=str(base / "data"), tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
                           overrides_yaml=SMALL + f"mlflow: {{artifact_root: {base / 'artifacts'}}}\n")
    resources = build_resources(res)
    result = materialize(load_assets_from_modules([audio, hrv, policy]), resources=resources)
    assert result.success
    return {"settings": res.get(), "result": result, "resources": resources, "settings_resource": res}




# The real service for tests/test_service*.py: text, image and catalog groups materialized on
# top of the policy stack's stores, the champions imported into a temp BentoML home, and
# `bentoml serve` started once per session on a free port (one worker, small input limits).
SERVICE_LIMITS = {"MOODTUNE_SERVICE__WORKERS": "1", "MOODTUNE_SERVICE__MAX_FILE_BYTES": "2000000",
                  "MOODTUNE_SERVICE__MAX_REQUEST_BYTES": "3000000", "MOODTUNE_SERVICE__MAX_TEXT_CHARS": "200",
                  "MOODTUNE_SERVICE__MAX_PLAYLIST": "60", "MOODTUNE_SERVICE__MAX_FILES": "4",
                  "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "1"}


@pytest.fixture(scope="session")
def service_stack(policy_stack, tmp_path_factory):
    from dagster import AssetSelection, load_assets_from_package_module, materialize

    import assets
    from bento.testing import ServiceProcess, import_models

    s = policy_stack["settings"]
    result = materialize(load_assets_from_package_module(assets), resources=policy_stack["resources"],
                         selection=AssetSelection.groups("text", "image", "catalog"))
    assert result.success
    base = tmp_path_factory.mktemp("service")
    env = {**os.environ, "MOODTUNE_DATA_DIR": str(s.data_dir), "MLFLOW_TRACKING_URI": s.tracking_uri,
           "MOODTUNE_MLFLOW__ARTIFACT_ROOT": str(s.artifact_root), "BENTOML_HOME": str(base / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "True", **SERVICE_LIMITS}
    import_models(env)
    service = ServiceProcess(env, base / "service.log").start()
    try:
        yield {"url": service.url, "settings": s, "env": env, "service": service, "base": base}
    finally:
        service.stop()
