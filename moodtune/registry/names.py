"""The registered models: their names, the asset group that builds each, and how to load it.

This is the one list of model names. Each loader is a dotted path ``module:function`` taking
``(model_dir: Path, settings)`` (an MLflow model directory) and returning the domain object;
it is imported only when that model is loaded, so reading a name imports no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

AUDIO, HRV, POLICY, TEXT, FACE = (
    "moodtune-audio", "moodtune-hrv", "moodtune-policy", "moodtune-text-index", "moodtune-face",
)
CATALOG = "moodtune-catalog"
SHADOW = f"{POLICY}@shadow"  # the policy challenger ranking in shadow, as logged in model versions


@dataclass(frozen=True)
class ModelSpec:
    name: str
    group: str   # the Dagster asset group that trains and registers it
    loader: str  # "module:function" (model_dir, settings) -> domain object
    description: str = ""  # what the registered model is, shown in the MLflow model registry


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(AUDIO, "audio", "moodtune.audio.model:load_model_dir",
                  "A music clip -> 4 genres + 6 GEMS emotions (docs/audio.md)."),
        ModelSpec(HRV, "hrv", "moodtune.hrv.reader:load_model_dir",
                  "Heart-rate variability of a recording -> stress low / medium / high (docs/hrv.md)."),
        ModelSpec(POLICY, "policy", "moodtune.policy.packaging:load_model_dir",
                  "The A2C recommender: ranks a playlist for a listener's state (docs/policy.md)."),
        ModelSpec(TEXT, "text", "moodtune.text.index:load_model_dir",
                  "Chinese text -> DLUT emotion vector, and the track index searched by it (docs/text.md)."),
        ModelSpec(FACE, "image", "moodtune.image.model:load_model_dir",
                  "Faces in a photo -> FER-7 expressions -> DLUT emotions (docs/image.md)."),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
BUILD_GROUPS: dict[str, str] = {**{n: s.group for n, s in MODELS.items()}, CATALOG: "catalog"}


def how_to_build(name: str) -> str:
    """The one sentence that tells a person how to build a missing model."""
    group = BUILD_GROUPS.get(name, "*")
    return (f"build it with `dagster asset materialize -m definitions --select 'group:{group}'` "
            "then `python -m bento.models`, or run `make up`")
