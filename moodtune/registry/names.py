"""The registered models: one :class:`ModelSpec` per model family, the single place it is declared.

This is the one list of model names. Everything else that enumerates the models derives from
:data:`MODELS`: the gate's asset checks (``assets/gating.py``, :data:`GATED_ASSETS`), what the
``bento_models`` asset waits for (``assets/serving.py``, :data:`TRAINING_ASSETS`), the
champions imported into BentoML and served (``bento/models.py``, ``bento/service.py``'s
``BentoModel`` references, :data:`SERVED_ATTRS`), the service's model set
(``moodtune/serving/models.py``, ``ModelSet.<attr>``) and the tests' parametrisations.

Each loader is a dotted path ``module:function`` taking ``(model_dir: Path, settings)`` (an
MLflow model directory) and returning the domain object; it is imported only when that model
is loaded, so reading a name imports no model code (this module imports nothing of moodtune).
"""

from __future__ import annotations

from dataclasses import dataclass

AUDIO, HRV, POLICY, TEXT, FACE = (
    "moodtune-audio",
    "moodtune-hrv",
    "moodtune-policy",
    "moodtune-text-index",
    "moodtune-face",
)
CATALOG = "moodtune-catalog"
SHADOW = f"{POLICY}@shadow"  # the policy challenger ranking in shadow, as logged in model versions


@dataclass(frozen=True)
class ModelSpec:
    name: str
    group: str  # the Dagster asset group that trains and registers it
    loader: str  # "module:function" (model_dir, settings) -> domain object
    description: str = ""  # what the registered model is, shown in the MLflow model registry
    asset: str = ""  # the asset that trains, registers and gates it (its materialization carries the verdict)
    attr: str = ""  # the service's short name: ``ModelSet.<attr>``, the Bento's ``<attr>_ref``
    also_gated_by: tuple[str, ...] = ()  # other assets that register and gate versions of it (retraining)

    @property
    def gated_by(self) -> tuple[str, ...]:
        """Every asset whose materialization carries a gate verdict on this model."""
        return tuple(a for a in (self.asset, *self.also_gated_by) if a)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            AUDIO,
            "audio",
            "moodtune.audio.model:load_model_dir",
            "A music clip -> 4 genres + 6 GEMS emotions (docs/audio.md).",
            asset="audio_emotion_model",
            attr="audio",
        ),
        ModelSpec(
            HRV,
            "hrv",
            "moodtune.hrv.reader:load_model_dir",
            "Heart-rate variability of a recording -> stress low / medium / high (docs/hrv.md).",
            asset="hrv_stress_model",
            attr="hrv",
        ),
        ModelSpec(
            POLICY,
            "policy",
            "moodtune.policy.packaging:load_model_dir",
            "The A2C recommender: ranks a playlist for a listener's state (docs/policy.md).",
            asset="policy_evaluation",
            attr="policy",
            also_gated_by=("retrained_policy",),
        ),
        ModelSpec(
            TEXT,
            "text",
            "moodtune.text.index:load_model_dir",
            "Chinese text -> DLUT emotion vector, and the track index searched by it (docs/text.md).",
            asset="emotion_index",
            attr="text",
        ),
        ModelSpec(
            FACE,
            "image",
            "moodtune.image.model:load_model_dir",
            "Faces in a photo -> FER-7 expressions -> DLUT emotions (docs/image.md).",
            asset="face_model",
            attr="face",
        ),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
BUILD_GROUPS: dict[str, str] = {**{n: s.group for n, s in MODELS.items()}, CATALOG: "catalog"}
CATALOG_ASSET = "catalog"  # the asset that builds the catalog the service packs beside the models
# derived: the training assets, the assets whose materialization carries a gate verdict (a
# retraining asset too), and the service's short name of each model
TRAINING_ASSETS: tuple[str, ...] = tuple(s.asset for s in MODELS.values())
GATED_ASSETS: tuple[str, ...] = tuple(a for s in MODELS.values() for a in s.gated_by)
SERVED_ATTRS: dict[str, str] = {s.attr: n for n, s in MODELS.items()}  # "audio" -> "moodtune-audio"


def how_to_build(name: str) -> str:
    """The one sentence that tells a person how to build a missing model."""
    group = BUILD_GROUPS.get(name, "*")
    return (
        f"build it with `dagster asset materialize -m definitions --select 'group:{group}'` "
        "then `python -m bento.models`, or run `make up`"
    )
