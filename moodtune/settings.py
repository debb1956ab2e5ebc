"""Typed settings read from ``params.yaml``, with environment overrides.

``params.yaml`` is the single source of truth for numbers (it is also DVC's params file).
Overrides, strongest first:

* ``MOODTUNE_<SECTION>__<KEY>=value`` (e.g. ``MOODTUNE_AUDIO__EMOTIFY_DIR=/data/emotify``);
  values are parsed as YAML scalars, so ``3``, ``0.5``, ``true`` and ``null`` work;
* ``MOODTUNE_DATA_DIR`` for ``project.data_dir``;
* ``MLFLOW_TRACKING_URI`` for ``mlflow.tracking_uri``;
* ``MOODTUNE_PARAMS`` names another params file, ``MOODTUNE_ROOT`` another project root.

Relative paths are resolved against the project root, so Dagster, the service and the CLI
all see the same absolute locations whatever their working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from moodtune.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "MOODTUNE_"


class Section(BaseModel):
    """Base of every settings section: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSettings(Section):
    seed: int = 42
    data_dir: Path = Path("data")


class MlflowSettings(Section):
    tracking_uri: str | None = None
    artifact_root: Path = Path("mlflow/artifacts")
    experiment: str = "moodtune"


class RegistrySettings(Section):
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"


class TaxonomySettings(Section):
    pass


class AudioFeatureSettings(Section):
    """How a clip becomes features (one STFT per clip; see moodtune.audio.features)."""

    preemphasis: float = 0.97
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    logmel_bands: int = 32
    silence_top_db: float = 30.0
    n_jobs: int = 2


class AudioModelSettings(Section):
    """The multi-label network (6 GEMS emotions + 4 genres) and its training."""

    hidden: list[int] = Field(default_factory=lambda: [128, 64])
    dropout: float = 0.2
    epochs: int = 300
    batch_size: int = 32
    learning_rate: float = 0.003
    weight_decay: float = 0.0001
    test_size: float = 0.25
    decision_threshold: float = 0.5


class AudioGateSettings(Section):
    floors: dict[str, float] = Field(default_factory=lambda: {"macro_auc": 0.75, "genre_accuracy": 0.7})
    margin: float = 0.01


class AudioSettings(Section):
    emotify_dir: Path | None = None
    music_dir: Path | None = None
    label_threshold: float = 0.3
    clips_per_cell: int = 10
    clip_seconds: float = 10.0
    sample_rate: int = 22050
    min_seconds: float = 1.0
    max_seconds: float = 30.0
    silence_peak: float = 1e-4
    features: AudioFeatureSettings = Field(default_factory=AudioFeatureSettings)
    model: AudioModelSettings = Field(default_factory=AudioModelSettings)
    gate: AudioGateSettings = Field(default_factory=AudioGateSettings)


class HrvSettings(Section):
    """HRV -> stress level (see moodtune.hrv and README "HRV")."""

    # real data: a SWELL/WESAD-derived metrics table, or a folder of RR files + labels.csv
    dataset_csv: Path | None = None
    rr_dir: Path | None = None
    condition_column: str = "condition"
    subject_column: str = "subject"
    # dataset condition (case-insensitive) -> stress level; the levels themselves always map
    condition_levels: dict[str, Literal["low", "medium", "high"]] = Field(default_factory=lambda: {
        "no stress": "low", "interruption": "medium", "time pressure": "high",
        "baseline": "low", "meditation": "low", "amusement": "medium", "stress": "high",
    })
    window_seconds: float | None = Field(300.0, gt=0)  # RR files are cut into windows this long
    # embedded demo: simulated RR series
    subjects: int = Field(24, ge=2)
    recordings_per_level: int = Field(3, ge=1)
    recording_seconds: float = Field(300.0, gt=0)
    # RR -> metrics: validity and artefact handling
    min_seconds: float = Field(60.0, gt=0)
    min_intervals: int = Field(50, ge=3)
    rr_min_ms: float = Field(300.0, gt=0)  # 200 bpm
    rr_max_ms: float = Field(2000.0, gt=0)  # 30 bpm
    gap_ms: float = Field(5000.0, gt=0)  # a longer interval is a gap in the recording, not a beat
    max_deviation: float = Field(0.2, gt=0)  # relative jump from the local median that marks an artefact
    max_artifact_fraction: float = Field(0.2, ge=0, le=1)
    interpolation_hz: float = Field(4.0, gt=0)
    # stress model (CatBoost) and its leave-subjects-out evaluation
    cv_folds: int = Field(4, ge=2)
    iterations: int = Field(300, ge=1)
    depth: int = Field(4, ge=1)
    learning_rate: float = Field(0.08, gt=0)
    thread_count: int = Field(2, ge=1)
    gate_floors: dict[str, float] = Field(default_factory=lambda: {"macro_f1": 0.5})
    gate_margin: float = 0.01


