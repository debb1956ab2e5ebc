"""The ``hrv:`` section of params.yaml (:class:`HrvSettings`), composed by :mod:`moodtune.settings`.

The HRV code receives its part explicitly: :func:`moodtune.hrv.metrics.analyze` the
:class:`MetricsSettings`, the signal functions the :class:`SignalSettings`, the model the
:class:`ModelSettings`, :class:`moodtune.hrv.reader.StressReader` the whole section. No field has
a default: every value is in params.yaml (tests/test_params_settings.py). This module imports
pydantic and :mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from moodtune.section import Section


class DataSettings(Section):
    """Real data: a SWELL/WESAD-derived metrics table, or a folder of RR files + labels.csv."""

    dataset_csv: Path | None
    rr_dir: Path | None
    condition_column: str
    subject_column: str
    # dataset condition (case-insensitive) -> stress level; the levels themselves always map
    condition_levels: dict[str, Literal["low", "medium", "high"]]
    window_seconds: float | None = Field(gt=0)  # RR files are cut into windows this long
    baseline_condition: str | None  # the condition of each subject's baseline recordings


class DemoSettings(Section):
    """The embedded demo: simulated RR series (:func:`moodtune.hrv.simulate.simulate_dataset`)."""

    subjects: int = Field(ge=2)
    recordings_per_level: int = Field(ge=1)
    recording_seconds: float = Field(gt=0)
    baseline_seconds: float = Field(gt=0)  # each simulated subject's resting baseline


class KubiosSettings(Section):
    """Artefact correction: Lipponen & Tarvainen (2019), neurokit2's Kubios method
    (:func:`moodtune.hrv.artefacts.correct`)."""

    c1: float  # slope of the ectopic-beat decision boundary
    c2: float  # its intercept
    alpha: float = Field(gt=0)  # threshold = alpha x quartile deviation of the local dRR / mRR
    window: int = Field(ge=3)  # beats over which that quartile deviation is taken
    median_window: int = Field(ge=3)  # beats of the local median RR
    max_passes: int = Field(ge=1)
    iterate_above: float = Field(ge=0, le=1)


class MetricsSettings(Section):
    """RR -> metrics: validity limits, artefact correction and the spectrum
    (:func:`moodtune.hrv.metrics.analyze`)."""

    min_seconds: float = Field(gt=0)
    min_intervals: int = Field(ge=3)
    rr_min_ms: float = Field(gt=0)  # 200 bpm
    rr_max_ms: float = Field(gt=0)  # 30 bpm
    gap_ms: float = Field(gt=0)  # a longer interval is a gap in the recording, not a beat
    kubios: KubiosSettings
    max_artifact_fraction: float = Field(ge=0, le=1)
    max_irregularity: float = Field(gt=0)
    interpolation_hz: float = Field(gt=0)
    welch_window_s: float = Field(gt=0)


class SignalSettings(Section):
    """What a raw ECG/PPG signal must satisfy (:func:`moodtune.hrv.signals.rr_from_signal`)."""

    min_rate_hz: float = Field(gt=0)
    max_rate_hz: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    clip_fraction: float = Field(gt=0, lt=1)


class InputSettings(Section):
    """Input files (RR, metrics, ECG/PPG) and raw signals (:class:`moodtune.hrv.reader.StressReader`)."""

    max_file_bytes: int = Field(ge=1)
    signal: SignalSettings


class ModelSettings(Section):
    """The stress model (CatBoost) and its evaluation: leave-subjects-out CV, then held-out
    gate subjects (:mod:`moodtune.hrv.model`, :mod:`moodtune.hrv.train`)."""

    gate_subject_fraction: float = Field(gt=0, lt=1)
    cv_folds: int = Field(ge=2)
    iterations: int = Field(ge=1)
    depth: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    thread_count: int = Field(ge=1)


class HrvSettings(Section):
    """HRV -> stress level (see moodtune.hrv and docs/hrv.md)."""

    data: DataSettings
    demo: DemoSettings
    metrics: MetricsSettings
    input: InputSettings
    model: ModelSettings
    gate_floors: dict[str, float]  # the gate, as every model section has it
    gate_margin: float
