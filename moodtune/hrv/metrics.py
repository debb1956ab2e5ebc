"""RR intervals -> the eight HRV metrics of seed A's stress model, in SWELL's units.

:func:`analyze` validates a recording, corrects artefacts and computes, with neurokit2:

* time domain (``nk.hrv_time``): MEAN_RR and SDRR (= SDNN, sample SD) in ms, RMSSD in ms,
  pNN50 in % (NN50 / number of intervals, neurokit2's definition); HR in bpm is the mean
  instantaneous heart rate, ``mean(60000 / RR)`` (SWELL's HR, which exceeds ``60000 / MEAN_RR``);
* frequency domain: the RR series is interpolated at ``interpolation_hz`` (cubic,
  ``nk.intervals_process``) and its Welch spectrum (Hann segments of ``welch_window_s``, at
  most half the recording, 50 % overlap) integrated over the Task Force bands
  (``nk.signal_power``) **without neurokit2's default normalisation**, so VLF, LF and HF are
  absolute powers in ms², like SWELL's (neurokit2's default divides by the peak of the PSD).

The limits and constants are the ``hrv.metrics`` settings (:class:`moodtune.hrv.config.MetricsSettings`),
given to every function here. Artefacts are classified and corrected with the Lipponen & Tarvainen (2019) method that
neurokit2 ships (:mod:`moodtune.hrv.artefacts`): ectopic, missed, extra and long/short beats,
counted per type. A recording that is empty, not numeric, NaN, zero/negative, in seconds rather
than milliseconds, has gaps, is too short or has too many artefacts raises :class:`InvalidHRV`
saying what is wrong and what is needed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moodtune.errors import InvalidHRV
from moodtune.hrv.artefacts import correct
from moodtune.hrv.config import MetricsSettings
from moodtune.hrv.constants import ARTEFACT_TYPES, BANDS, METRIC_COLUMNS


@dataclass(frozen=True)
class HrvResult:
    """The eight metrics of one recording plus what artefact correction did to it."""

    values: dict[str, float]
    n_intervals: int  # intervals given
    artifacts: dict[str, int]  # beats corrected, per type (ectopic, missed, extra, longshort)
    duration_s: float  # sum of the intervals given
    rr_clean: np.ndarray = field(repr=False)  # the corrected series the metrics come from

    @property
    def n_artifacts(self) -> int:
        return int(sum(self.artifacts.values()))

    @property
    def artifact_fraction(self) -> float:
        return self.n_artifacts / self.n_intervals if self.n_intervals else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            **self.values,
            "n_intervals": self.n_intervals,
            "n_artifacts": self.n_artifacts,
            **{f"n_{kind}": self.artifacts.get(kind, 0) for kind in ARTEFACT_TYPES},
            "artifact_fraction": self.artifact_fraction,
            "duration_s": self.duration_s,
        }


def as_intervals(rr_ms: Any) -> np.ndarray:
    """Coerce a list / array / Series of RR intervals to a 1-D float array, or :class:`InvalidHRV`."""
    if isinstance(rr_ms, (str, bytes)):
        raise InvalidHRV(
            "RR intervals must be a sequence of numbers in milliseconds, not text; "
            "parse the file first (StressReader.read accepts files)"
        )
    if isinstance(rr_ms, Mapping):
        raise InvalidHRV(
            "RR intervals must be a sequence of numbers in milliseconds; got a mapping "
            "(give the eight metrics to StressReader.read instead)"
        )
    try:
        arr = np.asarray(rr_ms, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidHRV(
            f"RR intervals must be numbers in milliseconds, one per beat; could not read "
            f"them as numbers ({exc})"
        ) from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InvalidHRV(
            f"RR intervals must be one series of numbers (ms); got an array of shape {arr.shape}"
        )
    return arr


def _validate(rr: np.ndarray, config: MetricsSettings) -> None:
    need = f"at least {config.min_seconds:g} s of RR intervals in milliseconds (one per beat)"
    if rr.size == 0:
        raise InvalidHRV(f"no RR intervals given; need {need}")
    bad = ~np.isfinite(rr)
    if bad.any():
        raise InvalidHRV(
            f"{int(bad.sum())} of {rr.size} RR intervals are NaN or infinite (first at position "
            f"{int(np.argmax(bad))}); remove them or fill the missing beats before analysis"
        )
    nonpos = rr <= 0
    if nonpos.any():
        i = int(np.argmax(nonpos))
        raise InvalidHRV(
            f"{int(nonpos.sum())} RR intervals are zero or negative (first: {rr[i]:g} at position {i}); "
            "RR intervals are positive durations in milliseconds"
        )
    median = float(np.median(rr))
    if median < 10:
        raise InvalidHRV(
            f"RR intervals look like seconds (median {median:g}); give milliseconds (multiply by 1000)"
        )
    if not (config.rr_min_ms <= median <= config.rr_max_ms):
        raise InvalidHRV(
            f"the median RR interval is {median:g} ms, which is not a human heartbeat; expected "
            f"{config.rr_min_ms:g}–{config.rr_max_ms:g} ms "
            f"({60000 / config.rr_max_ms:.0f}–{60000 / config.rr_min_ms:.0f} bpm)"
        )
    gaps = rr > config.gap_ms
    if gaps.any():
        i = int(np.argmax(rr))
        raise InvalidHRV(
            f"{int(gaps.sum())} RR intervals are longer than {config.gap_ms:g} ms (the longest, "
            f"{rr[i]:g} ms, at position {i}): the recording has gaps; split it at the gaps"
        )
    duration = float(rr.sum()) / 1000.0
    if duration < config.min_seconds or rr.size < config.min_intervals:
        raise InvalidHRV(
            f"the recording is too short: {duration:.1f} s in {rr.size} intervals; need {need} "
            f"and at least {config.min_intervals} intervals"
        )


def correct_artifacts(rr: np.ndarray, config: MetricsSettings) -> tuple[np.ndarray, dict[str, int]]:
    """Kubios artefact correction; returns (corrected series, beats per artefact type), or
    :class:`InvalidHRV` when more than ``max_artifact_fraction`` of the beats are artefacts."""
    fixed = correct(
        rr, config.kubios, max_passes=config.kubios.max_passes, iterate_above=config.kubios.iterate_above
    )
    n = fixed.total
    if n > config.max_artifact_fraction * rr.size:
        kinds = ", ".join(f"{fixed.counts[k]} {k}" for k in ARTEFACT_TYPES if fixed.counts[k])
        raise InvalidHRV(
            f"too many implausible RR intervals: {n} of {rr.size} beats ({n / rr.size:.0%}) are artefacts "
            f"({kinds}); at most {config.max_artifact_fraction:.0%} can be corrected — check the sensor "
            "or the beat detection"
        )
    irregularity = float(np.mean(np.abs(np.diff(fixed.rr))) / np.mean(fixed.rr))
    if irregularity > config.max_irregularity:
        raise InvalidHRV(
            f"too many implausible RR intervals: even after artefact correction successive intervals differ by "
            f"{irregularity:.0%} of the mean interval on average (a heart in sinus rhythm: under "
            f"{config.max_irregularity:.0%}); the beats look like noise — check the sensor or the beat detection"
        )
    return fixed.rr, fixed.counts


def _time_domain(rr: np.ndarray) -> dict[str, float]:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        td = nk.hrv_time({"RRI": rr, "RRI_Time": np.cumsum(rr) / 1000.0})
    return {
        "MEAN_RR": float(td["HRV_MeanNN"].iloc[0]),
        "SDRR": float(td["HRV_SDNN"].iloc[0]),
        "HR": float(np.mean(60000.0 / rr)),
        "RMSSD": float(td["HRV_RMSSD"].iloc[0]),
        "pNN50": float(td["HRV_pNN50"].iloc[0]),
    }


def _frequency_domain(rr: np.ndarray, config: MetricsSettings) -> dict[str, float]:
    import neurokit2 as nk

    bands = [BANDS[b] for b in ("VLF", "LF", "HF")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal, _, rate = nk.intervals_process(
            rr,
            intervals_time=np.cumsum(rr) / 1000.0,
            interpolate=True,
            interpolation_rate=config.interpolation_hz,
            method="cubic",
        )
        power = nk.signal_power(
            signal,
            bands,
            sampling_rate=rate,
            method="welch",
            normalize=False,
            min_frequency=bands[0][0],
            max_frequency=bands[-1][1],
            window=config.welch_window_s,
        )
    values = power.iloc[0].to_numpy(dtype=float)
    # neurokit2 reports a band with no spectral bins (recording too short for it) as NaN:
    # there is no measurable power there, which the model reads as 0 ms².
    values = np.where(np.isfinite(values), values, 0.0)
    return dict(zip(("VLF", "LF", "HF"), (float(v) for v in values), strict=True))


def analyze(rr_ms: Any, config: MetricsSettings) -> HrvResult:
    """Validate, correct artefacts (Kubios) and compute the eight metrics of one RR recording (ms),
    with ``config`` the ``hrv.metrics`` settings."""
    rr = as_intervals(rr_ms)
    _validate(rr, config)
    clean, counts = correct_artifacts(rr, config)
    values = {**_time_domain(clean), **_frequency_domain(clean, config)}
    values = {k: values[k] for k in METRIC_COLUMNS}
    return HrvResult(
        values=values,
        n_intervals=int(rr.size),
        artifacts=counts,
        duration_s=float(rr.sum()) / 1000.0,
        rr_clean=clean,
    )


def metrics(rr_ms: Any, config: MetricsSettings) -> dict[str, float]:
    """RR intervals (ms) -> ``{MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF}`` (ms, bpm, %, ms²).

    The plain dict of eight; :func:`analyze` also reports the artefacts it corrected.
    """
    return analyze(rr_ms, config).values
