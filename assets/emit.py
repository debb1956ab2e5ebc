"""What a training asset shows: one :class:`~moodtune.registry.report.ModelReport` as Dagster metadata
and the gate's check, both from the same report in the same step.

Every gated asset declares its check on itself (:func:`gate_check_spec`:
``<asset>_challenger_promoted``) and ends with ``yield from emit(context, report, settings)``:
the stored output with the report's metadata (the gate's keys, the domain's, the MLflow run
as a link and the plots its run logged, :mod:`assets.plots`), then the check's result. The check
passes when the gate promoted the challenger (or found no champion to beat) and fails, with the
verdict and both scores in its metadata, when it refused; its severity is
``dagster.gate_check_severity`` in params.yaml (WARN: amber, the run goes on; ERROR: red).

:func:`dagster_metadata` turns plain metadata into Dagster metadata: numbers as numbers (rounded
to 4 digits), ``*_url`` as clickable links, tables (:class:`~moodtune.registry.report.Markdown`,
DataFrames) as markdown, dicts and lists as JSON, the MLflow run as a link.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue, Output

from assets.plots import run_plots
from assets.resources import mlflow_run_link
from moodtune.registry.report import Markdown, ModelReport
from moodtune.settings import Settings

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


def dagster_metadata(meta: Mapping[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Plain metadata (e.g. ``ModelReport.shown()``) as Dagster metadata: finite numbers rounded
    to 4 digits (NaN/inf and ``None`` become text), bools stay bools, :class:`Markdown` and
    DataFrames become markdown, keys ending in ``_url`` become links, dicts and lists JSON, and
    ``mlflow_run_id`` gains ``mlflow_run_url`` (a link to the run) when ``settings`` are given."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, MetadataValue):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = MetadataValue.bool(value)
        elif isinstance(value, numbers.Integral):
            out[key] = MetadataValue.int(int(value))
        elif isinstance(value, numbers.Real):
            number = float(value)
            out[key] = (
                MetadataValue.float(round(number, 4))
                if math.isfinite(number)
                else MetadataValue.text(str(number))
            )
        elif isinstance(value, Markdown):
            out[key] = MetadataValue.md(str(value))
        elif isinstance(value, pd.DataFrame):
            out[key] = MetadataValue.md(value.to_markdown(index=False))
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


def check_name(asset: str) -> str:
    return f"{asset}_challenger_promoted"


def gate_check_spec(asset: str) -> AssetCheckSpec:
    """The gate's check, declared on the asset that registers and gates a version."""
    return AssetCheckSpec(
        name=check_name(asset),
        asset=asset,
        description=f"the gate promoted {asset}'s challenger (fails, with the "
        "verdict and both scores, when the challenger was refused)",
    )


def gate_check_result(asset: str, report: ModelReport, settings: Settings) -> AssetCheckResult:
    """The check's result for ``report``: passed when promoted, with the verdict as metadata."""
    shown = report.shown()
    verdict = {k: shown[k] for k in VERDICT_KEYS if k in shown}
    if shown["mlflow_run_id"]:
        verdict["mlflow_run_id"] = shown["mlflow_run_id"]
    reason = report.reason
    if not reason.startswith(("promoted", "refused")):
        reason = ("promoted: " if report.promoted else "refused: ") + reason
    return AssetCheckResult(
        asset_key=asset,
        check_name=check_name(asset),
        passed=report.promoted,
        severity=AssetCheckSeverity[settings.dagster.gate_check_severity],
        description=reason,
        metadata=dagster_metadata(verdict, settings),
    )


def emit(context, report: ModelReport, settings: Settings) -> Iterator[Output | AssetCheckResult]:
    """The report's output with its metadata (links and plots of its MLflow run), then its gate check."""
    asset = context.asset_key.to_user_string()
    context.log.info(f"{report.name} v{report.version}: {report.decision.verdict} ({report.reason})")
    metadata = dagster_metadata(report.shown(), settings)
    if report.run_id:
        url = metadata.get("mlflow_run_url")
        metadata.update(run_plots(report.run_id, settings, url.value if url is not None else None))
    yield Output(report.output, metadata=metadata)
    yield gate_check_result(asset, report, settings)


__all__ = ["VERDICT_KEYS", "dagster_metadata", "emit", "gate_check_result", "gate_check_spec"]
