"""DVC between two clones: one builds and pushes, the other pulls and finds nothing to redo.

Two real git clones of this repository in a temp dir, the project's DVC remote (``.dvc/config``:
the folder ``moodtune-dvc-remote`` beside the clone, here shared by both), and one real stage,
``image``: it registers and gates the face model in MLflow, so its outputs are the ones that
could carry a run id or a clone path. The second clone also rebuilds it from scratch and must
record the same hashes: stored outputs hold no clone path, run id or build time
(``moodtune/portable.py``). (Each stage run is a Dagster start-up of ~10 s; a second stage
would add two to the suite's slowest test and check nothing the image stage does not.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["image"]

pytestmark = pytest.mark.slow


def _env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOODTUNE_", "MLFLOW_", "DAGSTER_"))}
    home = clone / ".dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        PYTHONPATH=str(clone),
        DAGSTER_HOME=str(home),
        MPLBACKEND="Agg",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return env


def _run(clone: Path, *cmd: str, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=clone, env=_env(clone), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def test_a_second_clone_pulls_and_dvc_repro_finds_nothing_to_redo(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(a)], check=True, timeout=120)
    _run(a, "dvc", "repro", *STAGES)
    assert "Data and pipelines are up to date" in _run(a, "dvc", "status", *STAGES)
    pushed = _run(a, "dvc", "push", *STAGES)
    assert (tmp_path / "moodtune-dvc-remote").is_dir(), pushed  # the default remote, beside the clone
    _run(a, "git", "add", "dvc.lock")  # unchanged when the committed dvc.lock already matches this code
    _run(a, "git", "commit", "-q", "--allow-empty", "-m", "built")

    subprocess.run(["git", "clone", "-q", str(a), str(b)], check=True, timeout=120)
    _run(b, "dvc", "pull", *STAGES)
    assert "Data and pipelines are up to date" in _run(b, "dvc", "status", *STAGES)
    repro = _run(b, "dvc", "repro", *STAGES)
    assert "Running stage" not in repro and repro.count("didn't change, skipping") == len(STAGES), repro

    # the same stages rebuilt in the other clone (its own MLflow store) record the same hashes
    _run(b, "dvc", "repro", "--force", *STAGES)
    diff = subprocess.run(["git", "diff", "--stat", "dvc.lock"], cwd=b, capture_output=True, text=True)
    assert diff.stdout == "", f"a rebuild in another clone changed dvc.lock:\n{diff.stdout}"
