"""The feedback store: schema on first use, round trip, bad input, durability settings,
concurrent writers (threads and processes), the cursor functions, settings and the resource.

Every store test runs on SQLite; with ``MOODTUNE_TEST_POSTGRES_URL`` set (e.g.
``postgresql://moodtune@127.0.0.1/moodtune_test``) it runs on PostgreSQL too, each test in
its own throwaway schema.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from dagster import asset, materialize
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from assets.resources import FeedbackStoreResource, SettingsResource
from moodtune.errors import ConfigError, InvalidFeedback, InvalidInput
from moodtune.feedback import (
    HRV_METRICS,
    REPLAY_COLUMNS,
    FeedbackStore,
    default_url,
    reward_for_stress,
)
from moodtune.settings import PROJECT_ROOT, load_settings

POSTGRES_URL = os.environ.get("MOODTUNE_TEST_POSTGRES_URL")
METRICS = {
    "MEAN_RR": 812.5,
    "SDRR": 48.1,
    "HR": 74.2,
    "RMSSD": 35.0,
    "pNN50": 12.5,
    "VLF": 350.0,
    "LF": 820.0,
    "HF": 640.0,
}


def candidates(n: int = 5) -> list[dict]:
    return [
        {
            "track_id": f"demo-{i:03d}",
            "features": {"tenderness": i / 10, "calmness": 1 - i / 10},
            "score": 1.0 - i / n,
            "probability": 1 / n,
        }
        for i in range(n)
    ]


def recommend(store: FeedbackStore, **overrides) -> str:
    args = dict(
        source="catalog",
        age=31,
        gender="female",
        mood=2,
        candidates=candidates(),
        k=3,
        model_versions={"moodtune-policy": "3", "moodtune-audio": "1"},
    )
    args.update(overrides)
    return store.record_recommendation(**args)


def _postgres_schema_url():
    """A fresh schema on the test server; the URL puts it first on the search path."""
    name = f"moodtune_test_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    scoped = url.update_query_dict({"options": f"-csearch_path={name}"})
    return scoped.render_as_string(hide_password=False), admin, name


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not POSTGRES_URL, reason="set MOODTUNE_TEST_POSTGRES_URL to run the store on PostgreSQL"
            ),
        ),
    ]
)
def store_url(request, settings):
    """The URL of an empty feedback database: the default SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield default_url(settings)
        return
    url, admin, name = _postgres_schema_url()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url, settings):
    s = FeedbackStore(store_url, settings=settings)
    yield s
    s.close()


# --------------------------------------------------------------------------- schema & SQLite


def test_default_is_a_sqlite_file_under_the_data_dir(settings):
    assert default_url(settings) == f"sqlite:///{settings.data_path('feedback', 'feedback.db')}"
    assert FeedbackStore(settings=settings).url == default_url(settings)
    with pytest.raises(TypeError, match="pass settings, or url, rewards and busy_timeout_ms"):
        FeedbackStore(default_url(settings), busy_timeout_ms=1000)


def test_schema_is_created_on_first_use(settings):
    path = settings.data_path("feedback", "feedback.db")
    store = FeedbackStore(settings=settings)
    assert not path.exists()  # constructing the store touches nothing
    assert store.latest_feedback_id() == 0
    assert path.exists()
    assert store.tables() == ["feedback", "recommendations"]
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(feedback)")]
    assert set(HRV_METRICS) <= set(columns)
    assert {
        "id",
        "recommendation_id",
        "track_id",
        "stress_level",
        "p_low",
        "p_medium",
        "p_high",
        "reward",
        "choice_probability",
        "model_versions",
        "source",
        "created_at",
    } <= set(columns)
    # a second store on the same file finds the schema and the data
    recommend(store)
    assert FeedbackStore(settings=settings).count_recommendations() == 1


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(settings):
    store = FeedbackStore(settings=settings, busy_timeout_ms=12_345)
    assert store.journal_mode() == "wal"
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 12_345
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # WAL is a property of the file: any other client sees it
    with sqlite3.connect(settings.data_path("feedback", "feedback.db")) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_in_memory_sqlite_is_refused(settings):
    with pytest.raises(ConfigError, match="in-memory"):
        FeedbackStore("sqlite://", settings=settings)
    with pytest.raises(ConfigError, match="in-memory"):
        FeedbackStore("sqlite:///:memory:", settings=settings)


