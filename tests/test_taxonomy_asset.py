"""The foundation's real asset, materialized in-process, and the code location's validity."""

import subprocess
import sys

import mlflow
import pytest
from dagster import materialize

from assets.taxonomy import emotion_taxonomy, taxonomy_weights_sum_to_one
from moodtune import emotions, registry


def test_emotion_taxonomy_materializes_and_logs_a_run(resources, settings):
    result = materialize([emotion_taxonomy, taxonomy_weights_sum_to_one], resources=resources)
    assert result.success
    table = result.output_for_node("emotion_taxonomy")
    assert set(table["taxonomy"]) == set(emotions.TAXONOMY_NAMES)
    assert table.groupby(["taxonomy", "label"])["weight"].sum().between(1 - 1e-9, 1 + 1e-9).all()
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    # the run is in the test's MLflow store, with the table as an artifact
    registry.configure(settings)
    runs = mlflow.search_runs(experiment_names=[settings.mlflow.experiment])
    assert len(runs) == 1
    assert runs.iloc[0]["tags.dagster.asset"] == "emotion_taxonomy"
    # ... and the IO manager stored the output under the data root
    assert (settings.data_path("assets", "emotion_taxonomy")).exists()


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_definitions_validate(project_root):
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "definitions"],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_cli_help_and_error_exit(project_root):
    ok = subprocess.run([sys.executable, "-m", "moodtune.cli", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "taxonomy" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "moodtune.cli", "settings"],
        capture_output=True,
        text=True,
        env={"MOODTUNE_PARAMS": "/nonexistent.yaml", "PATH": "/usr/bin"},
    )
    assert bad.returncode == 2 and "not found" in bad.stderr
