"""The service's HRV reading passes signal files, a baseline and a sampling rate to StressReader.read."""

from __future__ import annotations

import numpy as np
import pytest

from moodtune.errors import InvalidHRV
from moodtune.hrv import StressReader
from moodtune.hrv.model import fit
from moodtune.hrv.pipeline import compute_metrics
from moodtune.hrv.simulate import simulate_dataset, simulate_rr, simulate_subject
from moodtune.serving.answers import Upload
from moodtune.serving.hrvreading import read_hrv
from moodtune.serving.requests import AnalyzeHrvRequest
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code
SEED = get_settings().project.seed


@pytest.fixture(scope="module")
def reader() -> StressReader:
    table, _ = compute_metrics(simulate_dataset(8, 2, 120, seed=5, baseline_seconds=120), HRV.metrics)
    return StressReader(fit(table, HRV.model.model_copy(update={"iterations": 40}), SEED, "baseline"), HRV)


def _ecg_bytes(rr_ms: np.ndarray, rate: float = 250.0) -> bytes:
    """A synthetic ECG: a narrow R wave at each beat of ``rr_ms`` on a little noise."""
    beats = np.cumsum(rr_ms) / 1000.0
    t = np.arange(0, beats[-1] + 1, 1 / rate)
    x = np.random.default_rng(0).normal(0, 0.01, t.size)
    for b in beats:
        x += np.exp(-0.5 * ((t - b) / 0.01) ** 2)
    return ("ecg\n" + "\n".join(f"{v:.4f}" for v in x)).encode()


def test_signal_file_baseline_and_rate_reach_the_reader(reader):
    subject = simulate_subject(np.random.default_rng(3))
    rest = simulate_rr(0.0, 150, np.random.default_rng(1), subject)
    now = simulate_rr(1.0, 150, np.random.default_rng(2), subject)
    baseline = Upload("rest.txt", "\n".join(f"{v:.1f}" for v in rest).encode())
    out = read_hrv(
        reader, upload=Upload("strap.csv", _ecg_bytes(now)), baseline=baseline, sampling_rate=250.0
    )
    assert out["source"] == "rr" and out["recording"]["n_intervals"] >= now.size - 2
    assert out["recording"]["dlog_RMSSD"] < 0  # stressed: less beat-to-beat variability than at rest
    assert out["metrics"]["MEAN_RR"] == pytest.approx(now.mean(), rel=0.02)
    # the same without a baseline still reads; without a rate the signal is refused, naming the file
    assert "dlog_RMSSD" not in read_hrv(reader, rr=list(now))["recording"]
    with pytest.raises(InvalidHRV, match="'strap.csv'.*no sampling rate"):
        read_hrv(reader, upload=Upload("strap.csv", _ecg_bytes(now)))


def test_engine_analyze_hrv_takes_a_baseline_upload(reader):
    from types import SimpleNamespace

    from moodtune import registry
    from moodtune.serving.engine import Engine
    from moodtune.settings import load_settings

    holder = SimpleNamespace(current=SimpleNamespace(hrv=reader, versions={registry.HRV: "7"}))
    engine = Engine(load_settings(), holder, None)
    subject = simulate_subject(np.random.default_rng(4))
    rest = simulate_rr(0.0, 150, np.random.default_rng(1), subject)
    now = simulate_rr(1.0, 150, np.random.default_rng(2), subject)
    as_file = lambda name, rr: Upload(name, "\n".join(f"{v:.1f}" for v in rr).encode())  # noqa: E731
    out = engine.analyze_hrv(AnalyzeHrvRequest(), as_file("now.txt", now), as_file("rest.txt", rest))
    assert out.model_versions == {registry.HRV: "7"} and out.recording["dlog_HF"] < 0
    plain = engine.analyze_hrv(AnalyzeHrvRequest(), as_file("now.txt", now))
    assert "dlog_HF" not in plain.recording and plain.metrics == out.metrics
    with pytest.raises(Exception, match="baseline HRV file 'rest.txt' is empty"):
        engine.analyze_hrv(AnalyzeHrvRequest(), as_file("now.txt", now), Upload("rest.txt", b""))


def test_a_five_minute_1000_hz_ecg_reads_through_the_service_and_a_long_one_is_refused(reader):
    import os
    from types import SimpleNamespace

    from moodtune import registry
    from moodtune.hrv import analyze
    from moodtune.hrv.signals import rr_from_signal
    from moodtune.serving.engine import Engine
    from moodtune.settings import load_settings

    systole = pytest.importorskip("systole")
    ecg = np.load(
        os.path.join(os.path.dirname(systole.__file__), "datasets", "Task1_ECG.npy")
    )  # 25.6 min, 1000 Hz
    settings = load_settings()
    engine = Engine(
        settings, SimpleNamespace(current=SimpleNamespace(hrv=reader, versions={registry.HRV: "7"})), None
    )
    five = ecg[:300_000]
    data = ("# sampling_rate: 1000\necg\n" + "\n".join(f"{v:.5f}" for v in five)).encode()
    assert 2_000_000 < len(data) <= settings.service.max_hrv_bytes  # refused by the old 2 MB limit
    out = engine.analyze_hrv(AnalyzeHrvRequest(), Upload("strap.csv", data))
    expected = analyze(
        rr_from_signal(
            np.round(five, 5), 1000.0, "ecg", HRV.input.signal, min_intervals=HRV.metrics.min_intervals
        ),
        HRV.metrics,
    )
    assert out.source == "rr" and out.recording["n_intervals"] == expected.n_intervals > 300
    for name, value in expected.values.items():
        assert out.metrics[name] == pytest.approx(value, rel=1e-5), name
    # the whole 25.6 minutes (at 250 Hz, so that it fits the byte limit) is longer than the service reads
    long = ("# sampling_rate: 250\necg\n" + "\n".join(f"{v:.4f}" for v in ecg[::4])).encode()
    assert len(long) <= settings.service.max_hrv_bytes
    with pytest.raises(InvalidHRV, match=f"longer than {settings.service.max_hrv_signal_seconds:g} s"):
        engine.analyze_hrv(AnalyzeHrvRequest(), Upload("long.csv", long))
