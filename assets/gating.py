"""Asset checks on the promotion gate: red (or amber) in Dagster when a challenger was refused.

Every training asset gates its challenger through :func:`moodtune.registry.register_and_gate`
and puts the report's :meth:`~moodtune.registry.GateReport.metadata` (``promoted``,
``gate_reason``, ``gate_metric``, ``candidate_score``, ``champion_score``, ``version``, ...) on
its materialization. :func:`gate_check` builds, for any such asset, a check that reads that
metadata back from the latest materialization (the outputs differ: a dict, a pointer, a table;
the gate's metadata is the one shape they share) and fails when the challenger was refused,
with the verdict and both scores in the check's metadata. Its severity is
``dagster.gate_check_severity`` in params.yaml (WARN: amber, the run goes on; ERROR: red).

:func:`dagster_metadata` turns a report's plain metadata into Dagster metadata: numbers as
numbers (rounded to 4 digits), ``*_url`` as clickable links, the MLflow run as a link.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets.resources import SettingsResource, mlflow_run_link
from moodtune.registry.names import GATED_ASSETS  # the assets whose materialization carries a gate report

VERDICT_KEYS = (
    "model",
    "version",
    "promoted",
    "gate_reason",
    "gate_metric",
    "candidate_score",
    "champion_version",
    "champion_score",
    "difference_ci_low",
    "difference_ci_high",
    "rescore_error",
)


def dagster_metadata(meta: Mapping[str, Any], settings=None) -> dict[str, Any]:
    """Plain metadata (e.g. ``GateReport.metadata()``) as Dagster metadata: finite numbers
    rounded to 4 digits (NaN/inf and ``None`` become text), bools stay bools, keys ending in
    ``_url`` become links, and ``mlflow_run_id`` gains ``mlflow_run_url`` (a link to the run)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, MetadataValue):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = MetadataValue.bool(value)
        elif isinstance(value, int):
            out[key] = MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = (
                MetadataValue.float(round(value, 4))
                if math.isfinite(value)
                else MetadataValue.text(str(value))
            )
        elif key.endswith("_url") and isinstance(value, str) and value:
            out[key] = MetadataValue.url(value)
        elif isinstance(value, (dict, list, tuple)):
            out[key] = MetadataValue.json(value)
        else:
            out[key] = MetadataValue.text("" if value is None else str(value))
    run_id = meta.get("mlflow_run_id") or meta.get("run_id")
    if run_id and "mlflow_run_url" not in out and settings is not None:
        url = mlflow_run_link(str(run_id), settings)
        if url:
            out["mlflow_run_url"] = MetadataValue.url(url)
    return out


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)  # a stored MetadataValue -> its value


def gate_verdict(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The gate's keys of a materialization's metadata; ``None`` when it holds no verdict."""
    plain = {k: _plain(v) for k, v in metadata.items()}
    if "promoted" not in plain:
        return None
    verdict = {k: plain[k] for k in VERDICT_KEYS if k in plain}
    for key in ("mlflow_run_id", "mlflow_run_url"):
        if plain.get(key):
            verdict[key] = plain[key]
    return verdict


def gate_check(asset_name: str, *, description: str | None = None):
    """An asset check on ``asset_name``: passes when its gate promoted the challenger (or found
    no champion to beat and promoted it), fails with the configured severity when it refused."""

    @asset_check(
        asset=AssetKey(asset_name),
        name=f"{asset_name}_challenger_promoted",
        description=description
        or f"the gate promoted {asset_name}'s challenger (fails, with the "
        "verdict and both scores, when the challenger was refused)",
    )
    def _check(context, settings: SettingsResource) -> AssetCheckResult:
        s = settings.get()
        severity = AssetCheckSeverity[s.dagster.gate_check_severity]
        event = context.instance.get_latest_materialization_event(AssetKey(asset_name))
        materialization = event.asset_materialization if event is not None else None
        verdict = gate_verdict(materialization.metadata if materialization is not None else {})
        if verdict is None:
            return AssetCheckResult(
                passed=False,
                severity=severity,
                description="no gate verdict on the latest materialization (materialize the asset first)",
            )
        promoted = bool(verdict["promoted"])
        reason = str(verdict.get("gate_reason", ""))
        if not reason.startswith(("promoted", "refused")):
            reason = ("promoted: " if promoted else "refused: ") + reason
        return AssetCheckResult(
            passed=promoted, severity=severity, description=reason, metadata=dagster_metadata(verdict, s)
        )

    return _check


gate_checks = [gate_check(name) for name in GATED_ASSETS]

__all__ = ["GATED_ASSETS", "dagster_metadata", "gate_check", "gate_checks", "gate_verdict"]
