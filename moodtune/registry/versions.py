"""Registered model versions: register, read aliases, resolve ``alias or version`` once."""

from __future__ import annotations

from collections.abc import Mapping

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from moodtune.errors import ModelNotFound
from moodtune.registry.names import MODELS, how_to_build
from moodtune.registry.notes import tag_value
from moodtune.registry.tracking import configure
from moodtune.settings import Settings

SCORE_TAG = "gate.score."


def register(
    model_uri: str,
    name: str,
    *,
    scores: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Settings,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name``; ``scores`` are stored on it so a
    later gate can compare against it."""
    client = configure(settings)
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    spec = MODELS.get(name)
    if (
        spec is not None
        and spec.description
        and client.get_registered_model(name).description != spec.description
    ):
        client.update_registered_model(name, description=spec.description)
    for metric, value in (scores or {}).items():
        client.set_model_version_tag(name, version.version, f"{SCORE_TAG}{metric}", tag_value(value))
    return client.get_model_version(name, version.version)


def get_alias(
    name: str, alias: str, settings: Settings, *, client: MlflowClient | None = None
) -> ModelVersion | None:
    """The version behind ``name@alias``, or ``None`` when the model or alias does not exist.
    ``client``: one to reuse (for several reads); by default :func:`configure` makes one."""
    client = client or configure(settings)
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def champion_versions(names: list[str] | tuple[str, ...], settings: Settings) -> dict[str, str | None]:
    """The champion version of each of ``names`` (``None`` where there is none), read with one
    client and without :func:`configure`'s experiment set-up."""
    uri = settings.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {
        name: get_alias(name, settings.registry.champion_alias, settings, client=client) for name in names
    }
    return {name: None if v is None else str(v.version) for name, v in versions.items()}


def serving_versions(
    names: list[str] | tuple[str, ...], shadowed: str, settings: Settings
) -> tuple[dict[str, str | None], str | None]:
    """What a serving process polls, with one client: the champion version of each of ``names``
    and the ``challenger`` version of ``shadowed`` (``None`` where there is none)."""
    uri = settings.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champions = {
        name: get_alias(name, settings.registry.champion_alias, settings, client=client) for name in names
    }
    challenger = get_alias(shadowed, settings.registry.challenger_alias, settings, client=client)
    return (
        {name: None if v is None else str(v.version) for name, v in champions.items()},
        None if challenger is None else str(challenger.version),
    )


def champion(name: str, settings: Settings) -> ModelVersion | None:
    """The serving version of ``name``; ``None`` (not an error) when there is none yet."""
    return get_alias(name, settings.registry.champion_alias, settings)


def require_alias(name: str, alias: str | None, settings: Settings) -> ModelVersion:
    """The version behind ``name@alias`` (default ``champion``), or :class:`ModelNotFound`
    saying how to build it."""
    alias = alias or settings.registry.champion_alias
    version = get_alias(name, alias, settings)
    if version is None:
        raise ModelNotFound(f"no {alias} for {name!r} in {settings.tracking_uri}; {how_to_build(name)}")
    return version


def resolve(name: str, alias_or_version: str | int | None, settings: Settings) -> ModelVersion:
    """The one version behind ``alias_or_version`` (an alias, a version number, or ``None`` for
    the champion), read once: callers download ``models:/name/<that version>`` so a promotion
    in between cannot pair one version's number with another's artifacts."""
    ref = settings.registry.champion_alias if alias_or_version is None else str(alias_or_version)
    if ref.isdigit():
        client = configure(settings)
        try:
            return client.get_model_version(name, ref)
        except MlflowException as exc:
            raise ModelNotFound(
                f"no version {ref} of {name!r} in {settings.tracking_uri}; {how_to_build(name)}"
            ) from exc
    return require_alias(name, ref, settings)


def champion_uri(name: str, settings: Settings) -> str:
    """``models:/name@champion``, or :class:`ModelNotFound` saying how to build it."""
    require_alias(name, None, settings)
    return f"models:/{name}@{settings.registry.champion_alias}"


def version_score(version: ModelVersion, metric: str) -> float | None:
    """The gate score recorded on a version for ``metric``, if any."""
    raw = (version.tags or {}).get(f"{SCORE_TAG}{metric}")
    return None if raw is None else float(raw)
