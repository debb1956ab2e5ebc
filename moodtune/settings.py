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

Each domain owns its section: ``moodtune/<domain>/config.py`` defines it as pydantic models
(e.g. :class:`moodtune.hrv.config.HrvSettings`), :class:`Settings` composes them, and library
code receives its section as an argument (only the adapters, Dagster's ``SettingsResource``, the
CLI and the service, load settings). The sections still defined here move out the same way.
A model family's section is named by its spec (``ModelSpec.settings``,
``"moodtune.<domain>.config:<Class>"``, params.yaml's ``<domain>:``) and composed from there, so
a new family edits nothing here and reads its section typed with :meth:`DeclaredSettings.section`
(``settings.section(ToySettings)``). The first five families keep a typed attribute each
(``settings.audio``), checked against their spec.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import yaml
from pydantic import Field, create_model

from moodtune.audio.config import AudioSettings
from moodtune.errors import ConfigError
from moodtune.families import MODELS, ModelSpec, resolve
from moodtune.feedback.config import FeedbackSettings
from moodtune.hrv.config import HrvSettings
from moodtune.image.config import ImageSettings
from moodtune.policy.config import DrillSettings, PolicySettings, RetrainSettings
from moodtune.section import Section
from moodtune.serving.config import ServiceSettings
from moodtune.text.config import TextSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "MOODTUNE_"
S = TypeVar("S", bound=Section)


class ProjectSettings(Section):
    seed: int
    data_dir: Path


class MlflowSettings(Section):
    tracking_uri: str | None
    artifact_root: Path
    experiment: str
    ui_url: str  # where links to MLflow runs point (Dagster metadata)


class RegistrySettings(Section):
    champion_alias: str
    challenger_alias: str
    bootstrap_samples: int = Field(ge=100)  # paired bootstrap of the gate's score difference
    confidence: float = Field(gt=0, lt=1)  # ... its confidence level


class DagsterSettings(Section):
    """How Dagster runs steps: the profile's executor (configuration, not code paths)."""

    executor: Literal["in_process", "multiprocess", "celery"]
    max_concurrent: int = Field(ge=1)  # multiprocess: steps at once
    start_method: Literal[
        "spawn", "forkserver"
    ]  # multiprocess: forkserver forks steps from a preloaded code location
    celery_broker: str
    celery_backend: str
    webserver_url: str  # where links to Dagster runs point (MLflow tags)
    gate_check_severity: Literal["WARN", "ERROR"]  # assets/gating.py: a refused challenger's check
    plot_max_kb: int = Field(ge=8)  # assets/plots.py: a run's PNG embedded in Dagster metadata


class TaxonomySettings(Section):
    pass


class StatePriorSettings(Section):
    valence: float = Field(ge=-1.0, le=1.0)
    arousal: float = Field(ge=-1.0, le=1.0)
    sd: float = Field(gt=0.0)


class ValenceSpread(Section):
    valence_sd: float = Field(gt=0.0)


class ArousalSpread(Section):
    arousal_sd: float = Field(gt=0.0)


class PointSpread(Section):
    valence_sd: float = Field(gt=0.0)
    arousal_sd: float = Field(gt=0.0)


class StateSourceSettings(Section):
    form: ValenceSpread
    text: PointSpread
    photo: PointSpread
    hrv: ArousalSpread


class LevelStressSettings(Section):
    low: float = Field(ge=0.0, le=1.0)
    medium: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)


class StateStudySettings(Section):
    seeds: tuple[int, ...]
    sessions: int = Field(ge=1)


class StateSettings(Section):
    """One listener state from every input (moodtune/state.py, docs/state.md)."""

    prior: StatePriorSettings
    sources: StateSourceSettings
    level_stress: LevelStressSettings
    stress_thresholds: tuple[float, float]
    unknown_age: int = Field(ge=5, le=120)
    study: StateStudySettings


class DeclaredSettings(Section):
    """The sections declared here: :data:`Settings` adds every model family's section named by
    its spec. Paths are absolute once loaded through :func:`load_settings`."""

    root: Path
    project: ProjectSettings
    mlflow: MlflowSettings
    registry: RegistrySettings
    dagster: DagsterSettings
    taxonomy: TaxonomySettings
    audio: AudioSettings
    hrv: HrvSettings
    text: TextSettings
    policy: PolicySettings
    service: ServiceSettings
    feedback: FeedbackSettings
    retrain: RetrainSettings
    drill: DrillSettings
    image: ImageSettings
    state: StateSettings

    @property
    def data_dir(self) -> Path:
        return self.project.data_dir

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI; a relative ``sqlite:///`` path is pinned to the root."""
        uri = self.mlflow.tracking_uri or f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = f"sqlite:///{self.root / uri[len('sqlite:///') :]}"
        return uri

    @property
    def artifact_root(self) -> Path:
        return self.mlflow.artifact_root

    @overload
    def path(self, value: Path) -> Path: ...
    @overload
    def path(self, value: str | Path | None) -> Path | None: ...
    def path(self, value: str | Path | None) -> Path | None:
        """Resolve a configured path against the project root (``None`` stays ``None``)."""
        if value is None or value == "":
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.root / p).resolve()

    def data_path(self, *parts: str) -> Path:
        """A path under the data root, e.g. ``settings.data_path("audio", "clips")``."""
        return self.data_dir.joinpath(*parts)

    def section(self, cls: type[S]) -> S:
        """The top-level section of class ``cls``, typed: ``settings.section(ToySettings)``."""
        for key, field in type(self).model_fields.items():
            if field.annotation is cls:
                return getattr(self, key)
        raise ConfigError(f"no settings section is a {cls.__qualname__}: name it in its ModelSpec's settings")


def family_sections(specs: Iterable[ModelSpec]) -> dict[str, type[Section]]:
    """params.yaml key -> section class of each model family whose spec names one."""
    sections: dict[str, type[Section]] = {}
    for spec in specs:
        if not spec.settings:
            continue
        module, _, name = spec.settings.partition(":")
        parts = module.split(".")
        if len(parts) != 3 or parts[0] != "moodtune" or parts[2] != "config" or not name:
            raise ConfigError(
                f"{spec.name}: settings={spec.settings!r} is not 'moodtune.<domain>.config:<Class>'"
            )
        domain, cls = parts[1], resolve(spec.settings)
        if sections.setdefault(domain, cls) is not cls:
            raise ConfigError(f"{spec.name}: section {domain!r} is already {sections[domain].__qualname__}")
    return sections


def compose(base: type[DeclaredSettings], sections: Mapping[str, type[Section]]) -> type[DeclaredSettings]:
    """``base`` with a field for each family section it does not declare (a declared one must be
    the family's class)."""
    for key, cls in sections.items():
        field = base.model_fields.get(key)
        if field is not None and field.annotation is not cls:
            raise ConfigError(
                f"settings section {key!r} is declared {field.annotation} but its spec names {cls}"
            )
    fields: dict[str, Any] = {k: (cls, ...) for k, cls in sections.items() if k not in base.model_fields}
    return create_model(
        "Settings", __base__=base, __module__=__name__, __doc__="All of moodtune's settings.", **fields
    )


# the type checker sees the declared sections; a new family's is read through section()
if TYPE_CHECKING:
    Settings = DeclaredSettings
else:
    Settings = compose(DeclaredSettings, family_sections(MODELS.values()))


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].partition("__")
        *inner, last = name.lower().split("__")  # MOODTUNE_AUDIO__CATALOG__SOURCE: a nested key
        node = out.setdefault(section.lower(), {})
        for part in inner:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(raw) if raw else None
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
