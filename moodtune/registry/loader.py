"""The one way to load a registered model: :func:`load` (registry) and :func:`load_dir` (a
downloaded MLflow model directory, e.g. from the BentoML model store). Both go through the
package module named for the model in :data:`moodtune.registry.names.MODELS`
(:func:`moodtune.registry.packaging.load_model`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtune.registry.names import MODELS, how_to_build
from moodtune.registry.versions import resolve
from moodtune.settings import Settings


@dataclass(frozen=True)
class Loaded:
    """A loaded model with the registry version it came from."""

    name: str
    obj: Any
    version: str
    run_id: str | None
    source: str


def _stamp(obj: Any, version: str) -> None:
    if hasattr(obj, "version"):
        try:
            obj.version = version
        except AttributeError:
            pass


def load_dir(name: str, path: str | Path, version: str | int | None, settings: Settings) -> Any:
    """The domain object of ``name`` from an MLflow model directory; ``version`` is stamped on
    it (``obj.version``) when given. A directory of another layout (a model registered by an
    older moodtune) is :class:`~moodtune.errors.ModelNotFound` saying how to rebuild it."""
    from moodtune.registry.packaging import load_model

    if name not in MODELS:
        raise KeyError(f"no registered model {name!r}; known: {', '.join(MODELS)}")
    spec = MODELS[name]
    obj = load_model(spec.package, Path(path), settings, how_to_build(name), spec.served)
    if version is not None:
        _stamp(obj, str(version))
    return obj


def load_version(name: str, alias_or_version: str | int | None, settings: Settings) -> Loaded:
    """Resolve ``alias_or_version`` (default: the champion) to one version, download exactly
    that version's artifacts and load them. :class:`ModelNotFound` says how to build it."""
    import mlflow.artifacts

    from moodtune.registry.tracking import configure

    configure(settings)
    mv = resolve(name, alias_or_version, settings)
    uri = f"models:/{name}/{mv.version}"
    local = Path(mlflow.artifacts.download_artifacts(uri))
    obj = load_dir(name, local, mv.version, settings)
    return Loaded(name, obj, str(mv.version), mv.run_id, f"mlflow:{uri}")


def load(name: str, alias_or_version: str | int | None, settings: Settings) -> Any:
    """The domain object behind ``name@alias`` or ``name/version`` (default: the champion)."""
    return load_version(name, alias_or_version, settings).obj
