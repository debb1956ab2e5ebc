"""`moodtune recommend` and `moodtune feedback` against the running service: the same input
gives the same answer in the terminal as over HTTP, and a recommendation made on one side
takes feedback on the other (one feedback store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from moodtune import cli
from moodtune.feedback import FeedbackStore, default_url

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _cli_environment(monkeypatch):
    """main() quiets the libraries through the environment: restore it after each test."""
    for key in ("MLFLOW_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(key, os.environ.get(key, "ERROR" if key.startswith("MLFLOW") else "3"))
COMPARED = ("rank", "track_id", "score", "probability", "match", "reason", "profile")


@pytest.fixture(scope="module")
def svc(service_stack):
    with httpx.Client(base_url=service_stack["url"], timeout=120) as client:
        yield {**service_stack, "client": client}


@pytest.fixture
def stack_env(svc, monkeypatch):
    """This process reads the service's stores and limits (what the CLI of that machine sees)."""
    from moodtune.settings import get_settings

    for key, value in svc["env"].items():
        if key.startswith(("MOODTUNE_", "MLFLOW_")):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield svc["env"]
    get_settings.cache_clear()


def _ids(svc, n: int, seed: int) -> list[str]:
    catalog = pd.read_parquet(svc["settings"].data_path("catalog", "catalog.parquet"))
    return list(np.random.default_rng(seed).choice(catalog["track_id"].to_numpy(), size=n, replace=False))


def _run_cli(argv, capsys) -> tuple[int, dict]:
    code = cli.main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_recommend_in_the_terminal_is_the_api_answer(svc, stack_env):
    ids = _ids(svc, 12, seed=3)
    body = {"track_ids": ids, "age": 41, "gender": "female", "mood": 4, "k": 4}
    api = svc["client"].post("/recommend", json=body).json()
    # the real entry point, in a fresh process: JSON on stdout, nothing coloured anywhere
    env = {**stack_env, "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-m", "moodtune.cli", "recommend", *ids, "--age", "41", "--gender",
                           "female", "--mood", "4", "-k", "4", "--json"], capture_output=True, text=True,
                          env=env, timeout=300, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout + done.stderr, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    terminal = json.loads(done.stdout)
    assert [{k: t[k] for k in COMPARED} for t in terminal["tracks"]] == \
           [{k: t[k] for k in COMPARED} for t in api["tracks"]]
    for key in ("k", "requested_k", "candidates", "listener", "model_versions", "source"):
        assert terminal[key] == api[key], key
    assert terminal["recommendation_id"] != api["recommendation_id"]  # each logged its own event
    store = FeedbackStore(default_url(svc["settings"]), settings=svc["settings"])
    logged = store.get_recommendation(terminal["recommendation_id"])
    assert logged.chosen == [t["track_id"] for t in api["tracks"]] and (logged.age, logged.mood) == (41, 4)
    assert terminal["tracks"][0]["match"] == 100 and all(0 <= t["match"] <= 100 for t in terminal["tracks"])


def test_feedback_crosses_between_the_terminal_and_the_api(svc, stack_env, capsys, tmp_path):
    from moodtune.hrv.simulate import simulate_rr

    ids = _ids(svc, 8, seed=5)
    code, mine = _run_cli(["recommend", *ids, "--age", "27", "--gender", "male", "--mood", "2", "-k", "3",
                           "--json"], capsys)
    assert code == 0 and len(mine["tracks"]) == 3
    track = mine["tracks"][1]["track_id"]
    # the terminal's recommendation takes feedback over HTTP ...
    row = svc["client"].post("/feedback", json={"recommendation_id": mine["recommendation_id"], "track_id": track,
                                                "stress_level": "low"}).json()
    assert row["recommendation_id"] == mine["recommendation_id"] and row["stress_level"] == "low"
    assert row["choice_probability"] == pytest.approx(mine["tracks"][1]["probability"], abs=1e-6)
    # ... and the API's takes feedback from the terminal, from an HRV file, read as the API reads it
    api = svc["client"].post("/recommend", json={"track_ids": ids, "age": 27, "gender": "male", "mood": 2,
                                                 "k": 3}).json()
    rr = tmp_path / "rr.txt"
    np.savetxt(rr, simulate_rr(0.8, 300, np.random.default_rng(2)), fmt="%.1f")
    code, stored = _run_cli(["feedback", api["recommendation_id"], api["tracks"][0]["track_id"], "--hrv", str(rr),
                             "--json"], capsys)
    assert code == 0 and stored["source"] == "rr"
    with rr.open("rb") as fh:
        reading = svc["client"].post("/analyze_hrv", files={"file": ("rr.txt", fh, "text/plain")}).json()
    assert stored["stress_level"] == reading["level"]
    assert stored["reading"]["probabilities"] == pytest.approx(reading["probabilities"], abs=1e-9)
    assert stored["reading"]["metrics"] == pytest.approx(reading["metrics"], abs=1e-9)
    # the same client key again is the stored row, as over HTTP
    argv = ["feedback", api["recommendation_id"], api["tracks"][1]["track_id"], "--stress", "high",
            "--client-key", "cli-retry-0001", "--json"]
    first, again = _run_cli(argv, capsys)[1], _run_cli(argv, capsys)[1]
    assert again["id"] == first["id"] and again["replayed"] and not first["replayed"]


def test_terminal_errors_are_one_line_and_exit_2(svc, stack_env, capsys):
    ids = _ids(svc, 3, seed=1)
    assert cli.main(["recommend", *ids, "no-such-track", "--age", "30", "--gender", "female", "--mood", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("moodtune recommend: error:") and "no-such-track" in err and "\n" not in err
    assert cli.main(["recommend", *ids, "--age", "30", "--gender", "female", "--mood", "9"]) == 2
    assert "mood" in capsys.readouterr().err
    assert cli.main(["feedback", "0" * 32, ids[0], "--stress", "low"]) == 2
    assert capsys.readouterr().err.startswith("moodtune feedback: error:")
