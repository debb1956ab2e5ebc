"""Artefact correction of an RR series: the Lipponen & Tarvainen (2019) beat classification that
neurokit2 ships as ``signal_fixpeaks(..., method="Kubios")``.

Each beat is classed from the successive differences of the intervals and their deviation from a
local median, both against time-varying thresholds (``alpha`` × the quartile deviation over a
``window`` of beats): an **ectopic** beat (a short-long or long-short pair) and a **long/short**
beat are moved to the midpoint of their neighbours, a **missed** beat is inserted, an **extra**
detection is deleted. The pass is repeated while it finds fewer artefacts than the pass before,
as neurokit2's ``iterative=True`` does (with the same result when ``max_passes`` is not reached),
up to ``max_passes`` (``hrv.metrics.kubios.max_passes``: 1 is the single pass of the paper, after which a
moved beat can still deviate; each further pass costs a full one), and without limit for a noisy
series, whose first pass flags more than ``iterate_above`` of its beats. The counts are those of
the first pass: the beats of the recording as given that the method classes as artefacts (neurokit2's
iterative call reports only its last pass, and later passes re-class neighbours of beats already
moved, so summing them would count one artefact several times).

Real respiratory sinus arrhythmia that swings by more than 20 % is not an artefact here: the
thresholds follow the series' own variability, not a fixed share of the median.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from moodtune.hrv.config import KubiosSettings
from moodtune.hrv.constants import ARTEFACT_TYPES

# Peaks are handed to neurokit2 as integer sample indices; microseconds keep the intervals exact
# to 1 µs (neurokit2 rounds moved beats to whole samples).
_TICKS_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class Correction:
    """A corrected series and what was done to it."""

    rr: np.ndarray = field(repr=False)  # the corrected intervals (ms)
    counts: dict[str, int]  # beats of each artefact type in the series as given (the first pass)
    passes: int  # correction passes applied

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def _one_pass(peaks: np.ndarray, kubios: KubiosSettings) -> tuple[dict, np.ndarray]:
    import neurokit2 as nk

    from moodtune.hrv import kubios_speedup

    kubios_speedup.install()  # its thresholds without pandas, when checked identical (once per process)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, clean = nk.signal_fixpeaks(
            peaks,
            sampling_rate=_TICKS_PER_SECOND,
            iterative=False,
            method="Kubios",
            c1=kubios.c1,
            c2=kubios.c2,
            alpha=kubios.alpha,
            window_width=kubios.window,
            medfilt_order=kubios.median_window,
        )
    return {t: len(info[t]) for t in ARTEFACT_TYPES}, np.asarray(clean, dtype=np.int64)


def peaks_from_rr(rr_ms: np.ndarray) -> np.ndarray:
    """Beat times (µs ticks, the first at 0) of an RR series in ms."""
    return np.round(np.concatenate([[0.0], np.cumsum(rr_ms)]) * (_TICKS_PER_SECOND / 1000)).astype(np.int64)


def correct(
    rr_ms: np.ndarray, kubios: KubiosSettings, *, max_passes: int = 10, iterate_above: float = 1.0
) -> Correction:
    """Classify and correct the artefacts of an RR series (ms) with the Kubios method, repeating the
    pass while it finds fewer artefacts, at most ``max_passes`` times (10: neurokit2's ``iterative=True``),
    or until it settles when the first pass flags more than ``iterate_above`` of the beats. ``kubios``:
    the constants of Lipponen & Tarvainen (2019), the ``hrv.metrics.kubios`` settings (whose
    ``max_passes`` and ``iterate_above`` :func:`moodtune.hrv.metrics.correct_artifacts` passes)."""
    rr_ms = np.asarray(rr_ms, dtype=float)
    peaks = peaks_from_rr(rr_ms)
    first, peaks = _one_pass(peaks, kubios)
    counts, passes = first, 1
    if sum(first.values()) > iterate_above * rr_ms.size:
        max_passes = max(max_passes, 10)
    # a later pass is kept only when it finds fewer artefacts, so after a pass that found one the
    # next could only be kept finding none, which moves nothing: it is not run
    while passes < max_passes and sum(counts.values()) > 1:
        again, fixed = _one_pass(peaks, kubios)
        if sum(again.values()) >= sum(counts.values()):  # neurokit2's stopping rule
            break
        counts, peaks, passes = again, fixed, passes + 1
    rr = np.diff(peaks).astype(float) * (1000 / _TICKS_PER_SECOND)
    return Correction(rr=rr, counts=first, passes=passes)
