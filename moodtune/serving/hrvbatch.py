"""Readings of the eight HRV metrics that arrive together, read as one table.

Reading one set of metrics costs ~5-15 ms of CPU, nearly all of it in the per-call table
checks of :meth:`~moodtune.hrv.reader.StressReader.read` (pandas, column by column), not in
the model; the checks and the model are row by row. So the feedback endpoint hands its
metrics to :class:`MetricsReadings`: one thread takes every reading that is waiting and reads
them in one ``StressReader.read`` call; each caller gets the answer
:func:`~moodtune.serving.hrvreading.read_hrv` gives for its row alone. When the table is
refused (one bad row), every row is read alone, so each gets its own message. A coroutine
awaits :meth:`MetricsReadings.read`: a batch wakes each event loop once for all of its rows
(one ``call_soon_threadsafe``, not one per row).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from moodtune.hrv.constants import LEVELS
from moodtune.serving.eventlog import resolve_futures
from moodtune.serving.hrvreading import PROBA, read_hrv

log = logging.getLogger(__name__)


class MetricsReadings:
    """``submit(reader, metrics)`` -> a future of the reading (``read_hrv``'s answer);
    ``await read(reader, metrics)`` -> the reading.

    A batch starts with the first reading waiting and takes every reading that arrives within
    ``wait_ms`` (up to ``batch_max``): the read costs ~5 ms whether it holds 1 row or 50, so
    under load a few ms of waiting make the batches (and the CPU they save) several times larger
    (``service.hrv_batch_wait_ms``; 50 clients on 2 cores, feedback: 0 ms ~500 req/s, 5 ms ~1,200)."""

    def __init__(self, batch_max: int = 256, wait_ms: float = 0.0, name: str = "moodtune-hrv-readings"):
        self.batch_max = int(batch_max)
        self.wait_s = float(wait_ms) / 1000
        self.batches = 0
        self.readings = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, reader, metrics: Mapping[str, float]) -> Future:
        future: Future = Future()
        self._queue.put(_Job(reader, dict(metrics), future))
        return future

    async def read(self, reader, metrics: Mapping[str, float]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(reader, dict(metrics), None, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(jobs) < self.batch_max:
                try:
                    wait = deadline - time.monotonic()
                    jobs.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            by_reader: dict[int, list] = {}
            for job in jobs:
                by_reader.setdefault(id(job.reader), []).append(job)
            deliveries: dict[asyncio.AbstractEventLoop, list] = {}
            for group in by_reader.values():
                self._read(group, deliveries)
            for loop, items in deliveries.items():
                try:
                    loop.call_soon_threadsafe(resolve_futures, items)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    pass

    def _read(self, jobs: list[_Job], deliveries: dict) -> None:
        live = [j for j in jobs if j.start()]
        if not live:
            return
        reader = live[0].reader
        try:
            if len(live) == 1:
                raise _Alone
            table = reader.read(pd.DataFrame([j.metrics for j in live]))
            proba = table[list(PROBA)].to_numpy(dtype=float)
            if proba.shape != (len(live), len(LEVELS)):
                raise _Alone
        except Exception:  # one row refused (or a single row): each alone, with its own message
            for job in live:
                try:
                    job.finish(deliveries, read_hrv(reader, metrics=job.metrics))
                except Exception as exc:  # handed to the caller
                    job.finish(deliveries, error=exc)
            return
        self.batches += 1
        self.readings += len(live)
        for job, row in zip(live, proba, strict=True):
            job.finish(deliveries, _answer(job.metrics, row))


@dataclass
class _Job:
    reader: Any
    metrics: dict[str, float]
    future: Future | None = None  # a thread waiting (submit)
    loop: asyncio.AbstractEventLoop | None = None  # or a coroutine waiting (await read)
    afuture: asyncio.Future | None = None

    def start(self) -> bool:
        """False when the caller gave up already."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return not cast(asyncio.Future, self.afuture).done()  # one of the two is set

    def finish(self, deliveries: dict, result: Any = None, error: BaseException | None = None) -> None:
        if self.future is None:  # delivered on its loop, with the rest of the batch
            deliveries.setdefault(self.loop, []).append((self.afuture, result, error))
        elif error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class _Alone(Exception):
    pass


def _answer(metrics: Mapping[str, Any], row: np.ndarray) -> dict[str, Any]:
    """What :func:`read_hrv` answers for one row of metrics (its ``probabilities`` rounded)."""
    level = LEVELS[int(np.argmax(row))]
    return {
        "level": level,
        "probabilities": {lvl: round(float(p), 6) for lvl, p in zip(LEVELS, row, strict=True)},
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "source": "metrics",
        "rows": 1,
        "per_row": [
            {"level": level, "p_low": float(row[0]), "p_medium": float(row[1]), "p_high": float(row[2])}
        ],
    }
