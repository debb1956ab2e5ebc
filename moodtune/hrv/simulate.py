"""Simulated RR-interval series: the embedded demo data and the listener simulator's heart.

The model is integral pulse frequency modulation (IPFM): a continuous "RR tachogram" is built
on a fine time grid and a beat fires each time the integral of the instantaneous heart rate
crosses an integer, so the spectrum of the resulting RR series is that of the modulations.
What the modulations are, and how stress moves them, follows textbook autonomic physiology:

* **mean heart rate** rises with stress (sympathetic drive, vagal withdrawal): a subject's
  resting rate plus a subject-specific reactivity times the stress;
* **respiratory sinus arrhythmia (HF, 0.15–0.4 Hz)**: a sinusoid at the breathing rate whose
  amplitude falls with stress (vagal withdrawal) while breathing gets faster and less regular;
* **Mayer waves (LF, ~0.1 Hz)**: band-limited baroreflex oscillations, which keep or slightly
  gain power under stress, so the LF share of power grows;
* **VLF (< 0.04 Hz)** slow fluctuations (thermoregulation, hormones) and a slow linear drift;
* **noise**: beat-detection jitter of a few ms, and the four artefact types of the Kubios
  correction (:mod:`moodtune.hrv.artefacts`): **ectopic beats** (a premature beat followed by a
  compensatory pause), **missed beats** (two intervals merged), **extra detections** (one interval
  split in two) and **long/short** intervals (one beat detected late or early), so the model
  trains on series corrected the way real ones are.

:func:`simulate_dataset` also records each subject's resting **baseline** (stress 0), for the
baseline-relative model.

Every subject has its own baseline (:func:`simulate_subject`), so a classifier cannot read
stress from the heart rate alone. Stress is continuous in ``[0, 1]`` (0 relaxed, 0.5 medium,
1 high) and may be a trajectory over the recording, so a listener's stress can evolve.
All draws come from the ``numpy.random.Generator`` passed in: the same seed, the same series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from moodtune.hrv.constants import LEVELS

# The stress value around which each level's recordings are drawn (plus a little jitter).
LEVEL_STRESS: dict[str, float] = {"low": 0.1, "medium": 0.5, "high": 0.9}
LEVEL_JITTER = 0.07

_GRID_HZ = 20.0  # time grid of the continuous tachogram
_LF_COMPONENTS = 6
_VLF_COMPONENTS = 5


@dataclass(frozen=True)
class SubjectProfile:
    """One simulated person's autonomic baseline and reactivity."""

    hr_rest: float  # bpm when relaxed
    hr_reactivity: float  # bpm added at stress 1
    hf_amp: float  # RSA amplitude (ms) when relaxed
    hf_suppression: float  # share of the RSA amplitude lost at stress 1
    lf_amp: float  # Mayer-wave RMS (ms) when relaxed
    lf_gain: float  # relative LF amplitude gain at stress 1
    vlf_amp: float  # VLF RMS (ms)
    resp_hz: float  # breathing rate when relaxed
    resp_stress_hz: float  # breathing rate added at stress 1
    drift_ms: float  # scale of the linear drift over a recording
    noise_ms: float  # beat-detection jitter of each beat's time stamp (SD, ms)
    ectopic_rate: float  # ectopic beats per beat
    missed_rate: float  # missed beats per beat
    extra_rate: float  # spurious extra detections per beat
    longshort_rate: float  # single long or short intervals per beat

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def simulate_subject(rng: np.random.Generator) -> SubjectProfile:
    """Draw one subject's baseline (resting HR ~ N(68, 7) bpm, RSA ~ 38 ms, ...)."""
    return SubjectProfile(
        hr_rest=float(np.clip(rng.normal(68.0, 7.0), 50.0, 92.0)),
        hr_reactivity=float(np.clip(rng.normal(14.0, 4.0), 4.0, 28.0)),
        hf_amp=float(np.clip(rng.lognormal(np.log(38.0), 0.35), 12.0, 90.0)),
        hf_suppression=float(rng.uniform(0.45, 0.75)),
        lf_amp=float(np.clip(rng.lognormal(np.log(28.0), 0.3), 10.0, 70.0)),
        lf_gain=float(rng.uniform(0.0, 0.4)),
        vlf_amp=float(np.clip(rng.lognormal(np.log(28.0), 0.35), 8.0, 80.0)),
        resp_hz=float(rng.uniform(0.2, 0.3)),
        resp_stress_hz=float(rng.uniform(0.03, 0.08)),
        drift_ms=float(rng.uniform(5.0, 30.0)),
        noise_ms=float(rng.uniform(1.5, 3.5)),
        ectopic_rate=float(rng.uniform(0.0005, 0.004)),
        missed_rate=float(rng.uniform(0.0, 0.0015)),
        extra_rate=float(rng.uniform(0.0, 0.0015)),
        longshort_rate=float(rng.uniform(0.0, 0.002)),
    )


