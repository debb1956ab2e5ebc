"""MLflow tracking, the model registry, the one loader and the promotion gate.

Aliases, not stages: ``champion`` serves, a new version is ``challenger`` until the gate
(:func:`register_and_gate`) decides. Load any registered model with :func:`load`.

The model names (:mod:`moodtune.registry.names`) are imported at once; everything else on
first use (PEP 562), so that a domain module reading its model's name loads no MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodtune.lazy import lazy_names
from moodtune.registry.names import (
    AUDIO,
    CATALOG,
    FACE,
    HRV,
    MODEL_NAMES,
    MODELS,
    POLICY,
    SHADOW,
    TEXT,
    ModelSpec,
    how_to_build,
)

if TYPE_CHECKING:
    from moodtune.registry.gate import (
        Candidate,
        Evaluation,
        GateReport,
        PromotionDecision,
        paired_bootstrap_ci,
        promote,
        register_and_gate,
    )
    from moodtune.registry.loader import Loaded, load, load_dir, load_version
    from moodtune.registry.notes import append_note, rounded, tag_value
    from moodtune.registry.report import Markdown, ModelReport
    from moodtune.registry.tracking import (
        configure,
        dagster_run_url,
        flatten,
        log_dataframe,
        log_figure,
        log_json,
        log_metrics,
        log_params,
        log_text,
        mlflow_experiment_url,
        mlflow_run_url,
        start_run,
        store_token,
    )
    from moodtune.registry.versions import (
        SCORE_TAG,
        champion,
        champion_uri,
        champion_versions,
        get_alias,
        register,
        require_alias,
        resolve,
        serving_versions,
        version_score,
    )

_LAZY = {
    **dict.fromkeys(
        (
            "Candidate",
            "Evaluation",
            "GateReport",
            "PromotionDecision",
            "paired_bootstrap_ci",
            "promote",
            "register_and_gate",
        ),
        "moodtune.registry.gate",
    ),
    **dict.fromkeys(("Loaded", "load", "load_dir", "load_version"), "moodtune.registry.loader"),
    **dict.fromkeys(("append_note", "rounded", "tag_value"), "moodtune.registry.notes"),
    **dict.fromkeys(("Markdown", "ModelReport"), "moodtune.registry.report"),
    **dict.fromkeys(
        (
            "configure",
            "dagster_run_url",
            "flatten",
            "log_dataframe",
            "log_figure",
            "log_json",
            "log_metrics",
            "log_params",
            "log_text",
            "mlflow_experiment_url",
            "mlflow_run_url",
            "start_run",
            "store_token",
        ),
        "moodtune.registry.tracking",
    ),
    **dict.fromkeys(
        (
            "SCORE_TAG",
            "champion",
            "champion_uri",
            "champion_versions",
            "get_alias",
            "register",
            "require_alias",
            "resolve",
            "serving_versions",
            "version_score",
        ),
        "moodtune.registry.versions",
    ),
}

__all__ = [
    "AUDIO",
    "CATALOG",
    "FACE",
    "HRV",
    "MODEL_NAMES",
    "MODELS",
    "POLICY",
    "SCORE_TAG",
    "SHADOW",
    "TEXT",
    "Candidate",
    "Evaluation",
    "GateReport",
    "Loaded",
    "Markdown",
    "ModelReport",
    "ModelSpec",
    "PromotionDecision",
    "append_note",
    "champion",
    "champion_uri",
    "champion_versions",
    "configure",
    "dagster_run_url",
    "mlflow_experiment_url",
    "mlflow_run_url",
    "flatten",
    "get_alias",
    "how_to_build",
    "load",
    "load_dir",
    "load_version",
    "log_dataframe",
    "log_figure",
    "log_json",
    "log_metrics",
    "log_params",
    "log_text",
    "paired_bootstrap_ci",
    "promote",
    "register",
    "register_and_gate",
    "require_alias",
    "resolve",
    "rounded",
    "serving_versions",
    "start_run",
    "store_token",
    "tag_value",
    "version_score",
]

__getattr__ = lazy_names(__name__, _LAZY)
