"""What the feedback store hands back: a logged recommendation, a feedback row, a window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from moodtune.feedback.schema import HRV_BASELINE_COLUMNS, HRV_METRICS


@dataclass(frozen=True)
class Recommendation:
    """A logged recommendation event."""

    id: str
    created_at: datetime
    source: str
    age: int
    gender: str
    mood: int
    k: int
    model_versions: dict[str, str]
    candidates: list[dict[str, Any]]
    chosen: list[str]

    def candidate(self, track_id: str) -> dict[str, Any] | None:
        """The candidate entry for ``track_id`` (``None`` when it was not a candidate)."""
        return next((c for c in self.candidates if c["track_id"] == str(track_id)), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeedbackRow:
    """A stored feedback row; ``id`` is its position in the feedback log (the sensor's cursor)."""

    id: int
    recommendation_id: str
    track_id: str
    created_at: datetime
    source: str
    stress_level: str
    reward: float
    choice_probability: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    probabilities: dict[str, float] | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    client_key: str | None = None
    # the listener's resting baseline (eight metrics) the HRV was read against; None without one
    baseline: dict[str, float | None] | None = None
    # True when this call found the row an earlier call with the same client_key stored
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The row's fields, each mapping copied. Its mappings hold only numbers and text, so a
        copy of each is all :func:`dataclasses.asdict`'s deep copy gives, at a thirtieth of its
        cost (it was about 0.1 ms of every ``/feedback`` answer)."""
        return {f.name: _copied(getattr(self, f.name)) for f in fields(self)}


def _copied(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class FeedbackWindow:
    """The feedback rows ``cursor_from < id <= cursor_to``: what a retraining run used."""

    cursor_from: int
    cursor_to: int | None
    count: int
    first_id: int | None
    last_id: int | None
    first_at: datetime | None
    last_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (timestamps as ISO 8601), e.g. for ``mlflow.log_dict``."""
        out = asdict(self)
        for key in ("first_at", "last_at"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


def feedback_row(row: Mapping[str, Any]) -> FeedbackRow:
    """A :class:`FeedbackRow` from a ``feedback`` table row (a mapping of its columns)."""
    probs = None
    if row["p_low"] is not None:
        probs = {"low": row["p_low"], "medium": row["p_medium"], "high": row["p_high"]}
    baseline = {name: row.get(column) for name, column in zip(HRV_METRICS, HRV_BASELINE_COLUMNS, strict=True)}
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return FeedbackRow(
        id=int(row["id"]),
        recommendation_id=row["recommendation_id"],
        track_id=row["track_id"],
        created_at=created,
        source=row["source"],
        stress_level=row["stress_level"],
        reward=float(row["reward"]),
        choice_probability=row["choice_probability"],
        metrics={name: row[name] for name in HRV_METRICS},
        probabilities=probs,
        model_versions=dict(row["model_versions"] or {}),
        client_key=row.get("client_key"),
        baseline=baseline if any(v is not None for v in baseline.values()) else None,
    )
