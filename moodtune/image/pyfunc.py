"""``moodtune-face`` as an MLflow pyfunc: the network, the Haar cascade and the configuration.

``predict`` takes a DataFrame with an ``image`` column of image-file bytes (or a list of them)
and returns one row per face found: ``image`` (the row it came from), the box, the face's share
of the weight and the 7 expression probabilities. Images without a face give no row. In-process
users (the service, the CLI) call ``registry.load(registry.FACE)``, which unwraps this.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from moodtune.emotions import FER7


class FaceEmotionPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]  # mlflow.pyfunc reads as a LazyLoader
    ARTIFACTS = ("weights", "cascade", "config")

    def load_context(self, context) -> None:
        from moodtune.image.model import FaceEmotionModel
        from moodtune.settings import get_settings

        self.model = FaceEmotionModel.from_files(*(Path(context.artifacts[k]) for k in self.ARTIFACTS))
        self.image = get_settings().image  # the photo limits of this process (a served model's own)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        from moodtune.image.photo import emotion_of

        if isinstance(model_input, pd.DataFrame):
            images = list(model_input["image"])
        elif isinstance(model_input, (bytes, bytearray)):
            images = [model_input]
        else:
            images = list(model_input)
        rows = []
        for i, data in enumerate(images):
            result = emotion_of(bytes(data), self.model, self.image)
            for face in result.faces:
                x, y, w, h = face.box.as_list()
                rows.append(
                    {"image": i, "x": x, "y": y, "w": w, "h": h, "weight": face.weight, **face.expressions}
                )
        return pd.DataFrame(rows, columns=["image", "x", "y", "w", "h", "weight", *FER7])
