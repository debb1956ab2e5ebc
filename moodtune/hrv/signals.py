"""Raw ECG or PPG -> beats -> RR intervals (ms), with neurokit2 (``ecg_peaks`` / ``ppg_peaks``).

What a wearable exports: a CSV with an ``ecg`` (chest strap) or ``ppg`` column (a watch's pulse,
also ``pleth``, ``bvp``) and its sampling rate, given as an argument, as a header comment
(``# sampling_rate: 250``) or by a time column in seconds (``time``, ``time_s``, ``timestamp``).
A signal that is flat, clipped, too long, sampled too slowly or with too few beats is refused
with :class:`InvalidHRV` saying what to fix; the intervals then go through the same artefact
correction and metrics as RR files (:func:`moodtune.hrv.metrics.analyze`).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from moodtune.errors import InvalidHRV
from moodtune.hrv.config import SignalSettings

SIGNAL_COLUMNS: dict[str, str] = {"ecg": "ecg", "ppg": "ppg", "pleth": "ppg", "bvp": "ppg", "pulse": "ppg"}
TIME_COLUMNS = ("time", "time_s", "timestamp", "seconds", "t")
_RATE_COMMENT = re.compile(
    r"#\s*(?:sampling[_ ]?rate|fs|sample[_ ]?rate)\s*[:=][ \t]*([^\s,;]*)", re.IGNORECASE
)


def rate_from_comments(text: str, where: str = "the signal") -> float | None:
    """A sampling rate named in a header comment (``# sampling_rate: 250``), if any; a comment
    whose rate is not a positive number of Hz is refused, saying what it holds."""
    match = _RATE_COMMENT.search(text[:4096])  # a header comment: at the top
    if not match:
        return None
    return check_rate(match.group(1), where, "the '# sampling_rate:' line")


def check_rate(value: Any, where: str, what: str) -> float:
    """A sampling rate as a positive, finite number of Hz, or :class:`InvalidHRV` saying what is wrong."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = None
    if rate is None or not np.isfinite(rate) or rate <= 0:
        shown = str(value)[:40]
        raise InvalidHRV(
            f"{where}: {what} gives the sampling rate as {shown!r}; it must be a positive number "
            "of samples per second (Hz), e.g. 250"
        )
    return rate


def signal_column(frame: pd.DataFrame) -> tuple[str, str] | None:
    """``(column, kind)`` of the ECG or PPG column of a frame, by name, if any."""
    for col in frame.columns:
        kind = SIGNAL_COLUMNS.get(str(col).strip().lower())
        if kind:
            return col, kind
    return None


def _rate_from_time(frame: pd.DataFrame, where: str = "the signal") -> float | None:
    for col in frame.columns:
        if str(col).strip().lower() in TIME_COLUMNS:
            t = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            steps = np.diff(t[np.isfinite(t)])
            if not steps.size:
                raise InvalidHRV(
                    f"{where}: the time column {str(col)!r} holds fewer than two numbers, so it gives no "
                    "sampling rate; give times in seconds, or the sampling_rate (Hz)"
                )
            step = float(np.median(steps))
            if not step > 0:
                how = "does not advance (its steps are 0)" if step == 0 else "runs backwards"
                raise InvalidHRV(
                    f"{where}: the time column {str(col)!r} {how}, so it gives no sampling rate; "
                    "give increasing times in seconds, or the sampling_rate (Hz)"
                )
            return float(1.0 / step)
    return None


def rr_from_frame(
    frame: pd.DataFrame,
    limits: SignalSettings,
    *,
    min_intervals: int,
    sampling_rate: float | None = None,
    where: str = "the signal",
) -> np.ndarray:
    """The RR intervals (ms) of the ECG/PPG column of ``frame`` (see module doc)."""
    found = signal_column(frame)
    if found is None:
        raise InvalidHRV(f"{where} has no ecg or ppg column")
    col, kind = found
    rate = sampling_rate or _rate_from_time(frame, where)
    if rate is None:
        raise InvalidHRV(
            f"{where} holds a raw {kind.upper()} signal but no sampling rate; give it (sampling_rate, "
            "in Hz), a header line '# sampling_rate: 250' or a time column in seconds"
        )
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    return rr_from_signal(values, rate, kind, limits, min_intervals=min_intervals, where=where)


def rr_from_signal(
    signal: np.ndarray,
    sampling_rate: float,
    kind: str,
    limits: SignalSettings,
    *,
    min_intervals: int,
    where: str = "the signal",
) -> np.ndarray:
    """Detect the beats of an ECG (``ecg_peaks``) or PPG (``ppg_peaks``) signal; RR intervals in ms.
    ``limits``: the ``hrv.input.signal`` settings; at least ``min_intervals`` intervals
    (``hrv.metrics.min_intervals``, what :func:`moodtune.hrv.metrics.analyze` then needs)."""
    import neurokit2 as nk

    x = np.asarray(signal, dtype=float)
    name = kind.upper()
    if not limits.min_rate_hz <= sampling_rate <= limits.max_rate_hz:
        raise InvalidHRV(
            f"{where}: a sampling rate of {sampling_rate:g} Hz is outside "
            f"{limits.min_rate_hz:g}–{limits.max_rate_hz:g} Hz; check the rate (in Hz)"
        )
    if x.size == 0 or not np.isfinite(x).any():
        raise InvalidHRV(f"{where}: the {name} column holds no numbers")
    if not np.isfinite(x).all():
        raise InvalidHRV(
            f"{where}: {int((~np.isfinite(x)).sum())} samples of the {name} signal are missing or "
            "not numbers; cut the recording around the gap"
        )
    seconds = x.size / sampling_rate
    if seconds > limits.max_seconds:
        raise InvalidHRV(
            f"{where}: {seconds:.0f} s of {name} is longer than {limits.max_seconds:g} s; split the recording"
        )
    if np.ptp(x) == 0 or np.unique(x).size < 4:
        raise InvalidHRV(f"{where}: the {name} signal is flat (no heartbeat in it); check the sensor contact")
    at_rails = float(np.mean(x == x.max()) + np.mean(x == x.min()))
    if at_rails > limits.clip_fraction:
        raise InvalidHRV(
            f"{where}: the {name} signal is clipped ({at_rails:.0%} of the samples sit at its minimum "
            f"or maximum; at most {limits.clip_fraction:.0%}); lower the gain or re-record"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "ecg":
                _, info = nk.ecg_peaks(x, sampling_rate=sampling_rate)
                peaks = info["ECG_R_Peaks"]
            else:
                _, info = nk.ppg_peaks(x, sampling_rate=sampling_rate)
                peaks = info["PPG_Peaks"]
        except Exception as exc:  # neurokit2 raises several errors on signals it cannot read
            raise InvalidHRV(f"{where}: no heartbeat could be found in the {name} signal ({exc})") from None
    peaks = np.asarray(peaks, dtype=float)
    if peaks.size - 1 < min_intervals:
        raise InvalidHRV(
            f"{where}: only {max(peaks.size, 0)} beats found in {seconds:.0f} s of {name}; need at least "
            f"{min_intervals + 1} (a longer recording, or a cleaner signal)"
        )
    return np.diff(peaks) / sampling_rate * 1000.0
