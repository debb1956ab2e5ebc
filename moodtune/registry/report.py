"""The one report every train-and-register entry point returns: what a training asset shows and stores.

A :class:`ModelReport` holds the gate's :class:`~moodtune.registry.gate.GateReport` (model name,
version, MLflow run id, the verdict), the plain metadata the asset shows (numbers, text, JSON,
tables as :class:`Markdown` or DataFrames), the asset's stored output (no run id in it: the same
build stores the same bytes for DVC), and ``extra``: domain objects callers use that are
neither shown nor stored (an evaluation, a fitted index). The plots are the PNGs the run logged:
the adapter reads them from the run, so the report does not list them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moodtune.registry.gate import GateReport, PromotionDecision


class Markdown(str):
    """Text shown as markdown (a table the domain rendered, say), not as plain text."""

    __slots__ = ()


@dataclass
class ModelReport:
    """A registered, gated model version: the verdict, what to show, what to store."""

    gate: GateReport
    output: Any  # the training asset's stored value
    metadata: dict[str, Any] = field(default_factory=dict)  # shown beside the gate's own keys
    extra: dict[str, Any] = field(default_factory=dict)  # for callers: neither shown nor stored

    @property
    def name(self) -> str:
        return self.gate.name

    @property
    def version(self) -> str:
        return self.gate.version

    @property
    def run_id(self) -> str | None:
        return self.gate.run_id

    @property
    def decision(self) -> PromotionDecision:
        return self.gate.decision

    @property
    def promoted(self) -> bool:
        return self.gate.promoted

    @property
    def reason(self) -> str:
        return self.gate.reason

    def shown(self) -> dict[str, Any]:
        """Everything the asset shows, plain: the gate's keys, the domain's, the MLflow run id."""
        return {**self.gate.metadata(), **self.metadata, "mlflow_run_id": self.run_id or ""}


__all__ = ["Markdown", "ModelReport"]
