"""MLflow helpers shared by every training step: runs, logging, registration and the gate.

The registry uses aliases, not stages: ``champion`` serves, a new version is ``challenger``
until :func:`promote` decides. A candidate is promoted only if it passes absolute floors and
beats the current champion's score on the same metric by the configured margin; the decision
and both scores are written to the model version's tags and to the MLflow run.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from moodtune.errors import ModelNotFound
from moodtune.settings import Settings, get_settings

# Which asset group builds each registered model, for error messages that say what to run.
MODEL_SOURCES = {
    "moodtune-audio": "group:audio",
    "moodtune-hrv": "group:hrv",
    "moodtune-policy": "group:policy",
    "moodtune-text-index": "group:text",
    "moodtune-face": "group:image",
}

SCORE_TAG = "gate.score."


def configure(settings: Settings | None = None) -> MlflowClient:
    """Point MLflow at the project's store (or ``MLFLOW_TRACKING_URI``), ensure the experiment."""
    settings = settings or get_settings()
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(settings.mlflow.experiment)
    if experiment is None:
        artifact_root = settings.artifact_root
        artifact_root.mkdir(parents=True, exist_ok=True)
        client.create_experiment(
            settings.mlflow.experiment, artifact_location=artifact_root.resolve().as_uri()
        )
    mlflow.set_experiment(settings.mlflow.experiment)
    return client