# --------------------------------------------------------------------------- round trip


def test_round_trip(store, settings):
    rid = recommend(store)
    assert len(rid) == 32 and int(rid, 16) >= 0  # uuid4 hex
    rec = store.get_recommendation(rid)
    assert (rec.source, rec.age, rec.gender, rec.mood, rec.k) == ("catalog", 31, "female", 2, 3)
    assert rec.chosen == ["demo-000", "demo-001", "demo-002"]
    assert rec.candidates == candidates()
    assert rec.model_versions == {"moodtune-policy": "3", "moodtune-audio": "1"}
    assert rec.created_at.tzinfo is not None and rec.created_at.utcoffset().total_seconds() == 0

    row = store.record_feedback(
        rid,
        "demo-001",
        "Medium",
        metrics=METRICS,
        probabilities={"low": 0.2, "medium": 0.7, "high": 0.1},
        model_versions={"moodtune-hrv": "4"},
    )
    assert row.id == 1
    assert row.stress_level == "medium"
    assert row.source == "metrics"
    assert row.reward == settings.feedback.reward.medium == 0.5
    assert row.choice_probability == pytest.approx(0.2)
    assert row.metrics == METRICS
    assert row.probabilities == {"low": 0.2, "medium": 0.7, "high": 0.1}
    assert row.model_versions == {"moodtune-policy": "3", "moodtune-audio": "1", "moodtune-hrv": "4"}
    assert store.get_feedback(row.id) == row
    plain = row.as_dict()  # what /feedback answers with: asdict's fields, its mappings copies
    assert plain == dataclasses.asdict(row)
    plain["metrics"]["HR"] = -1.0
    plain["model_versions"].clear()
    assert row.metrics == METRICS and row.model_versions["moodtune-hrv"] == "4"

    explicit = store.record_feedback(rid, "demo-004", "high", reward=-0.25)
    assert (explicit.id, explicit.source, explicit.reward) == (2, "explicit", -0.25)
    assert explicit.metrics == dict.fromkeys(HRV_METRICS)
    assert explicit.probabilities is None
    rr = store.record_feedback(rid, "demo-000", "low", metrics={"mean_rr": 900, "sdnn": 60}, source="rr")
    assert rr.metrics["MEAN_RR"] == 900 and rr.metrics["SDRR"] == 60 and rr.reward == 1.0


def test_acknowledged_row_is_visible_to_an_independent_connection(settings):
    store = FeedbackStore(settings=settings)
    row = store.record_feedback(recommend(store), "demo-002", "low", metrics=METRICS)
    with sqlite3.connect(settings.data_path("feedback", "feedback.db")) as raw:
        stored = raw.execute("SELECT id, track_id, stress_level, reward, HF FROM feedback").fetchall()
    assert stored == [(row.id, "demo-002", "low", 1.0, 640.0)]


def test_chosen_tracks_and_k(store):
    rid = recommend(store, chosen=["demo-004", "demo-001"], k=None)
    rec = store.get_recommendation(rid)
    assert rec.chosen == ["demo-004", "demo-001"] and rec.k == 2
    # feedback may name any candidate, not only a chosen one
    assert store.record_feedback(rid, "demo-003", "low").track_id == "demo-003"


# --------------------------------------------------------------------------- bad input

