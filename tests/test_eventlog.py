"""The service's event writer: group commits, its own ``synchronous`` mode for recommendation
events, and what an acknowledged event survives (a killed process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from moodtune.errors import ConfigError, InvalidFeedback
from moodtune.feedback import FeedbackStore
from moodtune.serving.eventlog import EventWriter, RecommendationEvent
from moodtune.settings import PROJECT_ROOT, load_settings

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


def event(mood: int = 3, n: int = 6) -> RecommendationEvent:
    candidates = [
        {
            "track_id": f"t{i}",
            "features": {"calmness": i / n, "tension": 1 - i / n},
            "score": -i / n,
            "probability": 1 / n,
        }
        for i in range(n)
    ]
    return RecommendationEvent(
        source="catalog",
        age=30,
        gender="female",
        mood=mood,
        candidates=candidates,
        chosen=["t0", "t1"],
        model_versions={"moodtune-policy": "1"},
    )


def test_the_service_default_is_normal_sync_for_recommendations_only(settings):
    assert load_settings().feedback.recommendation_sync == "normal"  # params.yaml
    store = FeedbackStore(settings=settings)
    conn = store.dedicated_writer(synchronous="normal")
    try:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL, this connection only
        with store.engine.connect() as other:
            assert other.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # the store's: FULL
    finally:
        conn.close()
    with pytest.raises(ConfigError, match="'full' or 'normal'"):
        store.dedicated_writer(synchronous="off")
    with pytest.raises(ValueError, match="'full' or 'normal'"):
        EventWriter(store, recommendation_sync="off")


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_concurrent_events_are_group_committed_then_feedback_refers_to_them(settings, sync):
    store = FeedbackStore(settings=settings)
    writer = EventWriter(store, recommendation_sync=sync)
    ids, errors = [], []

    def log(mood):
        try:
            ids.append(writer.record_recommendation(event(mood), timeout=60))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    # Another connection holds the write lock while the 40 events arrive, so they queue behind the
    # first commit as they would behind a slow disk: without it, a fast commit (synchronous=NORMAL)
    # could finish before the next event came, and whether anything was grouped was up to timing.
    import sqlite3
    import time

    from sqlalchemy.engine import make_url

    blocker = sqlite3.connect(make_url(store.url).database, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    threads = [threading.Thread(target=log, args=(1 + i % 5,)) for i in range(40)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    blocker.rollback()
    blocker.close()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 40
    assert writer.rows == 40 and writer.commits < 40 and writer.largest_batch > 1
    row = writer.record_feedback(
        recommendation_id=ids[0], track_id="t1", stress_level="low", metrics=METRICS, timeout=60
    )
    writer.close()
    # an independent store (a new connection, FULL) sees every acknowledged row
    reader = FeedbackStore(store.url, settings=settings)
    assert reader.count_recommendations() == 40
    assert {reader.get_recommendation(i).id for i in ids} == set(ids)
    assert reader.get_feedback(row.id).recommendation_id == ids[0]
    # an event the store refuses fails alone, with the store's message
    with pytest.raises(InvalidFeedback, match="mood"):
        event(mood=9)
    good = event()
    for bad, words in (
        ({"score": float("nan")}, "'t2' has a non-finite score"),
        ({"features": {"calmness": float("inf")}}, "'t2' has non-numeric or non-finite features"),
        ({"features": {"calmness": "high"}}, "'t2' has non-numeric"),
    ):
        cands = [dict(c, **bad) if c["track_id"] == "t2" else c for c in good.candidates]
        with pytest.raises(InvalidFeedback, match=words):
            RecommendationEvent(
                source="catalog", age=30, gender="female", mood=3, candidates=cands, chosen=["t0"]
            )
    reader.close()
    store.close()


CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from moodtune.feedback import FeedbackStore
    from moodtune.serving.eventlog import EventWriter, RecommendationEvent
    store = FeedbackStore(sys.argv[1], rewards={"low": 1, "medium": 0.5, "high": 0}, busy_timeout_ms=5000)
    writer = EventWriter(store, recommendation_sync="normal")
    cands = [{"track_id": f"t{i}", "features": {"calmness": 0.5}, "score": -i, "probability": 0.5} for i in range(2)]
    for n in range(30):
        rid = writer.record_recommendation(RecommendationEvent(
            source="catalog", age=30, gender="male", mood=3, candidates=cands, chosen=["t0"]), timeout=60)
        print(json.dumps(rid), flush=True)  # acknowledged
    for n in range(3):  # feedback in groups: 20 submitted at once, each printed once acknowledged
        futures = [writer.submit_feedback(recommendation_id=rid, track_id=f"t{i % 2}", stress_level="low")
                   for i in range(20)]
        for f in futures:
            print(json.dumps({"feedback": f.result(60).id}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no clean exit
""")


