"""One way to package every model family as an MLflow model, and to read it back.

A model family's *package module* (``ModelSpec.package``, e.g. ``moodtune.audio.package``)
exposes three functions:

* ``log_model(obj, ...) -> model URI``: calls :func:`log_model` here with a ``save(directory)``
  that writes the object's files;
* ``load_model_dir(directory, settings) -> domain object``: reads what ``save`` wrote;
* ``predict(obj, model_input, config, settings) -> DataFrame``: what the MLflow pyfunc answers
  (``config``: the model config given to :func:`log_model`).

Every logged model has the same layout: the files ``save`` wrote as the one artifact
:data:`ARTIFACT`, the package module's name (and the family's own settings, e.g. a default
``k``) in the model config, and :mod:`moodtune.registry.pyfunc_model` as its code ("models from
code": no Python object is pickled). ``mlflow.pyfunc.load_model`` runs :class:`PackagedModel`,
which loads the domain object through the package module's ``load_model_dir``; the registry's
one loader (:func:`load_model`) calls the same function on the artifact directory directly.
"""

from __future__ import annotations

import importlib
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow.pyfunc

from moodtune.errors import ModelNotFound
from moodtune.registry.requirements import pinned

ARTIFACT = "model"  # the artifact (a directory) holding what the domain's save function wrote
PACKAGE_KEY = "package"  # the model config entry naming the package module
CODE = Path(__file__).with_name("pyfunc_model.py")


def log_model(
    package: str,
    save: Callable[[Path], Any],
    *,
    requirements: Sequence[str],
    config: Mapping[str, Any] | None = None,
    input_example: Any = None,
    signature: Any = None,
    name: str = "model",
) -> str:
    """Log a model of ``package`` into the active MLflow run; returns its model URI.

    ``save(directory)`` writes the model's files into an empty directory; ``requirements``
    are distributions, pinned to their installed versions; ``config`` is handed to the
    package's ``predict`` (the pyfunc's model config)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / ARTIFACT
        directory.mkdir()
        save(directory)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example.*")
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(CODE),
                artifacts={ARTIFACT: str(directory)},
                model_config={**(config or {}), PACKAGE_KEY: package},
                input_example=input_example,
                signature=signature,
                pip_requirements=pinned(*requirements),
            )
    return info.model_uri


def _package(module: str):
    return importlib.import_module(module)


class PackagedModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]  # mlflow.pyfunc reads as a LazyLoader
    """The MLflow pyfunc of every moodtune model: the package module named in the model config
    loads the domain object (``load_model_dir``) and answers (``predict``)."""

    def load_context(self, context) -> None:
        from moodtune.settings import get_settings

        self.config = dict(context.model_config or {})
        self.settings = get_settings()  # this process's settings, read once
        self.package = _package(self.config[PACKAGE_KEY])
        self.obj = self.package.load_model_dir(Path(context.artifacts[ARTIFACT]), self.settings)

    def predict(self, context, model_input, params: dict[str, Any] | None = None):
        return self.package.predict(self.obj, model_input, self.config, self.settings)


def load_model(package: str, model_dir: str | Path, settings, rebuild: str, served: str = "") -> Any:
    """The domain object in the MLflow model directory ``model_dir`` (as downloaded from the
    registry), loaded by ``package``'s ``load_model_dir``. A directory of another layout (a
    model logged before this packaging, or by another family), or an object that is not what
    the service calls (``served``, the name of a runtime-checkable Protocol in ``package``), is
    :class:`ModelNotFound` ending with ``rebuild``, the sentence that says how to build it again."""
    model_dir = Path(model_dir)
    artifact = model_dir / "artifacts" / ARTIFACT
    logged_by = _logged_package(model_dir)
    if logged_by != package or not artifact.is_dir():
        found = f"packaged by {logged_by}" if logged_by else "not packaged by moodtune.registry.packaging"
        raise ModelNotFound(
            f"the model in {model_dir} cannot be loaded as {package}: it is {found} (a model "
            f"registered by an older version of moodtune); rebuild it: {rebuild}"
        )
    module = _package(package)
    obj = module.load_model_dir(artifact, settings)
    if served and not isinstance(obj, getattr(module, served)):
        raise ModelNotFound(
            f"the model in {model_dir} loads as a {type(obj).__name__}, which lacks what the service "
            f"calls ({package}.{served}); rebuild it: {rebuild}"
        )
    return obj


def _logged_package(model_dir: Path) -> str | None:
    """The package module a model directory was logged by (its MLmodel's model config)."""
    import yaml

    try:
        mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        return mlmodel["flavors"]["python_function"]["config"][PACKAGE_KEY]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
