"""The MLflow "models from code" entry of every moodtune model (:mod:`moodtune.registry.packaging`).

MLflow copies this file into each logged model and runs it when the model is loaded, so no
Python object is pickled; the model config names the family's package module."""

import mlflow

from moodtune.registry.packaging import PackagedModel

mlflow.models.set_model(PackagedModel())
