"""The faster Kubios thresholds (moodtune/hrv/kubios_speedup.py) change no number: neurokit2's
own ``_compute_threshold`` and the swap give bit-identical thresholds, the same artefacts and the
same corrected beats on real recordings (systole's ECG and PPG, heartpy's PPG) and simulated ones;
the swap is refused by the version guard; a pass after one that found one artefact is skipped
without changing the result."""

from __future__ import annotations

import importlib
import os
import warnings

import numpy as np
import pytest

from moodtune.hrv import kubios_speedup
from moodtune.hrv.artefacts import correct, peaks_from_rr
from moodtune.hrv.constants import ARTEFACT_TYPES
from moodtune.hrv.signals import rr_from_signal
from moodtune.hrv.simulate import simulate_rr
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code

fixpeaks = importlib.import_module("neurokit2.signal.signal_fixpeaks")


def _series() -> list[np.ndarray]:
    systole = pytest.importorskip("systole")
    heartpy = pytest.importorskip("heartpy")
    home = os.path.join(os.path.dirname(systole.__file__), "datasets")
    ecg = np.load(os.path.join(home, "Task1_ECG.npy"))[:600_000]
    ppg = np.load(os.path.join(home, "ppg.npy")).astype(float)
    import pandas as pd

    hp = pd.read_csv(os.path.join(os.path.dirname(heartpy.__file__), "data", "data3.csv"))
    rate = heartpy.get_samplerate_datetime(hp["datetime"].to_numpy(), timeformat="%Y-%m-%d %H:%M:%S.%f")
    limits = HRV.input.signal
    return [
        rr_from_signal(ecg, 1000.0, "ecg", limits, min_intervals=HRV.metrics.min_intervals),
        rr_from_signal(ppg, 75.0, "ppg", limits, min_intervals=HRV.metrics.min_intervals),
        rr_from_signal(
            hp["hr"].to_numpy(float), rate, "ppg", limits, min_intervals=HRV.metrics.min_intervals
        ),
        *(simulate_rr(s, 300, np.random.default_rng(i)) for i, s in enumerate(np.linspace(0, 1, 12))),
    ]


def _nk(peaks: np.ndarray, iterative: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fixpeaks.signal_fixpeaks(peaks, sampling_rate=1_000_000, iterative=iterative, method="Kubios")


@pytest.fixture
def original():
    """neurokit2's own function, the swap put back afterwards."""
    kubios_speedup.uninstall()
    own = fixpeaks._compute_threshold
    yield own
    kubios_speedup.uninstall()
    assert kubios_speedup.install()["installed"]


def test_the_swap_is_installed_on_this_neurokit2_after_its_start_up_check():
    status = kubios_speedup.install()
    assert status["installed"], status["reason"]
    assert fixpeaks._compute_threshold is kubios_speedup.rolling_quartile_threshold


def test_thresholds_artefacts_and_beats_are_identical_on_real_and_simulated_recordings(original):
    series = _series()
    assert len(series) == 15 and min(len(s) for s in series) > 300
    theirs = []  # neurokit2 as shipped (the swap is not installed here)
    for rr in series:
        peaks = peaks_from_rr(rr)
        theirs.append(
            (
                _nk(peaks, False),
                _nk(peaks, True),
                original(np.diff(rr), 5.2, 91),
                original(rr - np.median(rr), 5.2, 11),
            )
        )
    assert kubios_speedup.install()["installed"]
    flagged = 0
    for rr, (first, full, th1, th2) in zip(series, theirs, strict=True):
        peaks = peaks_from_rr(rr)
        assert np.array_equal(kubios_speedup.rolling_quartile_threshold(np.diff(rr), 5.2, 91), th1)
        assert np.array_equal(kubios_speedup.rolling_quartile_threshold(rr - np.median(rr), 5.2, 11), th2)
        info, clean = _nk(peaks, False)
        assert all(info[k] == first[0][k] for k in ARTEFACT_TYPES) and np.array_equal(clean, first[1])
        assert np.array_equal(_nk(peaks, True)[1], full[1])
        ours = correct(rr, HRV.metrics.kubios, max_passes=10)
        assert ours.counts == {k: len(first[0][k]) for k in ARTEFACT_TYPES}
        np.testing.assert_allclose(ours.rr, np.diff(full[1]) / 1000.0, rtol=0, atol=1e-9)  # µs ticks -> ms
        flagged += ours.total
    assert flagged > 20  # the recordings do hold artefacts to classify


def test_inputs_it_does_not_cover_go_to_neurokit2s_own_function(original):
    assert kubios_speedup.install()["installed"]
    x = np.random.default_rng(0).normal(0, 1, 200)
    x[50] = np.nan
    np.testing.assert_array_equal(kubios_speedup.rolling_quartile_threshold(x, 5.2, 91), original(x, 5.2, 91))
    y = x[60:]
    np.testing.assert_array_equal(kubios_speedup.rolling_quartile_threshold(y, 5.2, 10), original(y, 5.2, 10))


def test_an_unchecked_neurokit2_version_keeps_its_own_function(original, monkeypatch):
    import neurokit2

    with monkeypatch.context() as patch:
        patch.setattr(neurokit2, "__version__", "0.9.0")
        status = kubios_speedup.install()
    assert not status["installed"] and "0.9.0 is not a checked version" in status["reason"]
    assert fixpeaks._compute_threshold is original


def test_a_pass_after_a_single_artefact_is_skipped_with_neurokit2s_result():
    rng = np.random.default_rng(5)
    rr = 800 + 30 * np.sin(np.arange(400) / 3) + rng.normal(0, 5, 400)
    rr[200] += 300  # one long beat
    fixed = correct(rr, HRV.metrics.kubios, max_passes=10)
    assert fixed.total == 1 and fixed.passes == 1
    np.testing.assert_allclose(fixed.rr, np.diff(_nk(peaks_from_rr(rr), True)[1]) / 1000.0, atol=1e-9)


def test_switched_off_gives_neurokit2s_own_function_for_the_block():
    assert kubios_speedup.install()["installed"]
    with kubios_speedup.switched_off():
        correct(simulate_rr(0.5, 120, np.random.default_rng(1)), HRV.metrics.kubios)
        assert fixpeaks._compute_threshold is not kubios_speedup.rolling_quartile_threshold
    assert fixpeaks._compute_threshold is kubios_speedup.rolling_quartile_threshold
