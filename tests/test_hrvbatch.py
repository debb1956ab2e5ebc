"""Metrics readings read together (moodtune/serving/hrvbatch.py) answer as each read alone."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from moodtune.errors import InvalidHRV
from moodtune.serving.hrvbatch import MetricsReadings
from moodtune.serving.hrvreading import read_hrv
from moodtune.serving.requests import FeedbackRequest


class Reader:
    """A StressReader stand-in whose table checks are the real ones (validate_metrics) and
    whose model is a fixed function of the metrics; it counts its calls."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def read(self, data, **_):
        import pandas as pd

        from moodtune.hrv.data import validate_metrics

        with self.lock:
            self.calls += 1
        frame = validate_metrics(pd.DataFrame([data]) if isinstance(data, dict) else data)
        z = np.stack([frame["HR"] / 100, frame["RMSSD"] / 50, frame["LF"] / frame["HF"]], axis=1)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        out = pd.DataFrame(p, columns=["p_low", "p_medium", "p_high"])
        out.insert(0, "level", np.array(["low", "medium", "high"])[p.argmax(axis=1)])
        return out


def metrics(i: int) -> dict:
    return {
        "MEAN_RR": 850.0,
        "SDRR": 55.0,
        "HR": 60.0 + i,
        "RMSSD": 20.0 + i,
        "pNN50": 18.0,
        "VLF": 900.0,
        "LF": 700.0,
        "HF": 650.0 + 10 * i,
    }


def test_a_batch_answers_as_each_row_alone_and_a_bad_row_fails_alone():
    reader, readings = Reader(), MetricsReadings()
    gate = threading.Lock()
    gate.acquire()
    blocker = readings.submit(
        type(
            "Slow", (), {"read": lambda self, d, **_: (gate.acquire(), gate.release(), reader.read(d))[2]}
        )(),
        metrics(0),
    )  # holds the thread while the others queue up
    futures = [readings.submit(reader, metrics(i)) for i in range(30)]
    gate.release()
    blocker.result(30)
    got = [f.result(30) for f in futures]
    assert got == [read_hrv(reader, metrics=metrics(i)) for i in range(30)]
    assert readings.batches == 1 and readings.readings == 30
    bad = {**metrics(1), "HR": 900.0}
    gate.acquire()
    blocker = readings.submit(
        type(
            "Slow", (), {"read": lambda self, d, **_: (gate.acquire(), gate.release(), reader.read(d))[2]}
        )(),
        metrics(0),
    )
    mixed = [readings.submit(reader, m) for m in (metrics(2), bad, metrics(3))]
    gate.release()
    blocker.result(30)
    assert mixed[0].result(30) == read_hrv(reader, metrics=metrics(2))
    with pytest.raises(InvalidHRV, match="HR is 900"):
        mixed[1].result(30)
    assert mixed[2].result(30)["level"] == read_hrv(reader, metrics=metrics(3))["level"]


def test_coroutines_reading_together_get_one_batch_and_one_wake_up_per_batch():
    import asyncio

    reader, readings = Reader(), MetricsReadings()
    gate = threading.Lock()
    slow = type(
        "Slow", (), {"read": lambda self, d, **_: (gate.acquire(), gate.release(), reader.read(d))[2]}
    )()

    async def main():
        loop = asyncio.get_running_loop()
        wakeups = []
        plain = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *a, **k: (wakeups.append(a[0]), plain(*a, **k))[1]
        gate.acquire()
        blocker = asyncio.ensure_future(readings.read(slow, metrics(0)))
        await asyncio.sleep(0.05)  # the thread now waits in the blocker's read
        tasks = [asyncio.ensure_future(readings.read(reader, metrics(i))) for i in range(25)]
        await asyncio.sleep(0.05)  # all 25 queued behind it
        gate.release()
        await blocker
        return await asyncio.gather(*tasks), wakeups

    got, wakeups = asyncio.run(main())
    assert got == [read_hrv(reader, metrics=metrics(i)) for i in range(25)]
    assert readings.batches == 1 and readings.readings == 25
    assert len(wakeups) == 2  # the blocker's, then one for the batch of 25


def test_the_engine_keeps_a_reading_made_in_a_batch():
    """plan_feedback with the batch's reading stores it: the reader is not called again."""
    from types import SimpleNamespace

    from moodtune import registry
    from moodtune.serving.engine import Engine
    from moodtune.settings import load_settings

    reader = Reader()
    engine = Engine(
        load_settings(),
        SimpleNamespace(current=SimpleNamespace(hrv=reader, versions={registry.HRV: "3"})),
        None,
    )
    req = FeedbackRequest(recommendation_id="a" * 32, track_id="t1", metrics=metrics(4))
    batch = MetricsReadings().submit(reader, metrics(4)).result(30)
    calls = reader.calls
    reading, kwargs = engine.plan_feedback(req, reading=batch)
    assert reader.calls == calls and reading is batch
    assert kwargs["stress_level"] == batch["level"] and kwargs["model_versions"] == {registry.HRV: "3"}
    alone, again = engine.plan_feedback(req)  # without one, the engine reads it itself, the same way
    assert reader.calls == calls + 1 and alone == batch and again == kwargs


def test_engine_feedback_reads_bare_metrics_in_a_batch_and_stores_the_row():
    """Engine.feedback (the /feedback endpoint's flow): bare metrics go through the engine's
    batched readings, the row is stored through the writer; a stated stress level reads nothing."""
    import asyncio
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from moodtune import registry
    from moodtune.serving.engine import Engine
    from moodtune.settings import load_settings

    class Writer:
        def __init__(self):
            self.stored = []

        async def feedback(self, **kwargs):
            self.stored.append(kwargs)
            row = {"id": len(self.stored), "created_at": datetime(2026, 1, 1, tzinfo=UTC)}
            return SimpleNamespace(as_dict=lambda: dict(row))

    class Counted(MetricsReadings):
        asked = 0

        async def read(self, reader, metrics):
            self.asked += 1
            return await super().read(reader, metrics)

    reader, readings, writer = Reader(), Counted(), Writer()
    holder = SimpleNamespace(current=SimpleNamespace(hrv=reader, versions={registry.HRV: "3"}))
    engine = Engine(load_settings(), holder, writer, readings)
    out = asyncio.run(
        engine.feedback(FeedbackRequest(recommendation_id="a" * 32, track_id="t1", metrics=metrics(4)))
    )
    assert readings.asked == 1 and out.reading == read_hrv(reader, metrics=metrics(4))
    assert out.created_at == "2026-01-01T00:00:00+00:00"
    assert writer.stored[0]["stress_level"] == out.reading["level"]
    assert writer.stored[0]["model_versions"] == {registry.HRV: "3"}
    stated = asyncio.run(
        engine.feedback(FeedbackRequest(recommendation_id="a" * 32, track_id="t1", stress_level="low"))
    )
    assert stated.reading is None and writer.stored[1]["source"] == "explicit"
    assert readings.asked == 1  # nothing was read


def test_a_batch_waits_wait_ms_for_more_readings():
    import time

    reader, readings = Reader(), MetricsReadings(wait_ms=2000)
    first = readings.submit(reader, metrics(0))
    time.sleep(0.1)  # well inside the wait: the batch is still open
    later = [readings.submit(reader, metrics(i)) for i in range(1, 6)]
    got = [f.result(30) for f in (first, *later)]
    assert readings.batches == 1 and readings.readings == 6 and reader.calls == 1
    assert got == [read_hrv(reader, metrics=metrics(i)) for i in range(6)]
