"""The ``image`` group: the face model (Haar cascade + FER-2013 mini-Xception) in the registry.

Its training asset, ``face_model``, is built from its spec (:mod:`assets.training`); its floor
check is here.
"""

from __future__ import annotations

from dagster import AssetCheckResult, MetadataValue, asset_check

from assets.resources import SettingsResource


@asset_check(asset="face_model", description="the face model's sanity scores meet the floors in params.yaml")
def face_model_meets_floors(face_model: dict, settings: SettingsResource) -> AssetCheckResult:
    floors = settings.get().image.gate_floors
    scores = face_model["scores"]
    failed = {m: scores.get(m) for m, floor in floors.items() if not scores.get(m, float("nan")) >= floor}
    return AssetCheckResult(
        passed=not failed,
        metadata={"scores": MetadataValue.json(scores), "failed": MetadataValue.json(failed)},
    )
