"""One writer for the feedback store, with group commit for recommendation events.

The store commits every row in its own transaction with ``synchronous=FULL``: one fsync per
row, several milliseconds each, and SQLite admits one writer at a time. A service that logs
every recommendation that way serialises all requests behind the disk (50 concurrent
clients wait ~50 fsyncs). :class:`EventWriter` keeps the store's guarantee, *acknowledged
only after commit*, and removes the queue: one thread owns the writes; every recommendation
event that arrived while the previous commit was running goes into the next transaction
(one fsync for all of them), and each caller's future resolves only after that commit.
On SQLite the group commits go through a connection of the writer's own, whose
``synchronous`` mode is ``feedback.recommendation_sync``: ``"normal"`` (the service's
default) commits a group without an fsync. A committed event then survives a crash of the
service (it is in the WAL, in the OS's cache) and reaches the disk with the next feedback row
(those are always ``FULL``, and syncing the WAL syncs every earlier commit) or checkpoint, so
an acknowledged feedback row never points at an event a power cut could take back.
Feedback rows go through :meth:`FeedbackStore.record_feedback` unchanged (its validation,
reward and cursor ordering), one by one on the same thread, so in-process writers never
contend for SQLite's lock. Across processes (several service workers on one SQLite file) the
writers take turns through an ``flock`` on ``<db>.writer.lock`` before each transaction: the
kernel wakes the next one the moment the lock is free, where SQLite's busy handler would
poll with sleeps of up to 100 ms.

The group insert writes the same row :meth:`FeedbackStore.record_recommendation` writes (the
table is :data:`moodtune.feedback.schema.recommendations`); the events are validated here
first, and a batch the database refuses is retried row by row through the store, so a bad
event fails alone with the store's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import math
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moodtune.errors import InvalidFeedback
from moodtune.feedback import FeedbackStore
from moodtune.feedback.schema import GENDER_LENGTH, RECOMMENDATION_SOURCES, TRACK_ID_LENGTH, recommendations
from moodtune.feedback.store import SYNC_MODES

log = logging.getLogger(__name__)
_STOP = object()


@dataclass(frozen=True)
class RecommendationEvent:
    """What :meth:`FeedbackStore.record_recommendation` takes, validated."""

    source: str
    age: int
    gender: str
    mood: int
    candidates: Sequence[Mapping[str, Any]]
    chosen: Sequence[str]
    model_versions: Mapping[str, str] = field(default_factory=dict)
    candidates_json: str | None = field(default=None, repr=False)  # json.dumps(candidates), if known

    def __post_init__(self) -> None:
        if self.source not in RECOMMENDATION_SOURCES:
            raise InvalidFeedback(f"source must be one of {', '.join(RECOMMENDATION_SOURCES)}; got {self.source!r}")
        if not (isinstance(self.age, int) and 0 <= self.age <= 130):
            raise InvalidFeedback(f"age must be a whole number from 0 to 130; got {self.age!r}")
        if not (isinstance(self.mood, int) and 1 <= self.mood <= 5):
            raise InvalidFeedback(f"mood must be a whole number from 1 to 5; got {self.mood!r}")
        if not self.gender or len(self.gender) > GENDER_LENGTH:
            raise InvalidFeedback(f"gender must be 1 to {GENDER_LENGTH} characters")
        if not self.candidates:
            raise InvalidFeedback("a recommendation needs at least one candidate")
        ids = [str(c["track_id"]) for c in self.candidates]
        if len(set(ids)) != len(ids) or any(not t or len(t) > TRACK_ID_LENGTH for t in ids):
            raise InvalidFeedback("candidate track ids must be unique and 1 to 200 characters")
        if not self.chosen or not set(self.chosen) <= set(ids) or len(set(self.chosen)) != len(self.chosen):
            raise InvalidFeedback("chosen tracks must be distinct candidates")
        numbers = [v for c in self.candidates for v in (c.get("score"), c.get("probability")) if v is not None]
        features = [v for c in self.candidates for v in (c.get("features") or {}).values()]
        if not (_all_finite(numbers) and _all_finite(features)):  # find the culprit to name it
            for c in self.candidates:
                for key in ("score", "probability"):
                    v = c.get(key)
                    if v is not None and (not isinstance(v, float | int) or not math.isfinite(v)):
                        raise InvalidFeedback(f"candidate {c['track_id']!r} has a non-finite {key}")
                if not _all_finite((c.get("features") or {}).values()):
                    raise InvalidFeedback(f"candidate {c['track_id']!r} has non-numeric or non-finite features")

    def as_kwargs(self) -> dict[str, Any]:
        return {"source": self.source, "age": self.age, "gender": self.gender, "mood": self.mood,
                "candidates": [dict(c) for c in self.candidates], "chosen": list(self.chosen),
                "k": len(self.chosen), "model_versions": dict(self.model_versions)}

    def row(self, *, with_candidates: bool = True) -> dict[str, Any]:
        """The table row (``candidates`` left out when the caller binds ``candidates_json``)."""
        return {
            "id": uuid.uuid4().hex,
            "created_at": datetime.now(UTC),
            "source": self.source,
            "age": self.age,
            "gender": self.gender,
            "mood": self.mood,
            "k": len(self.chosen),
            "model_versions": {str(k): str(v) for k, v in self.model_versions.items()},
            # built by the engine from floats; features rounded there (6 decimals keep the JSON small)
            "candidates": [
                {"track_id": str(c["track_id"]), "features": c.get("features") or {},
                 "score": c.get("score"), "probability": c.get("probability")}
                for c in self.candidates
            ] if with_candidates else None,
            "chosen": [str(t) for t in self.chosen],
        }


def _all_finite(values) -> bool:
    """Every value a finite float or int (bools count, as ``isinstance`` counts them)."""
    try:
        total = sum(values, 0.0)
    except TypeError:
        total = None
    if type(total) is float and math.isfinite(total):  # the common case, in one C loop
        return True
    return all(isinstance(v, float | int) and math.isfinite(v) for v in values)


@dataclass
class _Job:
    kind: str  # "recommendation" | "feedback"
    payload: Any
    future: Future | None = None  # a thread waiting (record_*)
    loop: asyncio.AbstractEventLoop | None = None  # or a coroutine waiting (await *_async)
    afuture: asyncio.Future | None = None

    def start(self) -> bool:
        """False when the caller gave up already (a cancelled future or task)."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return not self.afuture.done()