@contextmanager
def start_run(
    run_name: str,
    *,
    settings: Settings | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start a run in the project's experiment (nested when a run is already active)."""
    configure(settings)
    nested = mlflow.active_run() is not None
    with mlflow.start_run(run_name=run_name, tags=dict(tags or {}), nested=nested) as run:
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
    mlflow.log_params({k: str(v) if not isinstance(v, (int, float, str, bool)) else v
                       for k, v in flatten(params, prefix).items()})


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


def register(
    model_uri: str,
    name: str,
    *,
    scores: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name``; ``scores`` are stored on it so a
    later gate can compare against it."""
    client = configure(settings)
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    for metric, value in (scores or {}).items():
        client.set_model_version_tag(name, version.version, f"{SCORE_TAG}{metric}", repr(float(value)))
    return client.get_model_version(name, version.version)


def get_alias(name: str, alias: str, settings: Settings | None = None, *,
              client: MlflowClient | None = None) -> ModelVersion | None:
    """The version behind ``name@alias``, or ``None`` when the model or alias does not exist.
    ``client``: one to reuse (for several reads); by default :func:`configure` makes one."""
    client = client or configure(settings)
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def store_token(settings: Settings | None = None) -> tuple[int, ...] | None:
    """A cheap fingerprint of the tracking store that changes whenever MLflow writes to it: size
    and modification time of a ``sqlite:///`` database and its journal files. ``None`` where it
    cannot tell (a tracking server, or no file yet): then every check must ask the registry."""
    settings = settings or get_settings()
    uri = settings.tracking_uri
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///"):])
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


def champion_versions(names: list[str] | tuple[str, ...], settings: Settings | None = None) -> dict[str, str | None]:
    """The champion version of each of ``names`` (``None`` where there is none), read with one
    client and without :func:`configure`'s experiment set-up: what a serving process polls."""
    settings = settings or get_settings()
    uri = settings.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {name: get_alias(name, settings.registry.champion_alias, settings, client=client) for name in names}
    return {name: None if v is None else str(v.version) for name, v in versions.items()}


def champion(name: str, settings: Settings | None = None) -> ModelVersion | None:
    """The serving version of ``name``; ``None`` (not an error) when there is none yet."""
    settings = settings or get_settings()
    return get_alias(name, settings.registry.champion_alias, settings)


def require_alias(name: str, alias: str | None = None, settings: Settings | None = None) -> ModelVersion:
    """The version behind ``name@alias`` (default ``champion``), or :class:`ModelNotFound`
    saying how to build it."""
    settings = settings or get_settings()
    alias = alias or settings.registry.champion_alias
    version = get_alias(name, alias, settings)
    if version is None:
        raise ModelNotFound(
            f"no {alias} for {name!r} in {settings.tracking_uri}; build it with "
            f"`dagster asset materialize -m definitions --select '{MODEL_SOURCES.get(name, '*')}'` "
            "or `make up`"
        )
    return version


def champion_uri(name: str, settings: Settings | None = None) -> str:
    """``models:/name@champion``, or :class:`ModelNotFound` saying how to build it."""
    settings = settings or get_settings()
    require_alias(name, None, settings)
    return f"models:/{name}@{settings.registry.champion_alias}"


def version_score(version: ModelVersion, metric: str) -> float | None:
    """The gate score recorded on a version for ``metric``, if any."""
    raw = (version.tags or {}).get(f"{SCORE_TAG}{metric}")
    return None if raw is None else float(raw)


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided, with both scores and the reason, as logged to MLflow."""

    name: str
    version: str
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    promoted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(
    name: str,
    version: str | int,
    candidate_score: float | Mapping[str, float],
    floors: Mapping[str, float],
    margin: float,
    *,
    metric: str = "score",
    champion_score: float | None = None,
    settings: Settings | None = None,
) -> PromotionDecision:
    """Gate a new version: set ``challenger``, compare with ``champion``, move it if it wins.

    ``candidate_score`` is the gate metric (a float) or a dict of metrics holding ``metric``;
    every floor must be met (a floor's metric missing from the dict fails it). The candidate
    wins when it beats the champion's score on ``metric`` by at least ``margin`` (and
    strictly). ``champion_score`` lets the caller pass the champion's score re-measured on the
    same held-out data; otherwise the score recorded on the champion version is used.
    """
    settings = settings or get_settings()
    client = configure(settings)
    version = str(version)
    scores = dict(candidate_score) if isinstance(candidate_score, Mapping) else {metric: candidate_score}
    if metric not in scores:
        raise KeyError(f"candidate scores have no {metric!r}; got {sorted(scores)}")
    candidate = float(scores[metric])
    client.set_model_version_tag(name, version, f"{SCORE_TAG}{metric}", repr(candidate))
    client.set_registered_model_alias(name, settings.registry.challenger_alias, version)

    current = champion(name, settings)
    if current is not None and current.version == version:
        current = None
    if champion_score is None and current is not None:
        champion_score = version_score(current, metric)

    failed = [
        f"{m}={scores.get(m, float('nan')):.4g} below floor {floor:.4g}"
        if m in scores else f"{m} missing (floor {floor:.4g})"
        for m, floor in floors.items()
        if m not in scores or not float(scores[m]) >= float(floor)
    ]
    if failed:
        promoted, reason = False, "below floors: " + "; ".join(failed)
    elif current is None:
        promoted, reason = True, "first version to pass the floors"
    elif champion_score is None:
        promoted, reason = True, f"champion v{current.version} has no recorded {metric}; floors passed"
    elif candidate > champion_score and candidate - champion_score >= margin:
        promoted, reason = True, (
            f"{metric} {candidate:.4g} beats champion v{current.version} "
            f"({champion_score:.4g}) by >= {margin:g}"
        )
    else:
        promoted, reason = False, (
            f"{metric} {candidate:.4g} does not beat champion v{current.version} "
            f"({champion_score:.4g}) by {margin:g}"
        )

    if promoted:
        client.set_registered_model_alias(name, settings.registry.champion_alias, version)
        client.delete_registered_model_alias(name, settings.registry.challenger_alias)

    decision = PromotionDecision(
        name=name,
        version=version,
        metric=metric,
        candidate_score=candidate,
        champion_version=None if current is None else str(current.version),
        champion_score=champion_score,
        promoted=promoted,
        reason=reason,
    )
    _log_decision(client, decision)
    return decision


def _log_decision(client: MlflowClient, decision: PromotionDecision) -> None:
    client.set_model_version_tag(decision.name, decision.version, "gate.decision",
                                 "promoted" if decision.promoted else "rejected")
    client.set_model_version_tag(decision.name, decision.version, "gate.reason", decision.reason)
    run_id = client.get_model_version(decision.name, decision.version).run_id
    active = mlflow.active_run()
    run_id = active.info.run_id if active is not None else run_id
    if not run_id:
        return
    client.set_tag(run_id, "gate.decision", "promoted" if decision.promoted else "rejected")
    client.set_tag(run_id, "gate.reason", decision.reason)
    client.log_metric(run_id, "gate.candidate_score", decision.candidate_score)
    if decision.champion_score is not None:
        client.log_metric(run_id, "gate.champion_score", decision.champion_score)
    client.log_text(run_id, json.dumps(decision.as_dict(), indent=2), "gate/decision.json")


def load_champion_pyfunc(name: str, settings: Settings | None = None):
    """Load ``name@champion`` as an MLflow pyfunc model (:class:`ModelNotFound` if absent)."""
    import mlflow.pyfunc

    uri = champion_uri(name, settings)
    return mlflow.pyfunc.load_model(uri)
