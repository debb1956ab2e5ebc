"""The server profile (`make up-server`), brought up for real on small demo data: PostgreSQL,
Redis, an MLflow tracking server with served artifacts, two Celery workers, the Dagster daemon
and webserver, the service. The build runs through the Celery executor; models register and
promote through the MLflow server; feedback lands in PostgreSQL; the daemon's sensor requests
the retraining run; the service hot-swaps to a new champion; a backfill of the listener library
(two partitions of real music files) runs on the Celery workers; `down` leaves nothing running."""

from __future__ import annotations

import os
import pickle
import re
import shutil
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


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def small_params(path: Path) -> Path:
    from conftest import SMALL

    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(SMALL))
    merge(
        params,
        {
            "retrain": {"min_new_feedback": 3, "sensor_interval_seconds": 5},
            "service": {"workers": 1, "reload_interval_seconds": 2},
        },
    )
    path.write_text(yaml.safe_dump(params))
    return path


def server(env: dict, command: str, timeout: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/server.sh", command, *args],
        cwd=ROOT,
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("server")
    ports = {
        k: str(free_port()) for k in ("PG_PORT", "REDIS_PORT", "MLFLOW_PORT", "DAGSTER_PORT", "SERVICE_PORT")
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOODTUNE_", "MLFLOW_", "DAGSTER_", "BENTOML_"))
    }
    env.update(
        ports,
        MOODTUNE_SERVER_DIR=str(base / "state"),
        MOODTUNE_PG_DIR=f"/tmp/moodtune-pg-{ports['PG_PORT']}",
        MOODTUNE_PARAMS=str(small_params(base / "params.yaml")),
    )
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

    env = {
        **stack["env"],
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{stack['ports']['MLFLOW_PORT']}",
        "MOODTUNE_DATA_DIR": str(stack["state"] / "data"),
    }
    return load_settings(
        env["MOODTUNE_PARAMS"],
        environ={
            **env,
            "MOODTUNE_FEEDBACK__URL": f"postgresql+psycopg://moodtune@127.0.0.1:{stack['ports']['PG_PORT']}/feedback",
        },
    )


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
        a = http.post(
            "/recommend", json={"track_ids": ids, "age": 30 + i, "gender": "female", "mood": 2, "k": 3}
        )
        assert a.status_code == 200, a.text
        a = a.json()
        r = http.post(
            "/feedback",
            json={
                "recommendation_id": a["recommendation_id"],
                "track_id": a["tracks"][0]["track_id"],
                "stress_level": "low",
            },
        )
        assert r.status_code == 200, r.text
    assert store.latest_feedback_id() >= before + 4  # in PostgreSQL, not a SQLite file

    monkeypatch.setenv(
        "MOODTUNE_DAGSTER_PG_URL",
        f"postgresql+psycopg2://moodtune@127.0.0.1:{stack['ports']['PG_PORT']}/dagster",
    )
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


def test_the_library_backfill_runs_each_shard_on_the_celery_workers(
    stack, real_music_files, tmp_path, monkeypatch
):
    """`server.sh library`: audio_library_shards lists a folder of real music in two shards (two
    partitions), then a backfill launched through the webserver is run by the daemon, one run per
    partition, each step on a Celery worker; both partitions end materialized in PostgreSQL, each
    output one row per file with features, tags and the champion's probabilities."""
    from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

    from moodtune.audio.library import shards
    from moodtune.emotions import GEMS6, GENRES
    from moodtune.portable import from_portable

    music = tmp_path / "music"
    music.mkdir()
    for f in real_music_files:
        if f.name in ("2.ogg", "3.ogg", "8.ogg"):  # the three shortest full tracks (27-45 s)
            shutil.copy(f, music / f.name)
    expected = shards(music, 2)
    assert len(expected) == 2, expected  # exactly two partitions (shard-000: 2.ogg, 8.ogg; shard-001: 3.ogg)
    params = Path(stack["env"]["MOODTUNE_PARAMS"])
    original = params.read_text()
    # the workers read params.yaml at each step: the library is configured while the profile runs
    params.write_text(
        yaml.safe_dump(
            merge(yaml.safe_load(original), {"audio": {"music_dir": str(music), "library_shards": 2}})
        )
    )
    # one more worker joins as a second machine would (docs/operations.md): the same broker,
    # PostgreSQL, MLflow server and data dir; `down` stops it with the others
    joined = server(stack["env"], "worker", 60, "worker3")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    try:
        done = server(stack["env"], "library", 900)
    finally:
        params.write_text(original)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert re.search(
        r"worker3@\S+ ready\.", (stack["state"] / "logs" / "worker3.log").read_text()
    )  # on the broker
    assert "runs succeeded" in done.stdout, done.stdout[-2000:]

    monkeypatch.setenv(
        "MOODTUNE_DAGSTER_PG_URL",
        f"postgresql+psycopg2://moodtune@127.0.0.1:{stack['ports']['PG_PORT']}/dagster",
    )
    instance = DagsterInstance.from_config(str(stack["state"] / "dagster"))
    assert set(instance.get_dynamic_partitions("audio_library_shards")) == set(expected)
    backfill = instance.get_backfills()[0]  # the newest
    assert backfill.is_asset_backfill and backfill.status.value in ("COMPLETED", "COMPLETED_SUCCESS")
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(expected)
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    assert instance.get_materialized_partitions(AssetKey("audio_library")) == set(expected)
    for run in runs:
        # the daemon launched it; its step ran in a Celery worker (the executor's engine event)
        workers = [
            str(e.dagster_event.engine_event_data.metadata["Celery worker"].value)
            for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
            if "Celery worker" in e.dagster_event.engine_event_data.metadata
        ]
        assert len(workers) == 1 and workers[0].split("@")[0] in ("worker1", "worker2", "worker3"), workers
        key = run.tags["dagster/partition"]
        stored = stack["state"] / "data" / "assets" / "audio_library" / key
        table = from_portable(pickle.loads(stored.read_bytes()), ROOT)
        assert sorted(table.index) == sorted(expected[key])  # one row per file of the shard
        probabilities = [f"p.{label}" for label in (*GENRES, *GEMS6)]
        assert {"tempo", "mtt.classical", "msd.rock", *probabilities, "valence", "arousal"} <= set(
            table.columns
        )
        assert np.isfinite(table.to_numpy(dtype=float)).all()
        assert np.allclose(table[[f"p.{g}" for g in GENRES]].sum(axis=1), 1.0)
    # bad input to the backfill CLI: a clear message, exit status 2, nothing launched
    url = f"http://127.0.0.1:{stack['ports']['DAGSTER_PORT']}"
    bad = subprocess.run(
        [
            sys.executable,
            "scripts/backfill.py",
            "audio_library",
            "--url",
            url,
            "--partitions",
            "shard-000,shard-009",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "unknown partitions of 'audio_library': ['shard-009']" in bad.stderr, (
        bad.stderr
    )
    bad = subprocess.run(
        [sys.executable, "scripts/backfill.py", "audio_clips", "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "'audio_clips' is not partitioned" in bad.stderr, bad.stderr
    assert len(instance.get_backfills()) == 1
    events = instance.fetch_materializations(AssetKey("audio_library"), limit=10).records
    assert {e.partition_key for e in events} == set(expected)
    assert all(
        e.asset_materialization.metadata["model_version"].value for e in events
    )  # the champion predicted
