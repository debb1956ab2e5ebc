"""The server profile (`make up-server`), brought up for real on small demo data: PostgreSQL,
Redis, an MLflow tracking server with served artifacts, two Celery workers, the Dagster daemon
and webserver, the service. The build runs through the Celery executor; models register and
promote through the MLflow server; feedback lands in PostgreSQL; the daemon's sensor requests
the retraining run; the service hot-swaps to a new champion; `down` leaves nothing running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.server]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_params(path: Path) -> Path:
    from conftest import SMALL

    def merge(a, b):
        for k, v in b.items():
            if isinstance(v, dict) and isinstance(a.get(k), dict):
                merge(a[k], v)
            else:
                a[k] = v
        return a

    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(SMALL))
    merge(params, {"retrain": {"min_new_feedback": 3, "sensor_interval_seconds": 5},
                   "service": {"workers": 1, "reload_interval_seconds": 2}})
    path.write_text(yaml.safe_dump(params))
    return path


def server(env: dict, command: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/server.sh", command], cwd=ROOT, env=env, timeout=timeout,
                          capture_output=True, text=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("server")
    ports = {k: str(free_port()) for k in ("PG_PORT", "REDIS_PORT", "MLFLOW_PORT", "DAGSTER_PORT", "SERVICE_PORT")}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOODTUNE_", "MLFLOW_", "DAGSTER_", "BENTOML_"))}
    env.update(ports, MOODTUNE_SERVER_DIR=str(base / "state"), MOODTUNE_PG_DIR=f"/tmp/moodtune-pg-{ports['PG_PORT']}",
               MOODTUNE_PARAMS=str(small_params(base / "params.yaml")))
    up = None
    try:
        up = server(env, "up", 1500)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        yield {"env": env, "ports": ports, "state": base / "state", "up": up}
    finally:
        pids = [int(p.read_text()) for p in (base / "state" / "logs").glob("*.pid")]
        down = server(env, "down", 300)
        assert down.returncode == 0, down.stderr
        deadline = time.time() + 30
        while time.time() < deadline and any(alive(p) for p in pids):
            time.sleep(0.5)
        assert not [p for p in pids if alive(p)], "processes left running after `server.sh down`"
        for name, port in ports.items():
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", int(port))) != 0, f"{name} {port} still answers"


def settings_of(stack):
    from moodtune.settings import load_settings

    env = {**stack["env"], "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{stack['ports']['MLFLOW_PORT']}",
           "MOODTUNE_DATA_DIR": str(stack["state"] / "data")}
    return load_settings(env["MOODTUNE_PARAMS"], environ={
        **env, "MOODTUNE_FEEDBACK__URL": f"postgresql+psycopg://moodtune@127.0.0.1:{stack['ports']['PG_PORT']}/feedback"})


def test_the_build_ran_on_both_celery_workers(stack):
    logs = stack["state"] / "logs"
    done = {w: (logs / f"{w}.log").read_text().count("succeeded in") for w in ("worker1", "worker2")}
    assert all(n >= 1 for n in done.values()), done
    assert sum(done.values()) >= 15  # every asset step ran as a Celery task


def test_models_are_registered_and_promoted_through_the_mlflow_server(stack):
    from mlflow.tracking import MlflowClient

    from moodtune import registry

    uri = f"http://127.0.0.1:{stack['ports']['MLFLOW_PORT']}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in registry.MODEL_NAMES:
        champion = client.get_model_version_by_alias(name, "champion")
        run = client.get_run(champion.run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
    # the server keeps the artifacts in its own root, not in the project's mlflow/ folder
    assert any((stack["state"] / "mlflow-artifacts").rglob("MLmodel"))


def test_feedback_in_postgresql_triggers_retraining_and_the_service_hot_swaps(stack, monkeypatch):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
    from mlflow.tracking import MlflowClient

    from moodtune import registry
    from moodtune.feedback import FeedbackStore

    s = settings_of(stack)
    url = f"http://127.0.0.1:{stack['ports']['SERVICE_PORT']}"
    http = httpx.Client(base_url=url, timeout=60)
    catalog = pd.read_parquet(s.data_path("catalog", "catalog.parquet"))
    ids = list(np.random.default_rng(0).choice(catalog["track_id"].to_numpy(), size=8, replace=False))
    store = FeedbackStore(s.feedback.url, settings=s)
    before = store.latest_feedback_id() or 0
    for i in range(4):
        a = http.post("/recommend", json={"track_ids": ids, "age": 30 + i, "gender": "female", "mood": 2, "k": 3})
        assert a.status_code == 200, a.text
        a = a.json()
        r = http.post("/feedback", json={"recommendation_id": a["recommendation_id"],
                                         "track_id": a["tracks"][0]["track_id"], "stress_level": "low"})
        assert r.status_code == 200, r.text
    assert store.latest_feedback_id() >= before + 4  # in PostgreSQL, not a SQLite file

    monkeypatch.setenv("MOODTUNE_DAGSTER_PG_URL",
                       f"postgresql+psycopg2://moodtune@127.0.0.1:{stack['ports']['PG_PORT']}/dagster")
    instance = DagsterInstance.from_config(str(stack["state"] / "dagster"))
    deadline, run = time.time() + 600, None
    while time.time() < deadline:
        runs = instance.get_runs(RunsFilter(job_name="policy_retraining_job"))
        if runs and runs[0].status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
            run = runs[0]
            break
        time.sleep(3)
    assert run is not None, "the daemon's sensor requested no retraining run within 10 minutes"
    assert run.status == DagsterRunStatus.SUCCESS
    assert run.tags.get("dagster/sensor_name") == "feedback_retraining_sensor"

    uri = f"http://127.0.0.1:{stack['ports']['MLFLOW_PORT']}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    latest = max(int(v.version) for v in client.search_model_versions(f"name='{registry.POLICY}'"))
    assert latest >= 2  # the retraining registered a challenger through the server
    client.set_registered_model_alias(registry.POLICY, "champion", str(latest))  # promote it by hand
    deadline = time.time() + 120
    while time.time() < deadline:
        serving = http.post("/models", json={}).json()["models"][registry.POLICY]["version"]
        if serving == str(latest):
            break
        time.sleep(2)
    assert serving == str(latest), "the service did not follow the MLflow server's new champion"