BAD_RECOMMENDATIONS = [
    # one rule set for the service and the store (moodtune.fields): its message names the scale
    (dict(mood=0), "mood must be a whole number from 1 \\(sad\\) to 5 \\(happy\\)"),
    (dict(mood=6), "mood"),
    (dict(mood=2.5), "mood"),
    (dict(mood=True), "mood"),
    (dict(mood="3"), "mood"),
    (dict(age=-1), "age"),
    (dict(age=float("nan")), "age"),
    (dict(gender=""), "gender"),
    (dict(source="radio"), "source must be one of catalog, upload, text, image"),
    (dict(candidates=[]), "candidates must not be empty"),
    (dict(candidates="demo-000"), "candidates must be a list"),
    (dict(candidates=candidates() + [candidates()[0]]), "listed twice"),
    (dict(candidates=[{"track_id": "a", "features": {"x": float("nan")}}]), "finite"),
    (dict(candidates=[{"track_id": "a", "probability": 1.5}]), "probability must be between 0 and 1"),
    (dict(candidates=[{"track_id": "a", "colour": "red"}]), "unknown keys"),
    (dict(candidates=[{"features": {}}]), "no track_id"),
    (dict(chosen=["nope"]), "not among the candidates"),
    (dict(k=0), "k must be"),
    (dict(k=99), "k must be"),
    (dict(k=None), "give the chosen track ids or k"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_RECOMMENDATIONS)
def test_bad_recommendation_is_refused_and_nothing_is_stored(store, overrides, message):
    first = recommend(store)
    with pytest.raises(InvalidFeedback, match=message):
        recommend(store, **overrides)
    assert store.count_recommendations() == 1
    assert store.get_recommendation(first).chosen == ["demo-000", "demo-001", "demo-002"]


BAD_FEEDBACK = [
    (dict(recommendation_id="0" * 32), "unknown recommendation_id"),
    (dict(track_id="demo-999"), "not among the candidates of recommendation"),
    (dict(stress_level="calm"), "stress level must be one of low, medium, high"),
    (dict(stress_level=None), "stress level"),
    (dict(metrics={**METRICS, "HF": float("nan")}), "HRV metric HF must be a finite number"),
    (dict(metrics={"LF": float("inf")}), "finite"),
    (dict(metrics={"HR": -3}), "HR must be at least 0"),
    (dict(metrics={"HR": "fast"}), "HR must be a number"),
    (dict(metrics={"LF/HF": 1.2}), "unknown HRV metric"),
    (dict(probabilities={"low": 0.5, "medium": 0.5, "high": 0.5}), "sum to 1"),
    (dict(probabilities={"low": 1.0}), "need low, medium and high"),
    (dict(probabilities={"low": float("nan"), "medium": 0.5, "high": 0.5}), "finite"),
    (dict(source="guess"), "feedback source must be one of rr, metrics, explicit"),
    (dict(source="rr"), "needs the HRV metrics"),
    (dict(reward=float("nan")), "reward must be a finite number"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_FEEDBACK)
def test_bad_feedback_is_refused_and_nothing_is_lost(store, overrides, message):
    rid = recommend(store)
    kept = store.record_feedback(rid, "demo-000", "low", metrics=METRICS)
    args = dict(recommendation_id=rid, track_id="demo-001", stress_level="high")
    args.update(overrides)
    with pytest.raises(InvalidFeedback, match=message) as info:
        store.record_feedback(**args)
    assert isinstance(info.value, InvalidInput) and info.value.status_code == 422
    assert store.latest_feedback_id() == kept.id == 1
    assert store.count_since(0) == 1
    assert store.get_feedback(kept.id) == kept
    # the store still takes good rows, and ids continue
    assert store.record_feedback(rid, "demo-001", "high").id == 2


def test_unknown_ids_on_read(store):
    with pytest.raises(InvalidFeedback, match="unknown recommendation_id"):
        store.get_recommendation("f" * 32)
    with pytest.raises(InvalidFeedback, match="no feedback row"):
        store.get_feedback(7)
    with pytest.raises(InvalidFeedback, match="cursor"):
        store.count_since(-1)


# --------------------------------------------------------------------------- reward


def test_reward_for_stress_uses_params_yaml():
    settings = load_settings()
    assert settings.feedback.reward.model_dump() == {"low": 1.0, "medium": 0.5, "high": 0.0}
    rewards = settings.feedback.reward
    assert [reward_for_stress(level, rewards) for level in ("low", "medium", "high")] == [1.0, 0.5, 0.0]
    assert reward_for_stress(" HIGH ", rewards) == 0.0
    custom = {"low": 2.0, "medium": 1.0, "high": -1.0}
    assert reward_for_stress("high", custom) == -1.0
    with pytest.raises(InvalidFeedback, match="low, medium, high"):
        reward_for_stress("relaxed", rewards)


def test_store_rewards_follow_the_settings(settings, monkeypatch):
    monkeypatch.setenv("MOODTUNE_FEEDBACK__REWARD", "{low: 3.0, medium: 2.0, high: 1.0}")
    custom = load_settings()
    store = FeedbackStore(settings=custom)
    rid = recommend(store)
    assert store.record_feedback(rid, "demo-000", "medium").reward == 2.0


# --------------------------------------------------------------------------- cursor functions


def test_cursor_functions_and_replay_buffer(store):
    assert store.latest_feedback_id() == 0
    assert store.count_since(0) == 0
    empty = store.window(0)
    assert (empty.count, empty.first_id, empty.last_at) == (0, None, None)
    frame = store.feedback_since(0)
    assert list(frame.columns) == list(REPLAY_COLUMNS) and frame.empty

    sad = recommend(store, mood=1, age=24, gender="male")
    happy = recommend(store, mood=5, source="text", k=2)
    rows = [
        store.record_feedback(rid, f"demo-00{i % 5}", level, metrics=METRICS if i % 2 else None)
        for i, (rid, level) in enumerate(
            [(sad, "low"), (happy, "high"), (sad, "medium"), (happy, "low"), (sad, "high")]
        )
    ]
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert store.latest_feedback_id() == 5
    assert store.count_since(0) == 5 and store.count_since(3) == 2 and store.count_since(5) == 0

    replay = store.feedback_since(2)
    assert list(replay["id"]) == [3, 4, 5]
    assert list(replay.columns) == list(REPLAY_COLUMNS)
    third = replay.iloc[0]
    assert (third["mood"], third["age"], third["gender"], third["recommendation_source"]) == (
        1,
        24,
        "male",
        "catalog",
    )
    assert third["features"] == candidates()[2]["features"]
    assert third["score"] == pytest.approx(candidates()[2]["score"])
    assert third["choice_probability"] == pytest.approx(0.2)
    assert third["reward"] == 0.5 and math.isnan(third["HF"])
    assert len(third["candidates"]) == 5 and third["chosen"] == ["demo-000", "demo-001", "demo-002"]
    assert replay.iloc[1]["recommendation_source"] == "text" and replay.iloc[1]["HF"] == 640.0
    assert str(replay["created_at"].dtype) == "datetime64[ns, UTC]"
    assert list(store.feedback_since(0, limit=2)["id"]) == [1, 2]

    window = store.window(1, 4)
    assert (window.cursor_from, window.cursor_to, window.count, window.first_id, window.last_id) == (
        1,
        4,
        3,
        2,
        4,
    )
    assert window.first_at == rows[1].created_at and window.last_at == rows[3].created_at
    assert window.first_at <= window.last_at
    logged = window.as_dict()
    assert json.loads(json.dumps(logged))["first_at"] == rows[1].created_at.isoformat()
    assert store.window(0).count == 5 and store.window(5).count == 0


# --------------------------------------------------------------------------- concurrency


def test_concurrent_threads_lose_nothing(store):
    """8 threads share one store: 40 feedback rows each, interleaved with new recommendations."""
    rid = recommend(store)
    threads, per_thread = 8, 40
    acknowledged: list[int] = []
    own_recommendations: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                target = rid
                if i % 10 == 0:
                    target = recommend(store)
                    with lock:
                        own_recommendations.append(target)
                row = store.record_feedback(
                    target, f"demo-00{(worker + i) % 5}", ("low", "medium", "high")[i % 3]
                )
                with lock:
                    acknowledged.append(row.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    total = threads * per_thread
    assert len(acknowledged) == total == len(set(acknowledged))
    assert store.count_since(0) == total == store.latest_feedback_id()
    assert sorted(store.feedback_since(0)["id"]) == sorted(acknowledged) == list(range(1, total + 1))
    assert store.count_recommendations() == 1 + len(own_recommendations) == 1 + threads * 4


CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from moodtune.feedback import FeedbackStore
    from moodtune.settings import load_settings
    url, go, n, worker = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    Path(f"{go}.ready-{worker}").touch()  # imported: waiting at the gate
    while not os.path.exists(go):
        time.sleep(0.005)
    # a long busy timeout: on a loaded machine a writer may wait long for its turn (not fail)
    store = FeedbackStore(url, settings=load_settings(), busy_timeout_ms=300_000)
    rid = store.record_recommendation(
        source="upload", age=40 + worker, gender="male", mood=3, k=2,
        candidates=[{"track_id": f"w{worker}-{i}", "features": {"x": i}, "score": i, "probability": 0.5}
                    for i in range(2)])
    ids = [store.record_feedback(rid, f"w{worker}-{i % 2}", "low", metrics={"HR": 70 + i}).id
           for i in range(n)]
    print(json.dumps({"recommendation": rid, "ids": ids}))
    """
)


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_concurrent_processes_lose_nothing(store_url, settings, tmp_path):
    """4 processes x 50 writes on a fresh database (they also race to create the schema)."""
    processes, per_process = 4, 50
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, store_url, str(go), str(per_process), str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(processes)
    ]
    try:
        deadline = time.monotonic() + 300  # imports take long on a loaded machine: wait, never race them
        while not all((tmp_path / f"go.ready-{w}").exists() for w in range(processes)):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children), [
                c.communicate()[1] for c in children if c.poll() is not None
            ]
            time.sleep(0.05)
        go.touch()  # all four now open the fresh database and create the schema at the same moment
        results = []
        for child in children:
            out, err = child.communicate(timeout=600)
            assert child.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    acknowledged = [i for r in results for i in r["ids"]]
    assert len(acknowledged) == processes * per_process == len(set(acknowledged))

    store = FeedbackStore(store_url, settings=settings)
    assert store.count_since(0) == processes * per_process
    assert store.latest_feedback_id() == processes * per_process
    assert sorted(store.feedback_since(0)["id"]) == sorted(acknowledged)
    assert store.count_recommendations() == processes
    for worker, result in enumerate(results):
        rec = store.get_recommendation(result["recommendation"])
        assert rec.age == 40 + worker
    store.close()


# --------------------------------------------------------------------------- settings & resource


def test_feedback_and_retrain_settings(tmp_path):
    s = load_settings(environ={})
    assert s.feedback.url is None and s.feedback.busy_timeout_ms > 0
    assert s.retrain.min_new_feedback == 20 and s.retrain.sensor_interval_seconds == 30
    assert default_url(s) == f"sqlite:///{PROJECT_ROOT / 'data' / 'feedback' / 'feedback.db'}"

    pg = "postgresql+psycopg://moodtune:secret@db.example/moodtune"
    assert default_url(load_settings(environ={"MOODTUNE_FEEDBACK__URL": pg})) == pg
    rel = load_settings(environ={"MOODTUNE_FEEDBACK__URL": "sqlite:///data/other.db"})
    assert default_url(rel) == f"sqlite:///{PROJECT_ROOT / 'data' / 'other.db'}"

    params = tmp_path / "params.yaml"
    params.write_text("feedback:\n  urll: x\n")
    with pytest.raises(ConfigError, match="urll"):
        load_settings(params, environ={})
    params.write_text("retrain:\n  min_new_feedback: 0\n")
    with pytest.raises(ConfigError, match="min_new_feedback"):
        load_settings(params, environ={})


def test_dagster_resource(settings, tmp_path):
    feedback_resource = FeedbackStoreResource(settings=SettingsResource())
    store = feedback_resource.store()
    assert store.url == default_url(settings)
    assert feedback_resource.store() is store  # one pool per process and URL
    assert FeedbackStoreResource().store() is store  # no settings resource: params.yaml + env

    rid = recommend(store)
    store.record_feedback(rid, "demo-001", "low")

    @asset
    def feedback_count(feedback: FeedbackStoreResource) -> int:
        return feedback.store().count_since(0)

    result = materialize([feedback_count], resources={"feedback": feedback_resource})
    assert result.success and result.output_for_node("feedback_count") == 1

    other = FeedbackStoreResource(url=f"sqlite:///{tmp_path / 'other.db'}").store()
    assert other.url.endswith("other.db") and other.latest_feedback_id() == 0
    assert Path(tmp_path / "other.db").exists()


def test_code_location_has_the_feedback_resource(resources, settings):
    assert isinstance(resources["feedback"], FeedbackStoreResource)
    assert resources["feedback"].store().url == default_url(settings)


# --- retries: client keys -------------------------------------------------------------------------


def test_a_retry_with_the_same_client_key_stores_nothing_new(store):
    rid = recommend(store)
    first = store.record_feedback(rid, "demo-001", "low", metrics=METRICS, client_key="retry-key-0001")
    again = store.record_feedback(rid, "demo-001", "low", metrics=METRICS, client_key="retry-key-0001")
    assert first.replayed is False and again.replayed is True
    assert again.id == first.id and again.client_key == "retry-key-0001" and again.reward == first.reward
    assert store.count_since(0) == 1 and store.get_feedback(first.id).client_key == "retry-key-0001"
    # without a key, or with another key, the same response is a new row
    assert store.record_feedback(rid, "demo-001", "low").id == first.id + 1
    assert store.record_feedback(rid, "demo-001", "low", client_key="retry-key-0002").id == first.id + 2
    with pytest.raises(
        InvalidFeedback, match=f"client_key 'retry-key-0001' was already used for feedback {first.id}"
    ):
        store.record_feedback(rid, "demo-002", "high", client_key="retry-key-0001")
    for bad in ("short", "x" * 65, "has space!", 12345678):
        with pytest.raises(InvalidFeedback, match="client_key must be 8 to 64 characters"):
            store.record_feedback(rid, "demo-001", "low", client_key=bad)
    assert store.count_since(0) == 3  # nothing refused was stored


def test_concurrent_retries_store_one_row(store):
    rid = recommend(store)
    ids: list[int] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        ids.append(store.record_feedback(rid, "demo-003", "medium", client_key="same-key-everywhere").id)

    pool = [threading.Thread(target=send) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1 and store.count_since(0) == 1


def test_a_database_from_before_client_keys_gains_the_column_and_keeps_its_rows(settings):
    path = settings.data_path("feedback", "old.db")
    old = FeedbackStore(f"sqlite:///{path}", settings=settings)
    rid = recommend(old)
    kept = old.record_feedback(rid, "demo-000", "high", metrics=METRICS)
    old.close()
    with sqlite3.connect(path) as raw:  # back to the earlier schema
        raw.execute("DROP INDEX ix_feedback_client_key")
        raw.execute("ALTER TABLE feedback DROP COLUMN client_key")
    store = FeedbackStore(f"sqlite:///{path}", settings=settings)
    row = store.get_feedback(kept.id)
    assert (row.client_key, row.stress_level, row.metrics["HR"]) == (None, "high", METRICS["HR"])
    assert store.record_feedback(rid, "demo-001", "low", client_key="after-upgrade").replayed is False
    assert store.record_feedback(rid, "demo-001", "low", client_key="after-upgrade").replayed is True
    with sqlite3.connect(path) as raw:
        indexes = {r[1]: r[2] for r in raw.execute("PRAGMA index_list(feedback)")}
        assert indexes.get("ix_feedback_client_key") == 1  # unique
        assert raw.execute("SELECT count(*) FROM feedback").fetchone()[0] == 2


def test_opening_the_store_while_another_connection_writes_waits_instead_of_failing(tmp_path):
    """SQLite answers ``PRAGMA journal_mode = WAL`` SQLITE_BUSY at once (no busy handler) while
    another connection holds the write lock of a database still in rollback mode, as when
    processes open a fresh store together: the store's connection retries until the writer is done."""
    import sqlite3
    import threading

    from moodtune.feedback.database import make_engine

    path = tmp_path / "fresh.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE other (x)")
    done = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    done.start()
    try:
        engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=20_000)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()
    finally:
        done.join()
        writer.close()
