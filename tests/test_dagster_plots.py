"""Plots visible in Dagster (assets/plots.py): every PNG an asset's MLflow run logs is embedded in
its materialization as markdown (a data: image, shrunk to dagster.plot_max_kb) with a link to
the plot in the MLflow run. A toy asset materialized in-process on a real SQLite store, and the
real training assets of the small stack."""

from __future__ import annotations

import base64
import io
import re

import dagster as dg
import matplotlib
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from assets.plots import png_paths, shrink_png
from assets.resources import MlflowResource, SettingsResource
from moodtune import registry

matplotlib.use("Agg")
DATA_IMAGE = re.compile(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def _figure(noise_pixels: int):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1, 2], [1, 3, 2])
    if noise_pixels:  # random pixels compress badly: a large PNG
        ax.imshow(np.random.default_rng(0).random((noise_pixels, noise_pixels, 3)))
    return fig


@dg.asset
def plotted_model(context, mlflow: MlflowResource) -> int:
    with mlflow.run(context):
        registry.log_figure(_figure(0), "plots/small.png")
        registry.log_figure(_figure(400), "evaluation/noisy.png")
        registry.log_text("not a plot", "notes/readme.txt")
    return 1


def embedded(metadata) -> dict[str, bytes]:
    """``plot: <path>`` entries of a materialization -> the PNG bytes each embeds."""
    out = {}
    for key, value in metadata.items():
        if key.startswith("plot: "):
            assert isinstance(value, dg.MarkdownMetadataValue), key
            (match,) = DATA_IMAGE.findall(value.value)
            assert match[0] == key.removeprefix("plot: ")
            out[key.removeprefix("plot: ")] = base64.b64decode(match[1])
    return out


def test_every_plot_of_the_run_is_embedded_with_a_link(settings):
    res = SettingsResource(overrides_yaml="dagster: {plot_max_kb: 40}\n")
    result = dg.materialize([plotted_model], resources={"mlflow": MlflowResource(settings=res)})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    run_id = meta["mlflow_run_id"].value
    client = MlflowClient(settings.tracking_uri)
    assert sorted(png_paths(client, run_id)) == ["evaluation/noisy.png", "plots/small.png"]
    images = embedded(meta)
    assert set(images) == {"evaluation/noisy.png", "plots/small.png"}  # the text artifact is not a plot
    logged = {p: (client.download_artifacts(run_id, p, str(settings.data_dir))) for p in images}
    from PIL import Image

    # the small plot is the very file the run logged; the large one is shrunk under the cap
    assert images["plots/small.png"] == open(logged["plots/small.png"], "rb").read()
    original = open(logged["evaluation/noisy.png"], "rb").read()
    assert len(original) > 40 * 1024 >= len(images["evaluation/noisy.png"])
    shrunk = Image.open(io.BytesIO(images["evaluation/noisy.png"]))
    assert shrunk.format == "PNG" and 0 < shrunk.width < Image.open(logged["evaluation/noisy.png"]).width
    # each plot links to itself in the MLflow run's artifact browser
    run_url = meta["mlflow_run_url"].url
    assert f"({run_url}/artifacts/plots/small.png)" in meta["plot: plots/small.png"].value


def test_shrink_keeps_a_small_png_and_refuses_an_impossible_cap():
    buffer = io.BytesIO()
    _figure(0).savefig(buffer, format="png")
    data = buffer.getvalue()
    assert shrink_png(data, len(data)) == data
    smaller = shrink_png(data, len(data) // 3)
    assert len(smaller) <= len(data) // 3 and smaller[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        shrink_png(data, 10)


TRAINING_ASSETS_WITH_PLOTS = ("audio_emotion_model", "hrv_stress_model", "a2c_policy", "policy_evaluation")


@pytest.mark.slow
def test_the_training_assets_show_their_runs_plots(policy_stack):
    """The small stack's training assets (materialized by Dagster in conftest): each embeds every
    PNG its MLflow run logged."""
    client = MlflowClient(policy_stack["settings"].tracking_uri)
    seen = {}
    for event in policy_stack["result"].get_asset_materialization_events():
        meta = event.materialization.metadata
        if "mlflow_run_id" not in meta:
            continue
        name = event.asset_key.to_user_string()
        pngs = png_paths(client, meta["mlflow_run_id"].value)
        assert set(embedded(meta)) == set(pngs), name
        seen[name] = len(pngs)
    assert all(seen.get(name, 0) >= 1 for name in TRAINING_ASSETS_WITH_PLOTS), seen


def _run_with_a_plot_beside_a_logged_model(settings) -> str:
    """A run whose ``model/`` folder holds a plot and whose logged model is also named ``model``."""
    import mlflow
    import mlflow.pyfunc

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [1.0] * len(model_input)

    with registry.start_run("plots-beside-a-model", settings=settings) as run:
        registry.log_figure(_figure(0), "model/curve.png")
        mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=["mlflow"])
    return run.info.run_id


def test_a_logged_model_in_another_store_does_not_hide_the_runs_plots(settings, tmp_path):
    """MLflow 3 lists ``runs:/<id>/model`` through the run's logged model named ``model`` and looks
    that model up in the *process's* tracking store, not the client's: with the two apart (a test
    module on its copy of the stack, a user's MLFLOW_TRACKING_URI beside the settings) it raised
    "Logged model ... not found" and failed every training asset. This failed before the fix."""
    import mlflow
    from mlflow.exceptions import MlflowException

    run_id = _run_with_a_plot_beside_a_logged_model(settings)
    elsewhere = f"sqlite:///{tmp_path / 'other.db'}"
    MlflowClient(elsewhere).search_experiments()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(elsewhere)
    try:
        client = MlflowClient(settings.tracking_uri)
        with pytest.raises(MlflowException, match="not found"):
            client.list_artifacts(run_id, "model")  # the path png_paths took before
        assert png_paths(client, run_id) == ["model/curve.png"]
        from assets.plots import run_plots

        assert set(run_plots(run_id, settings)) == {"plot: model/curve.png"}
    finally:
        mlflow.set_tracking_uri(previous)


def test_a_run_that_is_gone_gives_a_note_not_a_failure(settings):
    from assets.plots import run_plots

    meta = run_plots("0" * 32, settings)
    assert list(meta) == ["plots_unavailable"] and "0" * 32 in meta["plots_unavailable"].value
