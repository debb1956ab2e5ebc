"""One writer for the feedback store, with group commit for recommendation events and feedback.

The store commits every row in its own transaction with ``synchronous=FULL``: one fsync per
row, several milliseconds each, and SQLite admits one writer at a time. A service that logs
every request that way serialises all requests behind the disk (50 concurrent clients wait
~50 fsyncs). :class:`EventWriter` keeps the store's guarantee, *acknowledged only after
commit*, and removes the queue: one thread owns the writes; every job that arrived while the
previous commit was running goes into the next transaction (one fsync for all of them), and
each caller's future resolves only after that commit.

* Recommendation events go through :meth:`FeedbackStore.insert_recommendations` (the store's
  one write path for them) on a connection of the writer's own, whose ``synchronous`` mode is
  ``feedback.recommendation_sync``: ``"normal"`` (the service's default) commits a group
  without an fsync. A committed event then survives a crash of the service (it is in the WAL,
  in the OS's cache) and reaches the disk with the next feedback group (always ``FULL``, and
  syncing the WAL syncs every earlier commit) or checkpoint, so an acknowledged feedback row
  never points at an event a power cut could take back.
* Feedback rows go through :meth:`FeedbackStore.insert_feedback_group` (validation, reward,
  replay by ``client_key``, cursor order; one query per group for its keys, one for its
  recommendations, one INSERT), all of a group in one ``synchronous=FULL`` transaction on a
  second connection. A row the store refuses fails alone (it is refused before it writes).

A group the database refuses is retried row by row through the store's one-row methods, so a
bad row fails alone with the store's message. Across processes (several service workers on one
SQLite file) the writers take turns through an ``flock`` on ``<db>.writer.lock`` before each
transaction: the kernel wakes the next one the moment the lock is free, where SQLite's busy
handler would poll with sleeps of up to 100 ms.
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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from moodtune.errors import InvalidFeedback, MoodtuneError
from moodtune.feedback import FeedbackInput, FeedbackStore, RecommendationEvent
from moodtune.feedback.database import SYNC_MODES

log = logging.getLogger(__name__)
_STOP = object()

__all__ = ["EventWriter", "RecommendationEvent", "encode_candidates"]


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
        return not cast(asyncio.Future, self.afuture).done()  # one of the two is set


class EventWriter:
    """The single writer of a :class:`FeedbackStore` (one per process).

    ``submit_recommendation(event)`` / ``submit_feedback(**kwargs)`` return futures that
    resolve once the row is committed (the recommendation id / the stored
    :class:`~moodtune.feedback.FeedbackRow`) or fail with the store's error;
    ``await recommendation(event)`` / ``await feedback(**kwargs)`` do the same for coroutines,
    and a group commit wakes each event loop once for all of its waiting requests.
    ``feedback`` takes :meth:`FeedbackStore.record_feedback`'s keyword arguments (validated
    at once, in the caller: a bad row never reaches the writer thread).
    """

    def __init__(
        self,
        store: FeedbackStore,
        *,
        batch_max: int = 256,
        recommendation_sync: str = "full",
        name: str = "moodtune-event-writer",
    ):
        if recommendation_sync not in SYNC_MODES:  # checked here: the connection opens later, on the thread
            raise ValueError(f"recommendation_sync must be 'full' or 'normal'; got {recommendation_sync!r}")
        self.store = store
        self.batch_max = int(batch_max)
        self.recommendation_sync = recommendation_sync
        self._conns: dict[str, Any] = {}  # "recommendation" / "feedback" -> own connection (SQLite)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self.commits = 0
        self.rows = 0
        self.largest_batch = 0
        self.feedback_commits = 0
        self._lock_fd = _writer_lock_file(store)
        self._deliveries: dict[asyncio.AbstractEventLoop, list] = {}
        store.ensure_schema()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- producers -----------------------------------------------------------------------

    def submit_recommendation(self, event: RecommendationEvent) -> Future:
        future: Future = Future()
        self._submit(_Job("recommendation", event, future))
        return future

    def submit_feedback(self, **kwargs: Any) -> Future:
        future: Future = Future()
        self._submit(_Job("feedback", FeedbackInput(**kwargs), future))
        return future

    def record_recommendation(self, event: RecommendationEvent, timeout: float | None = None) -> str:
        return self.submit_recommendation(event).result(timeout)

    def record_feedback(self, timeout: float | None = None, **kwargs: Any):
        return self.submit_feedback(**kwargs).result(timeout)

    async def recommendation(self, event: RecommendationEvent) -> str:
        """The recommendation id, once the event is committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._submit(_Job("recommendation", event, None, loop, future))
        return await future

    async def feedback(self, **kwargs: Any):
        """The stored :class:`~moodtune.feedback.FeedbackRow`, once its group is committed."""
        loop = asyncio.get_running_loop()
        given = FeedbackInput(**kwargs)
        future = loop.create_future()
        self._submit(_Job("feedback", given, None, loop, future))
        return await future

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
            recs = [j for j in jobs if j.kind == "recommendation" and j.start()]
            if recs:  # first: feedback in this group may answer them
                self._commit_recommendations(recs)
                self._deliver()  # one wake-up per event loop for the whole group
            feedback = [j for j in jobs if j.kind == "feedback" and j.start()]
            if feedback:
                self._commit_feedback(feedback)
                self._deliver()
            if stop:
                self._drop_connections()
                return

    def _connection(self, kind: str):
        """The writer's own connection for ``kind`` on SQLite (recommendations at
        ``recommendation_sync``, feedback always ``full``); ``None`` elsewhere (then a pooled one
        per transaction, so PostgreSQL's pre-ping still applies)."""
        if self.store.dialect != "sqlite":
            return None
        conn = self._conns.get(kind)
        if conn is None:
            sync = self.recommendation_sync if kind == "recommendation" else "full"
            conn = self._conns[kind] = self.store.dedicated_writer(synchronous=sync)
        return conn

    def _drop_connections(self, kind: str | None = None) -> None:
        for name in [kind] if kind else list(self._conns):
            conn = self._conns.pop(name, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _finish(self, job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        if job.future is not None:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        else:
            self._deliveries.setdefault(cast(asyncio.AbstractEventLoop, job.loop), []).append(
                (job.afuture, result, error)
            )

    def _deliver(self) -> None:
        deliveries, self._deliveries = self._deliveries, {}
        for loop, items in deliveries.items():
            try:
                loop.call_soon_threadsafe(resolve_futures, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _commit_recommendations(self, jobs: list[_Job]) -> None:
        try:
            rows = self.store.encode_recommendations([j.payload for j in jobs])  # outside the lock
            with self._turn():
                try:
                    with self.store.write(self._connection("recommendation")) as conn:
                        ids = self.store.insert_recommendations(conn, rows)
                except Exception:
                    self._drop_connections("recommendation")  # opened afresh (with its pragma) next time
                    raise
        except Exception as exc:  # one bad row must not fail the others: retry alone, via the store
            log.warning(
                "group insert of %d recommendation events failed (%s); retrying one by one", len(jobs), exc
            )
            for job in jobs:
                self._one(job, self.store.record_recommendation)
            return
        self.commits += 1
        self.rows += len(ids)
        self.largest_batch = max(self.largest_batch, len(ids))
        for job, rec_id in zip(jobs, ids, strict=True):
            self._finish(job, rec_id)

    def _commit_feedback(self, jobs: list[_Job]) -> None:
        """One transaction (``synchronous=FULL``) for the group; each row's answer (its stored
        row or the store's refusal) is handed out only after that commit."""
        results: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with self._turn():
                try:
                    with self.store.write(self._connection("feedback")) as conn:
                        # a refused row is refused before it writes: the others stay
                        stored = self.store.insert_feedback_group(conn, [j.payload for j in jobs])
                        for job, result in zip(jobs, stored, strict=True):
                            if isinstance(result, MoodtuneError):
                                results.append((job, None, result))
                            else:
                                results.append((job, result, None))
                except Exception:
                    self._drop_connections("feedback")
                    raise
        except Exception as exc:  # the transaction failed: nothing of it is stored; retry alone
            log.warning("group commit of %d feedback rows failed (%s); retrying one by one", len(jobs), exc)
            for job in jobs:
                self._one(job, lambda given: self.store.record_feedback(**given.model_dump()))
            return
        self.commits += 1
        self.feedback_commits += 1
        self.rows += sum(1 for _, _, err in results if err is None)
        self.largest_batch = max(self.largest_batch, len(jobs))
        for job, row, error in results:
            self._finish(job, row, error)

    def _one(self, job: _Job, call) -> None:
        try:
            with self._turn():
                result = call(job.payload)
        except Exception as exc:  # handed to the waiting caller
            self._finish(job, error=exc)
        else:
            self.commits += 1
            self.rows += 1
            self._finish(job, result)


def resolve_futures(items: list) -> None:
    """On the event loop: complete the ``(future, result, error)`` of one delivery (skipping
    abandoned futures); called once per group through ``loop.call_soon_threadsafe``."""
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


def encode_candidates(items: Sequence[tuple]) -> str:
    """``json.dumps(candidates)`` assembled from pre-encoded parts: each item is (track id,
    the features' JSON text, score, probability[, shadow probability]). Floats are written as
    ``json.dumps`` writes them (``repr``); non-finite ones are refused (JSON has none)."""
    parts = []
    for track_id, features_json, score, probability, *shadow in items:
        for value in (score, probability, *shadow):
            if value is not None and not math.isfinite(value):
                raise InvalidFeedback(f"candidate {track_id!r} has a non-finite score or probability")
        extra = (
            f', "shadow_probability": {_json_number(shadow[0])}' if shadow and shadow[0] is not None else ""
        )
        parts.append(
            f'{{"track_id": {_json_str(track_id)}, "features": {features_json}, '
            f'"score": {_json_number(score)}, "probability": {_json_number(probability)}{extra}}}'
        )
    return "[" + ", ".join(parts) + "]"


_json_str = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str (C-accelerated)


def _json_number(value: float | int | None) -> str:
    """``json.dumps(value)`` for a finite number or None, without building an encoder."""
    if value is None:
        return "null"
    return float.__repr__(value) if type(value) is float else json.dumps(value)
