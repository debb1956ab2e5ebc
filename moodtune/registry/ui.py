"""The MLflow UI opened on the training view: an app factory for ``mlflow ui --app-name``.

MLflow 3.17's UI has no setting for the view it opens on: its bundle hard-codes the workflow
type ``genai`` as the default (a browser's choice is kept in localStorage
``mlflow.workflowType_v1`` once the sidebar's switch is used; a ``?workflowType=`` in a link
applies to that page only), and its root is the "Welcome to MLflow" page. The UI routes in the
URL's fragment (``/#/experiments/1``), which a browser never sends to the server, so a
server-side redirect of ``/`` would catch every deep link too. Instead, the index page gets a
script that runs before the app: a URL without a route lands on the project's experiment,
training runs, and the browser's workflow type defaults to machine learning (a choice already
made with the switch is kept). Every other route and API is MLflow's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TRAINING = "machine_learning"
WORKFLOW_KEY = "mlflow.workflowType_v1"  # the UI's localStorage key (name + "_v" + version)


def landing_route(experiment_id: str | None) -> str:
    """Where a bare URL lands: the experiment on its training runs (the experiment list when
    it does not exist yet)."""
    path = f"/experiments/{experiment_id}" if experiment_id else "/experiments"
    return f"#{path}?workflowType={TRAINING}"


def landing_script(route: str) -> str:
    """The ``<script>`` the index page runs first: default the workflow type, route a bare URL."""
    return (
        "<script>(function(){"
        f"try{{if(localStorage.getItem({json.dumps(WORKFLOW_KEY)})===null)"
        f"localStorage.setItem({json.dumps(WORKFLOW_KEY)},{json.dumps(json.dumps(TRAINING))});}}catch(e){{}}"
        'var h=window.location.hash;if(!h||h==="#"||h==="#/")'
        f"window.location.replace(window.location.pathname+window.location.search+{json.dumps(route)});"
        "})();</script>"
    )


def index_html(static_folder: str | Path, route: str) -> str:
    """MLflow's ``index.html`` with :func:`landing_script` first in its ``<head>``."""
    html = (Path(static_folder) / "index.html").read_text(encoding="utf-8")
    head = html.index("<head>") + len("<head>")
    return html[:head] + landing_script(route) + html[head:]


def _experiment_id(name: str, tracking_uri: str) -> str | None:
    """The id of experiment ``name`` in the server's store (``mlflow server``'s backend store
    URI, else ``tracking_uri``); ``None`` when it does not exist (yet)."""
    from mlflow.server.constants import BACKEND_STORE_URI_ENV_VAR
    from mlflow.tracking import MlflowClient

    uri = os.environ.get(BACKEND_STORE_URI_ENV_VAR) or tracking_uri
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name(name)
    return None if experiment is None else experiment.experiment_id


def create_app(app=None, experiment: str | None = None):
    """MLflow's server app whose index page lands on ``experiment`` (default: the project's,
    ``mlflow.experiment``) in the training view. Under uvicorn (``mlflow server``'s default)
    the FastAPI app around it, as MLflow's own ``basic-auth`` factory does."""
    from flask import Response
    from mlflow.environment_variables import _MLFLOW_SGI_NAME

    from moodtune.settings import get_settings

    settings = get_settings()  # the server process's entry point
    if app is None:
        from mlflow.server import app
    if experiment is None:
        experiment = settings.mlflow.experiment
    found: list[str] = []  # the id once the experiment exists (it does not change)

    def serve():
        if not found and (experiment_id := _experiment_id(experiment, settings.tracking_uri)):
            found.append(experiment_id)
        html = index_html(app.static_folder, landing_route(found[0] if found else None))
        return Response(html, mimetype="text/html", headers={"Cache-Control": "no-cache"})

    app.view_functions["serve"] = serve
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app