class EventWriter:
    """The single writer of a :class:`FeedbackStore` (one per process).

    ``submit_recommendation(event)`` / ``submit_feedback(**kwargs)`` return futures that
    resolve once the row is committed (the recommendation id / the stored
    :class:`~moodtune.feedback.FeedbackRow`) or fail with the store's error;
    ``await recommendation(event)`` / ``await feedback(**kwargs)`` do the same for coroutines,
    and a group commit wakes each event loop once for all of its waiting requests.
    """

    def __init__(self, store: FeedbackStore, *, batch_max: int = 256, recommendation_sync: str = "full",
                 name: str = "moodtune-event-writer"):
        if recommendation_sync not in SYNC_MODES:  # checked here: the connection opens later, on the thread
            raise ValueError(f"recommendation_sync must be 'full' or 'normal'; got {recommendation_sync!r}")
        self.store = store
        self.batch_max = int(batch_max)
        self.recommendation_sync = recommendation_sync
        self._conn = None  # the group commits' own connection (SQLite), opened on the writer thread
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self.commits = 0
        self.rows = 0
        self.largest_batch = 0
        self._lock_fd = _writer_lock_file(store)
        # SQLite keeps JSON as text: send the JSON columns as ready strings (json.dumps, as the
        # JSON type would), so the cross-process turn does not include encoding them
        self._insert_text = _text_insert() if store.engine.url.get_backend_name() == "sqlite" else None
        self._deliveries: dict[asyncio.AbstractEventLoop, list] = {}
        store.ensure_schema()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- producers -----------------------------------------------------------------------

    def submit_recommendation(self, event: RecommendationEvent) -> Future:
        return self._submit(_Job("recommendation", event, Future())).future

    def submit_feedback(self, **kwargs: Any) -> Future:
        return self._submit(_Job("feedback", kwargs, Future())).future

    def record_recommendation(self, event: RecommendationEvent, timeout: float | None = None) -> str:
        return self.submit_recommendation(event).result(timeout)

    def record_feedback(self, timeout: float | None = None, **kwargs: Any):
        return self.submit_feedback(**kwargs).result(timeout)

    async def recommendation(self, event: RecommendationEvent) -> str:
        """The recommendation id, once the event is committed."""
        loop = asyncio.get_running_loop()
        return await self._submit(_Job("recommendation", event, None, loop, loop.create_future())).afuture

    async def feedback(self, **kwargs: Any):
        """The stored :class:`~moodtune.feedback.FeedbackRow`, once it is committed."""
        loop = asyncio.get_running_loop()
        return await self._submit(_Job("feedback", kwargs, None, loop, loop.create_future())).afuture

    def _submit(self, job: _Job) -> _Job:
        if self._closed:
            raise RuntimeError("the event writer is closed")
        self._queue.put(job)
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Hold the cross-process writer lock (SQLite only) for one transaction."""
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # --- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            jobs = [first]
            while len(jobs) < self.batch_max:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(j is _STOP for j in jobs)
            jobs = [j for j in jobs if j is not _STOP]
            recs = [j for j in jobs if j.kind == "recommendation"]
            if recs:
                self._commit_recommendations(recs)
                self._deliver()  # one wake-up per event loop for the whole group
            for job in jobs:
                if job.kind == "feedback":
                    self._run_one(job, self._record_feedback)
                    self._deliver()
            if stop:
                self._drop_connection()
                return

    def _group_connection(self):
        """The connection group commits use: the writer's own on SQLite, ``None`` elsewhere
        (then a pooled one per transaction, so PostgreSQL's pre-ping still applies)."""
        if self._conn is None and self._insert_text is not None:
            self._conn = self.store.dedicated_writer(synchronous=self.recommendation_sync)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _insert_group(self, params: list[dict[str, Any]]) -> None:
        statement = self._insert_text if self._insert_text is not None else recommendations.insert()
        conn = self._group_connection()
        if conn is None:
            with self.store.engine.begin() as pooled:
                pooled.execute(statement, params)
            return
        try:
            with conn.begin():
                conn.execute(statement, params)
        except Exception:
            self._drop_connection()  # a broken connection is opened afresh (with its pragma) next time
            raise

    def _finish(self, job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        if job.future is not None:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        else:
            self._deliveries.setdefault(job.loop, []).append((job.afuture, result, error))

    def _deliver(self) -> None:
        deliveries, self._deliveries = self._deliveries, {}
        for loop, items in deliveries.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _commit_recommendations(self, jobs: list[_Job]) -> None:
        live = [j for j in jobs if j.start()]
        if not live:
            return
        text = self._insert_text is not None
        rows = [j.payload.row(with_candidates=not (text and j.payload.candidates_json)) for j in live]
        params = rows
        if text:  # encode outside the lock: the turn is insert + fsync only
            params = [{**r, **{c: (j.payload.candidates_json if c == "candidates" and j.payload.candidates_json
                                   else json.dumps(r[c])) for c in _JSON_COLUMNS}}
                      for r, j in zip(rows, live, strict=True)]
        try:
            with self._turn():
                self._insert_group(params)
        except Exception as exc:  # one bad row must not fail the others: retry alone, via the store
            log.warning("group insert of %d recommendation events failed (%s); retrying one by one",
                        len(rows), exc)
            for job in live:
                try:
                    with self._turn():
                        rec_id = self.store.record_recommendation(**job.payload.as_kwargs())
                    self.commits += 1
                    self.rows += 1
                    self._finish(job, rec_id)
                except Exception as one:  # handed to the waiting caller
                    self._finish(job, error=one)
            return
        self.commits += 1
        self.rows += len(rows)
        self.largest_batch = max(self.largest_batch, len(rows))
        for job, row in zip(live, rows, strict=True):
            self._finish(job, row["id"])

    def _record_feedback(self, kwargs: dict[str, Any]):
        with self._turn():
            return self.store.record_feedback(**kwargs)

    def _run_one(self, job: _Job, call) -> None:
        if not job.start():
            return
        try:
            result = call(job.payload)
        except Exception as exc:  # handed to the waiting caller
            self._finish(job, error=exc)
        else:
            self.commits += 1
            self.rows += 1
            self._finish(job, result)


def _resolve(items: list) -> None:
    """On the event loop: complete the futures of one delivery (skipping abandoned ones)."""
    for future, result, error in items:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _writer_lock_file(store: FeedbackStore) -> int | None:
    """An open lock file beside a SQLite database (``None`` for other databases)."""
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    path = Path(url.database).with_suffix(".writer.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


_JSON_COLUMNS = ("model_versions", "candidates", "chosen")


def _text_insert():
    """INSERT INTO recommendations with the JSON columns bound as text (SQLite only)."""
    from sqlalchemy import Text, bindparam

    return recommendations.insert().values({
        c.name: bindparam(c.name, type_=Text()) if c.name in _JSON_COLUMNS else bindparam(c.name, type_=c.type)
        for c in recommendations.c
    })


def encode_candidates(items: Sequence[tuple[str, str, float, float | None]]) -> str:
    """``json.dumps(candidates)`` assembled from pre-encoded parts: each item is (track id,
    the features' JSON text, score, probability). Floats are written as ``json.dumps`` writes
    them (``repr``); non-finite ones are refused (JSON has none)."""
    parts = []
    for track_id, features_json, score, probability in items:
        for value in (score, probability):
            if value is not None and not math.isfinite(value):
                raise InvalidFeedback(f"candidate {track_id!r} has a non-finite score or probability")
        parts.append(f'{{"track_id": {_json_str(track_id)}, "features": {features_json}, '
                     f'"score": {_json_number(score)}, "probability": {_json_number(probability)}}}')
    return "[" + ", ".join(parts) + "]"


_json_str = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str (C-accelerated)


def _json_number(value: float | int | None) -> str:
    """``json.dumps(value)`` for a finite number or None, without building an encoder."""
    if value is None:
        return "null"
    return float.__repr__(value) if type(value) is float else json.dumps(value)
