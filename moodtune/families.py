"""The model families: one :class:`ModelSpec` per family, the single place each is declared.

This is the one list of model names. Everything else that enumerates the models derives from
:data:`MODELS`: the training assets and their gate checks (``assets/training.py``, built from
each spec's ``trainer``, ``inputs``, ``kind`` and ``doc``; :data:`~moodtune.registry.names.GATED_ASSETS`),
what the ``bento_models`` asset waits for (``assets/serving.py``), the champions imported into
BentoML and served (``bento/models.py``, ``bento/service.py``'s ``BentoModel`` references), the
service's model set (``moodtune/serving/models.py``, ``ModelSet.<attr>``), the settings' family
sections (:mod:`moodtune.settings`, from each spec's ``settings``) and the tests'
parametrisations. :mod:`moodtune.registry.names` re-exports it with what is derived from it.

Each family's ``package`` module (``moodtune/<domain>/package.py``) logs and loads it through
:mod:`moodtune.registry.packaging` (``log_model``, ``load_model_dir``, ``predict``) and holds
``served``, the ``typing.Protocol`` of what the service calls on the loaded object (the type of
``ModelSet.<attr>``). Modules are named, not imported: one is imported only when its model is
loaded or its settings composed, so reading a name imports no model code. Pure data, in the
bottom layer (it imports nothing of moodtune), so the settings below the registry read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

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
    package: str  # the package module: log_model, load_model_dir, predict (moodtune.registry.packaging)
    description: str = ""  # what the registered model is, shown in the MLflow model registry
    asset: str = ""  # the asset that trains, registers and gates it (its materialization carries the verdict)
    attr: str = ""  # the service's short name: ``ModelSet.<attr>``, the Bento's ``<attr>_ref``
    also_gated_by: tuple[str, ...] = ()  # other assets that register and gate versions of it (retraining)
    # the training asset, built from these by one factory (assets/training.py): the trainer
    # "module:function" (settings, *inputs, log=) -> registry.ModelReport, its input assets in
    # the trainer's argument order, its compute kind, whether it is on the critical path (runs
    # before other ready steps) and its description
    trainer: str = ""
    inputs: tuple[str, ...] = ()
    kind: str = ""
    critical_path: bool = False
    doc: str = ""
    served: str = ""  # the Protocol in the package module of what the service calls on the object
    # its settings section "moodtune.<domain>.config:<Class>": params.yaml's <domain>, composed
    # into the settings (moodtune.settings)
    settings: str = ""

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
            "moodtune.audio.package",
            "A music clip -> 4 genres + 6 GEMS emotions (docs/audio.md).",
            asset="audio_emotion_model",
            attr="audio",
            served="ServedAudio",
            trainer="moodtune.audio.train:train_and_register",
            inputs=("audio_clips", "audio_features", "audio_real_set", "audio_real_features"),
            kind="torch",
            settings="moodtune.audio.config:AudioSettings",
            critical_path=True,
            doc="""The genre + GEMS-6 model, registered as ``moodtune-audio`` and gated: on the real set's
    held-out packages when there is one (tag model), else on held-out demo clips (network).""",
        ),
        ModelSpec(
            HRV,
            "hrv",
            "moodtune.hrv.package",
            "Heart-rate variability of a recording -> stress low / medium / high (docs/hrv.md).",
            asset="hrv_stress_model",
            attr="hrv",
            served="ServedHrv",
            trainer="moodtune.hrv.train:train_and_register",
            inputs=("hrv_metrics",),
            kind="catboost",
            settings="moodtune.hrv.config:HrvSettings",
            critical_path=True,
            doc="""CatBoost on the eight metrics (and, when every subject has a resting baseline, their
    log-ratios to it) -> low / medium / high: both feature sets scored leave-subjects-out against
    majority-class and logistic-regression baselines, the better one fitted, scored on held-out
    gate subjects, registered as ``moodtune-hrv`` and gated against the champion re-scored on the
    same subjects (:func:`moodtune.hrv.train.train_and_register`). Returns the registry pointer.""",
        ),
        ModelSpec(
            POLICY,
            "policy",
            "moodtune.policy.package",
            "The A2C recommender: ranks a playlist for a listener's state (docs/policy.md).",
            asset="policy_evaluation",
            attr="policy",
            served="ServedPolicy",
            also_gated_by=("retrained_policy",),
            trainer="moodtune.policy.registration:evaluate_and_register",
            inputs=("recommendation_env", "a2c_policy"),
            kind="mlflow",
            settings="moodtune.policy.config:PolicySettings",
            critical_path=True,
            doc="""A2C vs random, popularity, emotion-match, supervised greedy, greedy-calm, the iso
    heuristic and the planning oracle on held-out listeners of the served catalog, per seed;
    registers the first seed's policy (the one the service ranks with) and gates it.""",
        ),
        ModelSpec(
            TEXT,
            "text",
            "moodtune.text.package",
            "Chinese text -> DLUT emotion vector, and the track index searched by it (docs/text.md).",
            asset="emotion_index",
            attr="text",
            served="ServedText",
            trainer="moodtune.text.train:train_and_register",
            inputs=("emotion_lexicon", "track_text_emotions", "learned_text_tables"),
            kind="python",
            settings="moodtune.text.config:TextSettings",
            doc="""Nearest-neighbour index over the tracks' emotion vectors (and valence-arousal points),
    registered as ``moodtune-text-index`` and promoted through the shared gate on held-out query
    texts (per-query precision@k against the champion re-scored on the same queries). The index
    reads text with the learned text tables, which it carries into the registry; its run logs them.
    Returns the registry pointer (the index itself lives in MLflow, not in DVC).""",
        ),
        ModelSpec(
            FACE,
            "image",
            "moodtune.image.package",
            "Faces in a photo -> FER-7 expressions -> DLUT emotions (docs/image.md).",
            asset="face_model",
            attr="face",
            served="ServedFace",
            trainer="moodtune.image.registration:register_face_model",
            kind="pytorch",
            settings="moodtune.image.config:ImageSettings",
            doc="""The pretrained face-expression model from the ``fer`` package, checked on real bundled
    photos, registered as ``moodtune-face`` and promoted to ``champion`` if it passes the gate.""",
        ),
    )
}


def resolve(path: str) -> Any:
    """What a spec's ``"module:name"`` path (``trainer``, ``settings``) names, imported now."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
