from pathlib import Path

import pytest

from moodtune.errors import ConfigError
from moodtune.settings import PROJECT_ROOT, load_settings


def test_paths_are_absolute_and_rooted(tmp_path):
    s = load_settings(environ={})
    assert s.data_dir == PROJECT_ROOT / "data"
    assert s.artifact_root.is_absolute()
    assert s.tracking_uri == f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'mlflow.db'}"


def test_environment_overrides(tmp_path):
    env = {
        "MOODTUNE_DATA_DIR": str(tmp_path / "d"),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MOODTUNE_PROJECT__SEED": "7",
    }
    s = load_settings(environ=env)
    assert s.data_dir == tmp_path / "d"
    assert s.tracking_uri == "http://127.0.0.1:5000"
    assert s.project.seed == 7


def test_relative_sqlite_uri_is_pinned_to_root():
    s = load_settings(environ={"MLFLOW_TRACKING_URI": "sqlite:///mlflow/other.db"})
    assert s.tracking_uri == f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'other.db'}"


def test_explicit_overrides_win_over_environment(tmp_path):
    s = load_settings(environ={"MOODTUNE_PROJECT__SEED": "7"}, overrides={"project": {"seed": 9}})
    assert s.project.seed == 9


def test_unknown_key_is_a_clear_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("project:\n  sead: 1\n")
    with pytest.raises(ConfigError, match="sead"):
        load_settings(params, environ={})


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_data_path_helper(tmp_path):
    s = load_settings(environ={"MOODTUNE_DATA_DIR": str(tmp_path)})
    assert s.data_path("audio", "clips") == tmp_path / "audio" / "clips"
    assert s.path("x/y") == (PROJECT_ROOT / "x/y").resolve()
    assert s.path(Path("/abs")) == Path("/abs")