def _stress_curve(stress: float | Sequence[float] | np.ndarray, t: np.ndarray) -> np.ndarray:
    values = np.atleast_1d(np.asarray(stress, dtype=float))
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ValueError(f"stress must be in [0, 1] (0 relaxed, 1 high); got {stress!r}")
    if values.size == 1:
        return np.full_like(t, values[0])
    # a trajectory: evenly spread over the recording, linearly interpolated
    return np.interp(t, np.linspace(t[0], t[-1], values.size), values)


def _band_noise(
    rng: np.random.Generator, t: np.ndarray, lo: float, hi: float, k: int, rms: float
) -> np.ndarray:
    """A sum of ``k`` sinusoids with random frequencies in ``[lo, hi]`` and phases, scaled to RMS ``rms``."""
    freqs = rng.uniform(lo, hi, size=(k, 1))
    phases = rng.uniform(0.0, 2 * np.pi, size=(k, 1))
    weights = rng.uniform(0.5, 1.0, size=(k, 1))
    weights *= np.sqrt(2.0 / np.sum(weights**2))  # total RMS 1 (each sinusoid has RMS w/sqrt(2))
    return rms * np.sum(weights * np.sin(2 * np.pi * freqs * t + phases), axis=0)


def simulate_rr(
    stress: float | Sequence[float] | np.ndarray,
    seconds: float,
    rng: np.random.Generator,
    subject: SubjectProfile | None = None,
) -> np.ndarray:
    """RR intervals (ms) covering ``seconds`` of recording (at most one beat more) at ``stress``
    in ``[0, 1]``.

    ``stress`` is a number, or a sequence read as a trajectory spread evenly over the
    recording. ``subject`` is a :class:`SubjectProfile` (a fresh one is drawn from ``rng`` when
    omitted). The series includes jitter, ectopic and missed beats; fully vectorised.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive; got {seconds!r}")
    subject = subject or simulate_subject(rng)
    span = float(seconds) + 10.0  # a little extra so the last beats exist
    t = np.arange(0.0, span, 1.0 / _GRID_HZ)
    s = _stress_curve(stress, t)

    # recording-level state: today's heart rate and breathing differ a little from the baseline
    hr = subject.hr_rest + rng.normal(0.0, 2.5) + subject.hr_reactivity * s
    mean_rr = 60000.0 / hr
    rest_rr = 60000.0 / subject.hr_rest
    # RSA: amplitude shrinks with stress (vagal withdrawal) and scales with the RR length;
    # breathing speeds up and wanders (a random walk on its rate), amplitude fluctuates slowly
    resp_hz = subject.resp_hz + subject.resp_stress_hz * s
    resp_hz = resp_hz + np.cumsum(rng.normal(0.0, 0.004, t.size)) / np.sqrt(_GRID_HZ) * (1 + s)
    resp_hz = np.clip(resp_hz, 0.16, 0.45)
    resp_phase = 2 * np.pi * np.cumsum(resp_hz) / _GRID_HZ + rng.uniform(0, 2 * np.pi)
    hf_amp = subject.hf_amp * (1.0 - subject.hf_suppression * s) * (mean_rr / rest_rr)
    hf_amp = hf_amp * rng.lognormal(0.0, 0.12) * (1.0 + 0.15 * np.sin(2 * np.pi * t / rng.uniform(40, 90)))
    rsa = hf_amp * np.sin(resp_phase)
    # Mayer waves (LF) keep or gain power under stress; VLF and drift are stress-neutral
    lf = _band_noise(rng, t, 0.06, 0.13, _LF_COMPONENTS, subject.lf_amp * rng.lognormal(0.0, 0.12))
    lf = lf * (1.0 + subject.lf_gain * s)
    vlf = _band_noise(rng, t, 0.006, 0.035, _VLF_COMPONENTS, subject.vlf_amp)
    drift = rng.normal(0.0, subject.drift_ms) * (t / span - 0.5)
    tachogram = np.maximum(mean_rr + rsa + lf + vlf + drift, 250.0)

    # IPFM: a beat each time the integrated instantaneous rate crosses an integer
    phase = np.concatenate([[0.0], np.cumsum(1000.0 / tachogram) / _GRID_HZ]) + rng.uniform(0, 1)
    grid = np.concatenate([[0.0], t + 1.0 / _GRID_HZ])
    crossings = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    beats = np.interp(crossings, phase, grid)
    # the intervals cover at least ``seconds`` (up to one beat more); the detector's jitter
    # is on each beat's time stamp, so it never accumulates over the recording
    beats = beats[: int(np.searchsorted(beats, beats[0] + seconds + 0.05)) + 1]
    beats = beats + rng.normal(0.0, subject.noise_ms / 1000.0, beats.size)
    rr = np.diff(beats) * 1000.0

    # ectopic beats: a premature beat (interval 55-78 % of normal) and its compensatory pause
    n = rr.size
    if n > 3:
        ectopic = np.flatnonzero(rng.random(n - 1) < subject.ectopic_rate * (1.0 + s[0]))
        ectopic = ectopic[np.diff(np.concatenate([[-3], ectopic])) > 2]  # keep them apart
        if ectopic.size:
            short = rr[ectopic] * rng.uniform(0.55, 0.78, ectopic.size)
            rr[ectopic + 1] += (rr[ectopic] - short) * rng.uniform(0.95, 1.1, ectopic.size)
            rr[ectopic] = short
        # missed beats (the detector skipped one): two intervals merge into one
        missed = np.flatnonzero(rng.random(n - 1) < subject.missed_rate)
        missed = missed[np.diff(np.concatenate([[-3], missed])) > 2]
        if missed.size:
            rr[missed] += rr[missed + 1]
            rr = np.delete(rr, missed + 1)
        # long/short: one interval stretched or shortened (a beat detected late or early)
        odd = np.flatnonzero(rng.random(rr.size) < subject.longshort_rate)
        if odd.size:
            rr[odd] *= np.where(
                rng.random(odd.size) < 0.5, rng.uniform(1.3, 1.5, odd.size), rng.uniform(0.65, 0.75, odd.size)
            )
        # extra detections (a T wave or motion read as a beat): one interval split in two
        extra = np.flatnonzero(rng.random(rr.size) < subject.extra_rate)
        if extra.size:
            share = rng.uniform(0.3, 0.6, extra.size)
            rr = np.insert(rr, extra + 1, rr[extra] * (1 - share))
            rr[extra + np.arange(extra.size)] *= share
    return rr


def simulate_dataset(
    subjects: int,
    recordings_per_level: int,
    seconds: float,
    seed: int,
    progress: bool = False,
    baseline_seconds: float | None = None,
) -> pd.DataFrame:
    """The embedded demo: ``subjects`` × 3 levels × ``recordings_per_level`` RR recordings.

    Columns: ``recording_id, subject, level, condition, stress, source, rr_ms`` (an array per
    row) and, with ``baseline_seconds``, ``baseline_rr_ms``: the subject's resting recording
    (stress 0, drawn from its own generator, so the recordings do not change with it).
    Deterministic for a given argument tuple.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    rows = []
    for i in tqdm(range(subjects), desc="simulating subjects", disable=not progress):
        subject = simulate_subject(rng)
        sid = f"sim-{i:03d}"
        rest = (
            simulate_rr(0.0, baseline_seconds, np.random.default_rng([seed, i]), subject)
            if baseline_seconds
            else None
        )
        for level in LEVELS:
            for j in range(recordings_per_level):
                stress = float(np.clip(LEVEL_STRESS[level] + rng.normal(0.0, LEVEL_JITTER), 0.0, 1.0))
                rows.append(
                    {
                        "recording_id": f"{sid}-{level}-{j}",
                        "subject": sid,
                        "level": level,
                        "condition": level,
                        "stress": stress,
                        "source": "simulated",
                        "rr_ms": simulate_rr(stress, seconds, rng, subject),
                        **({"baseline_rr_ms": rest} if rest is not None else {}),
                    }
                )
    return pd.DataFrame(rows)
