"""The MLflow UI lands on the training view (moodtune/registry/ui.py, issue 31): the index page's
script routes a bare URL to the project's experiment on its training runs and defaults the
browser's workflow type to machine learning; deep links and MLflow's API are untouched. In
process on MLflow's Flask app, and end to end: ``mlflow server --app-name moodtune`` (the entry
point given by a throwaway dist-info on PYTHONPATH) on a real SQLite store, in chromium."""

import os
import sys
from pathlib import Path

import pytest
from mlflow.server import app as flask_app

from moodtune import registry
from moodtune.registry import ui


@pytest.fixture
def app(monkeypatch):
    """MLflow's Flask app with the landing page; its own index view is put back afterwards."""
    monkeypatch.setitem(flask_app.view_functions, "serve", flask_app.view_functions["serve"])
    monkeypatch.delenv("_MLFLOW_SGI_NAME", raising=False)
    return ui.create_app()


def test_the_index_page_lands_on_the_experiment_in_the_training_view(app, settings):
    client = app.test_client()
    before = client.get("/").get_data(as_text=True)  # no experiment yet: the experiment list
    assert '"#/experiments?workflowType=machine_learning"' in before
    experiment_id = (
        registry.configure(settings).get_experiment_by_name(settings.mlflow.experiment).experiment_id
    )
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert f'"#/experiments/{experiment_id}?workflowType=machine_learning"' in html
    assert html.index("localStorage.setItem") < html.index(
        "static-files/static/js/main."
    )  # runs before the app
    assert client.get("/health").get_data(as_text=True) == "OK"  # the rest is MLflow's own


def test_the_script_keeps_a_route_and_a_choice_already_made():
    script = ui.landing_script(ui.landing_route("7"))
    assert 'if(localStorage.getItem("mlflow.workflowType_v1")===null)' in script
    assert 'localStorage.setItem("mlflow.workflowType_v1","\\"machine_learning\\"")' in script
    assert (
        'if(!h||h==="#"||h==="#/")' in script and '"#/experiments/7?workflowType=machine_learning"' in script
    )


def test_under_uvicorn_the_factory_gives_mlflow_s_fastapi_app(monkeypatch):
    from fastapi import FastAPI

    monkeypatch.setitem(flask_app.view_functions, "serve", flask_app.view_functions["serve"])
    monkeypatch.setenv("_MLFLOW_SGI_NAME", "uvicorn")
    assert isinstance(ui.create_app(experiment="moodtune"), FastAPI)


def _entry_point(site: Path) -> None:
    """A dist-info declaring ``mlflow.app: moodtune`` (what pyproject.toml's entry point installs)."""
    dist = site / "moodtune_mlflow_ui-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: moodtune-mlflow-ui\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[mlflow.app]\nmoodtune = moodtune.registry.ui:create_app\n")


@pytest.mark.slow
@pytest.mark.browser
def test_mlflow_server_app_name_lands_a_browser_on_the_training_runs(tmp_path, settings):
    from playwright.sync_api import sync_playwright
    from test_browser_mlflow_dagster import ARGS, CHROMIUM, Server

    from bento.testing import free_port

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make system-deps` (apt-get install chromium)")
    with registry.start_run("described", settings=settings) as run:
        pass
    experiment_id = run.info.experiment_id
    _entry_point(tmp_path / "site")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(root)])}
    port = free_port()
    server = Server(
        "mlflow",
        [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--app-name",
            "moodtune",
            "--backend-store-uri",
            settings.tracking_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        port,
        env,
        tmp_path / "mlflow.log",
    ).wait()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page()
            page.goto(server.url + "/")
            page.wait_for_url(f"**/#/experiments/{experiment_id}?workflowType=machine_learning")
            assert page.evaluate("localStorage.getItem('mlflow.workflowType_v1')") == '"machine_learning"'
            page.get_by_text("described").first.wait_for(timeout=60_000)  # the training run is listed
            # a deep link (a run, as Dagster links it) stays where it points
            deep = f"{server.url}/#/experiments/{experiment_id}/runs/{run.info.run_id}"
            page.goto(deep)
            page.get_by_text(run.info.run_id).first.wait_for(timeout=60_000)
            assert page.url == deep
            # a choice made with the sidebar's switch is kept
            page.evaluate("localStorage.setItem('mlflow.workflowType_v1', '\"genai\"')")
            page.goto(server.url + "/")
            page.wait_for_url("**/#/experiments/*")
            assert page.evaluate("localStorage.getItem('mlflow.workflowType_v1')") == '"genai"'
            browser.close()
    finally:
        server.stop()
