"""MLflow tracking: the project's store and experiment, runs, and logging helpers."""

from __future__ import annotations

import fcntl
import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from moodtune.settings import Settings

KIND_TAG = "mlflow.experimentKind"
NOTE_TAG = "mlflow.note.content"  # the description the MLflow UI shows
EXPERIMENT_NOTE = (
    "moodtune's training runs: one run per Dagster asset execution that trains or evaluates a "
    "model (audio, HRV, text index, face, policy, retraining). Each registers a version in the "
    "model registry (Models tab); the gate's verdict is on the run (tags gate.*) and on the version. "
    "Runs are tagged dagster.run_url (the Dagster run that made them) and dagster.asset; each run's "
    "description says what it trained, on what data (with a link to the Dagster run) and the gate's verdict."
)


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the project's store (or ``MLFLOW_TRACKING_URI``), ensure the experiment."""
    uri = settings.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with _creating(uri):  # the client's first store opens (and, when new, creates) the database
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        _ensure_experiment(client, settings, uri)
    mlflow.set_experiment(settings.mlflow.experiment)
    return client


@contextmanager
def _creating(uri: str) -> Iterator[None]:
    """For a SQLite store, one process at a time: the first use of a new database creates and
    migrates its tables, and two Dagster steps doing it at once fail ("duplicate column name")."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".init-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure_experiment(client: MlflowClient, settings: Settings, uri: str):
    experiment = client.get_experiment_by_name(settings.mlflow.experiment)
    if experiment is None and uri.startswith(("http://", "https://")):
        # a tracking server with served artifacts: its own artifact root (mlflow-artifacts:/)
        client.create_experiment(settings.mlflow.experiment)
    elif experiment is None:
        artifact_root = settings.artifact_root
        artifact_root.mkdir(parents=True, exist_ok=True)
        client.create_experiment(
            settings.mlflow.experiment, artifact_location=artifact_root.resolve().as_uri()
        )
    experiment = experiment or client.get_experiment_by_name(settings.mlflow.experiment)
    assert experiment is not None  # found, or created just above
    wanted = {KIND_TAG: "custom_model_development", NOTE_TAG: EXPERIMENT_NOTE}
    for key, value in wanted.items():  # the UI opens on training runs and the model registry
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment


def dagster_run_url(run_id: str, settings: Settings) -> str:
    """The Dagster UI's page of a run (``dagster.webserver_url``)."""
    return f"{settings.dagster.webserver_url.rstrip('/')}/runs/{run_id}"


# MLflow 3's UI opens an experiment on its GenAI overview (traces, tokens) unless the link
# names the workflow: the experiment's kind tag alone does not switch a fresh browser over
TRAINING_VIEW = "workflowType=machine_learning"


def mlflow_experiment_url(settings: Settings) -> str:
    """The MLflow UI's page of the project's experiment, opened on its training runs (the side
    bar then offers Models, the registry)."""
    experiment = configure(settings).get_experiment_by_name(settings.mlflow.experiment)
    assert experiment is not None  # configure ensures it
    return f"{settings.mlflow.ui_url.rstrip('/')}/#/experiments/{experiment.experiment_id}?{TRAINING_VIEW}"


def mlflow_run_url(run_id: str, settings: Settings) -> str:
    """The MLflow UI's page of a run (``mlflow.ui_url``)."""
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment_id = client.get_run(run_id).info.experiment_id
    return f"{settings.mlflow.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


@contextmanager
def start_run(
    run_name: str,
    *,
    settings: Settings,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start a run in the project's experiment (nested when a run is already active). A
    ``dagster.run_id`` tag gains ``dagster.run_url``; a ``description`` becomes the run's note."""
    configure(settings)
    tags = dict(tags or {})
    if "dagster.run_id" in tags:
        tags.setdefault("dagster.run_url", dagster_run_url(tags["dagster.run_id"], settings))
        tags.setdefault("mlflow.source.name", f"dagster:{tags.get('dagster.asset', run_name)}")
    if description:
        tags[NOTE_TAG] = description
    nested = mlflow.active_run() is not None
    with mlflow.start_run(run_name=run_name, tags=tags, nested=nested) as run:
        yield run


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested params to ``a.b.c`` keys, the way MLflow shows them."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def log_params(params: Mapping[str, Any], prefix: str = "") -> None:
    """Log (nested) params to the active run; paths and lists become strings."""
    mlflow.log_params(
        {
            k: str(v) if not isinstance(v, (int, float, str, bool)) else v
            for k, v in flatten(params, prefix).items()
        }
    )


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log finite metrics to the active run; NaN/inf are skipped (MLflow rejects them)."""
    clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
    if clean:
        mlflow.log_metrics(clean, step=step)


def log_figure(figure, artifact_file: str) -> None:
    """Log a matplotlib figure as an artifact of the active run and close it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, artifact_file)
    plt.close(figure)


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_json(data: Any, artifact_file: str) -> None:
    mlflow.log_dict(data, artifact_file)


def log_dataframe(df, artifact_file: str) -> None:
    """Log a pandas DataFrame as a CSV artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        df.to_csv(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(artifact_file).parent) or None)


def store_token(settings: Settings) -> tuple[int, ...] | None:
    """A cheap fingerprint of the tracking store that changes whenever MLflow writes to it: size
    and modification time of a ``sqlite:///`` database and its journal files. ``None`` where it
    cannot tell (a tracking server, or no file yet): then every check must ask the registry."""
    uri = settings.tracking_uri
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///") :])
    token: list[int] = []
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            if path == db:
                return None
            token += (-1, -1)
        else:
            token += (st.st_size, st.st_mtime_ns)
    return tuple(token)
