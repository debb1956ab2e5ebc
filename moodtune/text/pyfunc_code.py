"""MLflow "models from code" entry point of ``moodtune-text-index`` (no pickled Python object).

MLflow copies this file into the logged model and runs it when the model is loaded.
"""

import mlflow

from moodtune.text.model import TextIndexModel

mlflow.models.set_model(TextIndexModel())