class TextSettings(Section):
    model_config = ConfigDict(extra="allow", frozen=True)


class PolicySettings(Section):
    model_config = ConfigDict(extra="allow", frozen=True)


class ServiceSettings(Section):
    model_config = ConfigDict(extra="allow", frozen=True)


class StressRewards(Section):
    """The reward for each HRV stress level of a listener's response (see moodtune.feedback.reward)."""

    low: float = 1.0
    medium: float = 0.5
    high: float = 0.0


class FeedbackSettings(Section):
    """The feedback store: ``url`` null -> a SQLite file (WAL) at ``<data_dir>/feedback/feedback.db``."""

    url: str | None = None
    reward: StressRewards = Field(default_factory=StressRewards)
    busy_timeout_ms: int = Field(30_000, ge=0)  # how long a SQLite writer waits for the write lock


class RetrainSettings(Section):
    """The feedback retraining sensor: how many new rows trigger a run, how often it looks."""

    min_new_feedback: int = Field(20, ge=1)
    sensor_interval_seconds: int = Field(30, ge=1)


class ImageSettings(Section):
    model_config = ConfigDict(extra="allow", frozen=True)


class Settings(Section):
    """All of moodtune's settings; paths are absolute once loaded through :func:`load_settings`."""

    root: Path = PROJECT_ROOT
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    taxonomy: TaxonomySettings = Field(default_factory=TaxonomySettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    hrv: HrvSettings = Field(default_factory=HrvSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    image: ImageSettings = Field(default_factory=ImageSettings)

    @property
    def data_dir(self) -> Path:
        return self.project.data_dir

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI; a relative ``sqlite:///`` path is pinned to the root."""
        uri = self.mlflow.tracking_uri or f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = f"sqlite:///{self.root / uri[len('sqlite:///'):]}"
        return uri

    @property
    def artifact_root(self) -> Path:
        return self.mlflow.artifact_root

    def path(self, value: str | Path | None) -> Path | None:
        """Resolve a configured path against the project root (``None`` stays ``None``)."""
        if value is None or value == "":
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.root / p).resolve()

    def data_path(self, *parts: str) -> Path:
        """A path under the data root, e.g. ``settings.data_path("audio", "clips")``."""
        return self.data_dir.joinpath(*parts)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX):].partition("__")
        out.setdefault(section.lower(), {})[name.lower()] = yaml.safe_load(raw) if raw else None
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    params_path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read ``params.yaml`` (or ``params_path``), apply environment and explicit overrides.

    ``overrides`` is a nested mapping such as ``{"audio": {"clips_per_cell": 2}}`` and wins
    over the environment. Raises :class:`ConfigError` naming the file or key to fix.
    """
    environ = os.environ if environ is None else environ
    root = Path(environ.get("MOODTUNE_ROOT", PROJECT_ROOT)).resolve()
    params_path = Path(params_path or environ.get("MOODTUNE_PARAMS") or root / "params.yaml")
    try:
        raw = yaml.safe_load(params_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"params file {params_path} not found; create it or set MOODTUNE_PARAMS") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {params_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"params file {params_path} must hold a mapping of sections")

    raw = _merge(raw, _env_overrides(environ))
    if environ.get("MOODTUNE_DATA_DIR"):
        raw = _merge(raw, {"project": {"data_dir": environ["MOODTUNE_DATA_DIR"]}})
    if environ.get("MLFLOW_TRACKING_URI"):
        raw = _merge(raw, {"mlflow": {"tracking_uri": environ["MLFLOW_TRACKING_URI"]}})
    raw = _merge(raw, overrides or {})
    raw["root"] = root

    try:
        settings = Settings.model_validate(raw)
    except Exception as exc:  # pydantic's ValidationError names the failing key
        raise ConfigError(f"invalid settings in {params_path}: {exc}") from exc

    return settings.model_copy(
        update={
            "project": settings.project.model_copy(
                update={"data_dir": settings.path(settings.project.data_dir)}
            ),
            "mlflow": settings.mlflow.model_copy(
                update={"artifact_root": settings.path(settings.mlflow.artifact_root)}
            ),
        }
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call :func:`load_settings` directly)."""
    return load_settings()
