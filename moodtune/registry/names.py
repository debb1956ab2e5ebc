"""The model names and what derives from the families' specs (:mod:`moodtune.families`, the
one list, re-exported here): the model names in order, the training and gated assets, the
service's short names, the group that builds each model and how to build a missing one."""

from __future__ import annotations

from moodtune.families import AUDIO, CATALOG, FACE, HRV, MODELS, POLICY, SHADOW, TEXT, ModelSpec

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
BUILD_GROUPS: dict[str, str] = {**{n: s.group for n, s in MODELS.items()}, CATALOG: "catalog"}
CATALOG_ASSET = "catalog"  # the asset that builds the catalog the service packs beside the models
# derived: the training assets, the assets whose materialization carries a gate verdict (a
# retraining asset too), and the service's short name of each model
TRAINING_ASSETS: tuple[str, ...] = tuple(s.asset for s in MODELS.values())
GATED_ASSETS: tuple[str, ...] = tuple(a for s in MODELS.values() for a in s.gated_by)
SERVED_ATTRS: dict[str, str] = {s.attr: n for n, s in MODELS.items()}  # attr -> name: audio -> AUDIO


def how_to_build(name: str) -> str:
    """The one sentence that tells a person how to build a missing model."""
    group = BUILD_GROUPS.get(name, "*")
    return (
        f"build it with `dagster asset materialize -m definitions --select 'group:{group}'` "
        "then `python -m bento.models`, or run `make up`"
    )


__all__ = [
    "AUDIO",
    "BUILD_GROUPS",
    "CATALOG",
    "CATALOG_ASSET",
    "FACE",
    "GATED_ASSETS",
    "HRV",
    "MODELS",
    "MODEL_NAMES",
    "POLICY",
    "SERVED_ATTRS",
    "SHADOW",
    "TEXT",
    "TRAINING_ASSETS",
    "ModelSpec",
    "how_to_build",
]