def test_acknowledged_events_survive_a_killed_writer_process(settings):
    url = f"sqlite:///{settings.data_path('feedback', 'killed.db')}"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    acknowledged = [x for x in lines if isinstance(x, str)]
    feedback_ids = [x["feedback"] for x in lines if isinstance(x, dict)]
    assert len(acknowledged) == 30 and len(feedback_ids) == 60
    store = FeedbackStore(url, settings=settings)
    assert store.count_recommendations() == 30
    assert all(store.get_recommendation(i).chosen == ["t0"] for i in acknowledged)
    # every acknowledged feedback row (group-committed, FULL) is there after the kill
    assert store.count_since(0) == 60 and all(
        store.get_feedback(i).stress_level == "low" for i in feedback_ids
    )
    store.close()


@pytest.fixture
def held_writer(settings):
    """A store, its writer, and a way to hold the writer's cross-process lock: jobs submitted
    while it is held queue up and go into one group when it is released."""
    import contextlib
    import fcntl
    from pathlib import Path

    store = FeedbackStore(settings=settings)
    writer = EventWriter(store, recommendation_sync="normal")

    @contextlib.contextmanager
    def held():
        fd = os.open(Path(store.engine.url.database).with_suffix(".writer.lock"), os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    yield store, writer, held
    writer.close()
    store.close()


def waiting_for_lock(writer, deadline_s: float = 30.0) -> None:
    """Return once the writer thread is blocked on the held lock (its top frame is ``_turn``):
    what is submitted after this forms the next group, however slowly the thread woke up."""
    import sys
    import time

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        frame = sys._current_frames().get(writer._thread.ident)
        if frame is not None and frame.f_code.co_name == "_turn":
            return
        time.sleep(0.005)
    raise AssertionError("the writer thread never reached the held lock")


def test_a_group_the_database_refuses_is_retried_row_by_row(held_writer):
    store, writer, held = held_writer
    # past the request model (model_construct skips validation): the table's CHECK refuses age 200
    bad = RecommendationEvent.model_construct(**{**dict(event()), "age": 200})
    with held():
        first = writer.submit_recommendation(event())  # taken alone, waits for the lock
        waiting_for_lock(writer)
        futures = [writer.submit_recommendation(event(1 + i % 5)) for i in range(10)]
        refused = writer.submit_recommendation(bad)
        futures += [writer.submit_recommendation(event()) for _ in range(5)]
    first.result(60)
    ids = [f.result(60) for f in futures]
    with pytest.raises(Exception, match="CHECK constraint failed"):
        refused.result(60)
    # the group of 16 failed as a whole, then each row went alone: 15 stored, the bad one not
    assert writer.commits == 1 + 15 and writer.rows == 16
    assert store.count_recommendations() == 16
    assert all(store.get_recommendation(i).k == 2 for i in ids)


def test_feedback_is_group_committed_and_a_refused_row_fails_alone(held_writer):
    store, writer, held = held_writer
    rid = writer.record_recommendation(event(), timeout=60)
    with held():
        blocker = writer.submit_feedback(recommendation_id=rid, track_id="t0", stress_level="low")
        waiting_for_lock(writer)
        good = [
            writer.submit_feedback(
                recommendation_id=rid,
                track_id=f"t{i % 6}",
                stress_level="medium",
                metrics=METRICS,
                client_key=f"group-key-{i:04d}",
            )
            for i in range(20)
        ]
        retry = writer.submit_feedback(
            recommendation_id=rid,
            track_id="t0",
            stress_level="medium",
            metrics=METRICS,
            client_key="group-key-0000",
        )  # same key, same group
        wrong = writer.submit_feedback(recommendation_id=rid, track_id="not-a-candidate", stress_level="high")
        reused = writer.submit_feedback(
            recommendation_id=rid, track_id="t5", stress_level="low", client_key="group-key-0001"
        )  # key of another track, same group
        unknown = writer.submit_feedback(recommendation_id="f" * 32, track_id="t0", stress_level="low")
    blocker.result(60)
    rows = [f.result(60) for f in good]
    with pytest.raises(InvalidFeedback, match="was not among the candidates"):
        wrong.result(60)
    with pytest.raises(InvalidFeedback, match="client_key 'group-key-0001' was already used for feedback"):
        reused.result(60)
    with pytest.raises(InvalidFeedback, match="unknown recommendation_id"):
        unknown.result(60)
    again = retry.result(60)
    assert again.replayed and again.id == rows[0].id  # found inside the same transaction
    assert (
        writer.store.record_feedback(rid, "t0", "medium", client_key="group-key-0000").id == rows[0].id
    )  # later, too
    # one FULL commit for the group of 24 (plus the blocker's own, unless it joined the group)
    assert writer.feedback_commits in (1, 2)
    assert [r.id for r in rows] == sorted(r.id for r in rows) and len({r.id for r in rows}) == 20
    assert store.count_since(0) == 21
    assert store.get_feedback(rows[-1].id).client_key == "group-key-0019"
    # a bad row is refused in the caller, before it reaches the writer
    with pytest.raises(InvalidFeedback, match="stress level"):
        writer.submit_feedback(recommendation_id=rid, track_id="t0", stress_level="calm")
