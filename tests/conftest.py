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
