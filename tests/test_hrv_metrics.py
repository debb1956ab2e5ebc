"""moodtune.hrv.metrics: units, artefact handling, bad input, and a cross-check on a real recording.

The cross-check uses the real PPG recording that ships in heartpy (heartpy/data/data3.csv,
~11 min): heartpy's own peak detection gives the RR intervals, our ``analyze`` corrects them,
and then on that same series

* heartpy's independent time-domain implementation (``calc_ts_measures``) must agree with
  ours to 1e-9 relative after the documented definitional differences (heartpy's SDNN uses
  ddof=0, its pNN50 divides by the number of differences, ours by the number of intervals);
* a textbook frequency-domain implementation written here with scipy only (cubic spline at
  4 Hz, Welch with 256-s Hann segments, trapezoid over the Task Force bands) must agree on LF
  and HF within 10 % and on VLF within 25 % (VLF spans only a few bins in 11 minutes and the
  two Welch segmentations differ).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from moodtune.errors import InvalidHRV
from moodtune.hrv import METRIC_COLUMNS, analyze, metrics
from moodtune.hrv.simulate import simulate_rr, simulate_subject
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code

heartpy = pytest.importorskip("heartpy")


def _heartpy_rr(name: str) -> tuple[np.ndarray, dict]:
    """RR intervals (ms) heartpy detects in one of its bundled PPG recordings, and its measures."""
    folder = os.path.join(os.path.dirname(heartpy.__file__), "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "data.csv":
            signal, rate = np.loadtxt(os.path.join(folder, name)), 100.0
        elif name == "data2.csv":
            df = pd.read_csv(os.path.join(folder, name))
            signal, rate = df["hr"].to_numpy(), heartpy.get_samplerate_mstimer(df["timer"].to_numpy())
        else:
            df = pd.read_csv(os.path.join(folder, name))
            signal = df["hr"].to_numpy()
            rate = heartpy.get_samplerate_datetime(
                df["datetime"].to_numpy(), timeformat="%Y-%m-%d %H:%M:%S.%f"
            )
        working, measures = heartpy.process(signal, rate)
    return np.asarray(working["RR_list"], dtype=float), measures


def _textbook_bands(rr: np.ndarray) -> dict[str, float]:
    from scipy.interpolate import CubicSpline
    from scipy.signal import welch

    t = np.cumsum(rr) / 1000.0
    grid = np.arange(t[0], t[-1], 0.25)
    x = CubicSpline(t, rr)(grid)
    f, p = welch(x - x.mean(), fs=4.0, window="hann", nperseg=min(1024, len(x)), detrend="constant")
    out = {}
    for name, (lo, hi) in {"VLF": (0.0033, 0.04), "LF": (0.04, 0.15), "HF": (0.15, 0.4)}.items():
        sel = (f >= lo) & (f < hi)
        out[name] = float(np.trapezoid(p[sel], f[sel]))
    return out


def test_metrics_match_independent_implementations_on_a_real_recording():
    rr, heartpy_own = _heartpy_rr("data3.csv")
    assert rr.size > 1000 and rr.sum() / 1000 > 600  # an 11-minute real recording
    result = analyze(rr, HRV.metrics)
    ours = result.values
    clean = result.rr_clean
    n = clean.size

    # the real PPG has mis-detections: the artefact handler finds and reports them ...
    assert 0 < result.n_artifacts < 0.2 * rr.size
    # ... and the corrected mean agrees with heartpy's own (which rejects instead of interpolating)
    assert ours["MEAN_RR"] == pytest.approx(heartpy_own["ibi"], rel=0.01)

    # time domain: heartpy's implementation on the same corrected series (rel 1e-9)
    diff = np.diff(clean)
    _, ref = heartpy.analysis.calc_ts_measures(clean, np.abs(diff), diff**2, {}, {})
    assert ours["MEAN_RR"] == pytest.approx(ref["ibi"], rel=1e-9)
    assert ours["SDRR"] == pytest.approx(ref["sdnn"] * np.sqrt(n / (n - 1)), rel=1e-9)
    assert ours["RMSSD"] == pytest.approx(ref["rmssd"], rel=1e-9)
    assert ours["pNN50"] == pytest.approx(100 * ref["pnn50"] * (n - 1) / n, rel=1e-9)
    # HR is SWELL's mean instantaneous heart rate; heartpy's bpm is 60000 / mean RR (lower, Jensen)
    assert ours["HR"] == pytest.approx(np.mean(60000.0 / clean), rel=1e-12)
    assert ref["bpm"] < ours["HR"] < ref["bpm"] * 1.02

    # frequency domain, absolute ms², against the textbook scipy pipeline
    textbook = _textbook_bands(clean)
    assert ours["LF"] == pytest.approx(textbook["LF"], rel=0.10)
    assert ours["HF"] == pytest.approx(textbook["HF"], rel=0.10)
    assert ours["VLF"] == pytest.approx(textbook["VLF"], rel=0.25)


def test_real_recordings_with_gaps_or_too_short_are_refused():
    gappy, _ = _heartpy_rr("data2.csv")  # PPG drop-outs: 7-second "intervals"
    with pytest.raises(InvalidHRV, match="gaps"):
        metrics(gappy, HRV.metrics)
    short, _ = _heartpy_rr("data.csv")  # 25 s of PPG
    with pytest.raises(InvalidHRV, match="at least 60 s of RR intervals"):
        metrics(short, HRV.metrics)


def test_band_powers_are_absolute_ms2():
    """A pure 0.25 Hz RSA of amplitude A ms carries A²/2 ms² of HF power (and 0.1 Hz -> LF)."""
    beats = np.arange(400) * 0.8
    rr = 800 + 40 * np.sin(2 * np.pi * 0.25 * beats) + 20 * np.sin(2 * np.pi * 0.1 * beats)
    m = metrics(rr, HRV.metrics)
    assert m["HF"] == pytest.approx(40**2 / 2, rel=0.1)
    assert m["LF"] == pytest.approx(20**2 / 2, rel=0.1)
    assert m["VLF"] < 50
    assert set(m) == set(METRIC_COLUMNS)
    assert all(isinstance(v, float) and np.isfinite(v) for v in m.values())


def test_time_domain_follows_textbook_formulas_on_simulated_series():
    rr = simulate_rr(0.3, 300, np.random.default_rng(3), simulate_subject(np.random.default_rng(4)))
    result = analyze(rr, HRV.metrics)
    c = result.rr_clean
    m = result.values
    assert m["MEAN_RR"] == pytest.approx(c.mean(), rel=1e-12)
    assert m["SDRR"] == pytest.approx(c.std(ddof=1), rel=1e-12)
    assert m["RMSSD"] == pytest.approx(np.sqrt(np.mean(np.diff(c) ** 2)), rel=1e-12)
    assert m["pNN50"] == pytest.approx(100 * np.sum(np.abs(np.diff(c)) > 50) / c.size, rel=1e-12)
    assert m["HR"] == pytest.approx(np.mean(60000 / c), rel=1e-12)


def test_ectopic_beats_are_counted_and_corrected():
    rng = np.random.default_rng(11)
    beats = np.arange(375) * 0.8
    clean = 800 + 30 * np.sin(2 * np.pi * 0.25 * beats) + rng.normal(0, 3, beats.size)
    dirty = clean.copy()
    for i in (50, 150, 250):  # premature beat + compensatory pause
        dirty[i] *= 0.65
        dirty[i + 1] += clean[i] * 0.35
    # a spurious extra detection splits beat 320's interval in two
    dirty = np.concatenate([dirty[:320], [120.0, clean[320] - 120.0], dirty[321:]])
    result = analyze(dirty, HRV.metrics)
    # Kubios classes each premature beat as ectopic and its compensatory pause as long/short
    assert result.artifacts == {"ectopic": 3, "missed": 0, "extra": 1, "longshort": 3}
    assert result.n_artifacts == 7
    assert result.as_dict()["artifact_fraction"] == pytest.approx(7 / 376)
    assert result.as_dict()["n_extra"] == 1 and result.rr_clean.size == clean.size  # the extra beat is gone
    reference = metrics(clean, HRV.metrics)
    # moved beats sit at the midpoint of their neighbours, which flattens the RSA there a little
    assert result.values["RMSSD"] == pytest.approx(reference["RMSSD"], rel=0.15)
    # without correction the premature beats would have inflated RMSSD by far more
    raw_rmssd = np.sqrt(np.mean(np.diff(dirty) ** 2))
    assert raw_rmssd > 2 * reference["RMSSD"]


@pytest.mark.parametrize(
    ("rr", "message"),
    [
        ([], "no RR intervals"),
        (np.full(200, np.nan), "NaN or infinite"),
        ([800.0] * 100 + [np.inf] + [800.0] * 100, "NaN or infinite"),
        ([800.0] * 100 + [-800.0] + [800.0] * 100, "zero or negative"),
        ([800.0] * 100 + [0.0] + [800.0] * 100, "zero or negative"),
        ([0.8] * 200, "look like seconds"),
        ([50.0] * 2000, "not a human heartbeat"),
        ([4000.0] * 100, "not a human heartbeat"),
        ([800.0] * 100 + [60000.0] + [800.0] * 100, "gaps"),
        ([800.0] * 40, "at least 60 s of RR intervals"),
        ([1500.0] * 45, "at least 50 intervals"),
        ("800\n810\n", "not text"),
        (["800", "abc"], "numbers in milliseconds"),
        ({"MEAN_RR": 800}, "mapping"),
        (np.ones((10, 10)) * 800, "one series"),
    ],
)
def test_bad_input_raises_invalid_hrv_saying_what_to_fix(rr, message):
    with pytest.raises(InvalidHRV, match=message):
        metrics(rr, HRV.metrics)


def test_too_many_artefacts_are_refused():
    rng = np.random.default_rng(0)
    rr = np.where(rng.random(300) < 0.35, 400.0, 850.0) + rng.normal(0, 5, 300)
    # artefacts everywhere widen the method's own thresholds: the irregularity limit refuses it
    with pytest.raises(InvalidHRV, match="too many implausible RR intervals"):
        metrics(rr, HRV.metrics)
    # one beat in ten is a spurious extra detection: corrected by default, refused under a tighter limit
    base = 850 + 25 * np.sin(2 * np.pi * 0.25 * np.arange(300) * 0.85) + rng.normal(0, 5, 300)
    split = []
    for v in base:
        f = rng.uniform(0.3, 0.6)
        split += [v * f, v * (1 - f)] if rng.random() < 0.1 else [v]
    split = np.asarray(split)
    with pytest.raises(InvalidHRV, match="too many implausible RR intervals"):
        analyze(split, HRV.metrics.model_copy(update={"max_artifact_fraction": 0.05}))
    # ... unless the limit allows it
    lenient = HRV.metrics.model_copy(update={"max_artifact_fraction": 0.5})
    result = analyze(split, lenient)
    assert result.n_artifacts > 0.1 * split.size and result.artifacts["extra"] >= 10
