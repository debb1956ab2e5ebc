"""MLflow "models from code" entry of ``moodtune-audio``: logged as the model's code, so the
registered model is rebuilt from this file and the saved weights, never unpickled."""

import mlflow

from moodtune.audio.model import AudioPyfunc

mlflow.models.set_model(AudioPyfunc())
