"""The training assets, one per model family, each built from its ``ModelSpec`` (``MODELS``).

:func:`training_asset` makes the asset the spec names (``asset``, in its ``group``, reading its
``inputs``, with its ``kind``, ``doc`` and, on the critical path, the executor's priority) and
declares the gate's check on it. Its body opens the asset's MLflow run, calls the spec's
``trainer`` with the settings and the inputs in order, and emits the returned
:class:`~moodtune.registry.report.ModelReport` (:func:`assets.emit.emit`). A new model family
therefore needs no asset module and no edit of ``definitions.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from dagster import AssetIn, AssetsDefinition, Failure, asset

from assets import CRITICAL_PATH
from assets.emit import emit, gate_check_spec
from assets.resources import MlflowResource, SettingsResource
from moodtune.errors import ConfigError
from moodtune.families import resolve
from moodtune.registry.names import MODELS, ModelSpec
from moodtune.registry.report import ModelReport


def trainer_of(spec: ModelSpec) -> Callable[..., ModelReport]:
    """The spec's ``trainer`` ("module:function"), imported when the asset runs."""
    return resolve(spec.trainer)


def training_asset(spec: ModelSpec) -> AssetsDefinition:
    """The asset that trains, registers and gates ``spec``'s model, with its gate check."""

    @asset(
        name=spec.asset,
        group_name=spec.group,
        ins={name: AssetIn(name) for name in spec.inputs},
        compute_kind=spec.kind or None,
        op_tags=CRITICAL_PATH if spec.critical_path else None,
        description=inspect.cleandoc(spec.doc) if spec.doc else None,
        check_specs=[gate_check_spec(spec.asset)],
    )
    def _train(context, settings: SettingsResource, mlflow: MlflowResource, **inputs):
        s = settings.get()
        trainer = trainer_of(spec)
        with mlflow.run(context, link=False):
            try:
                report = trainer(s, *(inputs[name] for name in spec.inputs), log=context.log.info)
            except ConfigError as exc:
                raise Failure(description=str(exc)) from exc
        yield from emit(context, report, s)

    return _train


TRAINED: dict[str, AssetsDefinition] = {
    spec.asset: training_asset(spec) for spec in MODELS.values() if spec.trainer
}
training_assets: list[AssetsDefinition] = list(TRAINED.values())  # what load_assets_from_modules finds

__all__ = ["TRAINED", "trainer_of", "training_asset", "training_assets"]
