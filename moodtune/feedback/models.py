"""The records the feedback store takes, as pydantic models: what the old hand-written
validators checked, now in types (:mod:`moodtune.fields`) and a few validators.

A bad record is :class:`~moodtune.errors.InvalidFeedback` (422) with a message that says what
to fix; nothing is written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from moodtune.errors import InvalidFeedback
from moodtune.feedback.schema import FEEDBACK_SOURCES, HRV_METRICS, RECOMMENDATION_SOURCES
from moodtune.fields import Age, ClientKey, Gender, Mood, RecommendationId, StressLevel, TrackId, describe
from moodtune.hrv.constants import LEVELS

CANDIDATE_KEYS = ("track_id", "features", "score", "probability", "shadow_probability")
# Metric names accepted case-insensitively, plus seed A's name for SDRR.
METRIC_NAMES = {name.lower(): name for name in HRV_METRICS} | {"sdnn": "SDRR"}
_PROBABILITY_NAMES = {
    "low": "p_low",
    "medium": "p_medium",
    "high": "p_high",
    "p_low": "p_low",
    "p_medium": "p_medium",
    "p_high": "p_high",
}


def one_of(what: str, choices: tuple[str, ...], optional: bool = False):
    """A before-validator: the value, stripped and lower-cased, must be one of ``choices``
    (``None`` passes when ``optional``); the message names ``what`` and the choices."""

    def check(cls, value: Any) -> Any:
        if value is None and optional:
            return None
        name = value.strip().lower() if isinstance(value, str) else value
        if name not in choices:
            raise ValueError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
        return name

    return classmethod(check)


class Record(BaseModel):
    """A validated record: construction raises :class:`InvalidFeedback`, not pydantic's error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidFeedback(describe(exc, type(self))) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool | str) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{name} must be {bounds}; got {value!r}")
    return float(value)


class Candidate(BaseModel):
    """A track the recommendation chose from: the features the policy saw, its score and the
    logged probability of choosing it."""

    model_config = ConfigDict(frozen=True)

    track_id: TrackId
    features: dict[str, Any] = Field(default_factory=dict)
    score: Any = None
    probability: Any = None
    # the probability that the challenger running in shadow would have served it first
    shadow_probability: Any = None

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, raw: Any) -> Any:
        if isinstance(raw, Candidate):
            return raw
        if not isinstance(raw, Mapping):
            raise ValueError(f"a candidate must be a mapping with {', '.join(CANDIDATE_KEYS)}; got {raw!r}")
        unknown = sorted(set(raw) - set(CANDIDATE_KEYS))
        if unknown:
            raise ValueError(f"candidate has unknown keys {unknown}; allowed: {', '.join(CANDIDATE_KEYS)}")
        if "track_id" not in raw:
            raise ValueError("a candidate has no track_id")
        return {**raw, "features": raw.get("features") or {}}

    @model_validator(mode="after")
    def _finite(self) -> Candidate:
        name = f"candidate {self.track_id!r}"
        for key in ("score", "probability", "shadow_probability"):
            value = getattr(self, key)
            if value is not None and not _is_number(value):
                raise ValueError(
                    f"{name} has a non-finite {key}"
                    if isinstance(value, float)
                    else f"{name} has a non-numeric {key}: {value!r}"
                )
        for key in ("probability", "shadow_probability"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name}: {key} must be between 0 and 1; got {value!r}")
        if not all(_is_number(v) for v in self.features.values()):
            raise ValueError(f"{name} has non-numeric or non-finite features")
        return self

    def __getitem__(self, key: str) -> Any:  # read like the mapping it was given as
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def row(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "features": {str(k): float(v) for k, v in self.features.items()},
            "score": None if self.score is None else float(self.score),
            "probability": None if self.probability is None else float(self.probability),
            **(
                {}
                if self.shadow_probability is None
                else {"shadow_probability": float(self.shadow_probability)}
            ),
        }


class RecommendationEvent(Record):
    """A recommendation to log: for whom, every candidate, the chosen tracks, the versions.

    ``chosen`` defaults to the first ``k`` candidates; ``k`` to ``len(chosen)``.
    ``candidates_json`` (optional, not validated) is ``json.dumps`` of the candidates' rows when
    the caller already has it (the engine assembles it from pre-encoded catalog features)."""

    source: Literal[RECOMMENDATION_SOURCES]  # type: ignore[valid-type]
    age: Age
    gender: Gender
    mood: Mood
    candidates: list[Candidate]
    chosen: list[TrackId] | None = None
    k: Annotated[int, Field(strict=True)] | None = None
    model_versions: dict[str, Any] = Field(default_factory=dict)
    _candidates_json: str | None = PrivateAttr(default=None)

    def __init__(self, candidates_json: str | None = None, **data: Any) -> None:
        super().__init__(**data)
        self._candidates_json = candidates_json

    @property
    def candidates_json(self) -> str | None:
        return self._candidates_json

    _source = field_validator("source", mode="before")(one_of("source", RECOMMENDATION_SOURCES))

    @field_validator("candidates", mode="before")
    @classmethod
    def _candidate_list(cls, value: Any) -> Any:
        if isinstance(value, Mapping | str) or not isinstance(value, Iterable):
            raise ValueError("candidates must be a list of {track_id, features, score, probability}")
        value = list(value)
        if not value:
            raise ValueError("candidates must not be empty: log the tracks the recommendation chose from")
        return value

    @field_validator("model_versions", mode="before")
    @classmethod
    def _versions(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError(f"model_versions must map model names to versions; got {value!r}")
        return {str(k): str(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _choice(self) -> RecommendationEvent:
        ids = [c.track_id for c in self.candidates]
        seen: set[str] = set()
        for i, t in enumerate(ids):
            if t in seen:
                raise ValueError(f"candidates[{i}]: track {t!r} is listed twice among the candidates")
            seen.add(t)
        n = len(ids)
        if self.chosen is None:
            if self.k is None:
                raise ValueError("give the chosen track ids or k (the first k candidates are chosen)")
            if not 1 <= self.k <= n:
                raise ValueError(
                    f"k must be a whole number from 1 to {n} (there are {n} candidates); got {self.k!r}"
                )
            object.__setattr__(self, "chosen", ids[: self.k])
            return self
        missing = [t for t in self.chosen if t not in seen]
        if missing:
            raise ValueError(f"chosen tracks {missing} are not among the candidates")
        if len(set(self.chosen)) != len(self.chosen):
            raise ValueError(f"chosen lists a track twice: {self.chosen}")
        if not self.chosen:
            raise ValueError("chosen must name at least one track")
        if self.k is None:
            object.__setattr__(self, "k", len(self.chosen))
        elif not len(self.chosen) <= self.k <= 10**6:
            raise ValueError(
                f"k must be at least the number of chosen tracks ({len(self.chosen)}); got {self.k!r}"
            )
        return self

    def candidate_rows(self) -> list[dict[str, Any]]:
        return [c.row() for c in self.candidates]


class FeedbackInput(Record):
    """A listener's response to one recommended track (before the store looks up the
    recommendation): the stress level, how it was obtained, the HRV behind it."""

    recommendation_id: RecommendationId
    track_id: TrackId
    stress_level: StressLevel
    reward: Any = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    probabilities: dict[str, Any] | None = None
    source: Literal[FEEDBACK_SOURCES] | None = None  # type: ignore[valid-type]
    model_versions: dict[str, Any] = Field(default_factory=dict)
    client_key: ClientKey | None = None
    baseline: dict[str, Any] = Field(
        default_factory=dict
    )  # the resting baseline's metrics the HRV was read against

    _versions = field_validator("model_versions", mode="before")(RecommendationEvent._versions.__func__)  # type: ignore[attr-defined]  # a bound classmethod has __func__

    _level = field_validator("stress_level", mode="before")(one_of("stress level", LEVELS))
    _source = field_validator("source", mode="before")(
        one_of("feedback source", FEEDBACK_SOURCES, optional=True)
    )

    @field_validator("reward", mode="before")
    @classmethod
    def _reward(cls, value: Any) -> Any:
        return None if value is None else _number(value, "reward")

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return _metric_map(value, "metrics", "HRV metric")

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline(cls, value: Any) -> Any:
        return _metric_map(value, "baseline", "baseline HRV metric")

    @field_validator("probabilities", mode="before")
    @classmethod
    def _probabilities(cls, value: Any) -> Any:
        if value is None:
            return None
        if hasattr(value, "items"):
            items = {}
            for key, raw in value.items():
                column = _PROBABILITY_NAMES.get(str(key).strip().lower())
                if column is None:
                    raise ValueError(f"stress probabilities must be keyed low/medium/high; got key {key!r}")
                items[column] = raw
        elif isinstance(value, list | tuple) and len(value) == 3:
            items = dict(zip(("p_low", "p_medium", "p_high"), value, strict=True))
        else:
            raise ValueError(
                f"stress probabilities must be {{low, medium, high}} or 3 numbers; got {value!r}"
            )
        if set(items) != {"p_low", "p_medium", "p_high"}:
            raise ValueError(f"stress probabilities need low, medium and high; got {sorted(items)}")
        out = {k: _number(v, f"stress probability {k[2:]}", 0.0, 1.0) for k, v in items.items()}
        if abs(sum(out.values()) - 1.0) > 1e-3:
            raise ValueError(f"stress probabilities must sum to 1; got {sum(out.values()):.4f}")
        return out

    @model_validator(mode="after")
    def _source_needs_metrics(self) -> FeedbackInput:
        if self.source is None:
            object.__setattr__(self, "source", "metrics" if self.metrics else "explicit")
        if self.source in ("rr", "metrics") and not self.metrics:
            raise ValueError(f"feedback from {self.source!r} needs the HRV metrics it was computed from")
        if self.baseline and not self.metrics:
            raise ValueError(
                "a baseline goes with HRV feedback: give the metrics (or RR intervals) read against it, "
                "or leave the baseline out with an explicit stress level"
            )
        return self


def _metric_map(value: Any, field: str, what: str) -> dict[str, float]:
    """HRV metrics by name (case-insensitive, ``SDNN`` as ``SDRR``), each a finite number >= 0."""
    if value is None:
        return {}
    if not hasattr(value, "items"):
        raise ValueError(f"{field} must map HRV metric names ({', '.join(HRV_METRICS)}) to numbers")
    out: dict[str, float] = {}
    for key, raw in value.items():
        name = METRIC_NAMES.get(str(key).strip().lower())
        if name is None:
            raise ValueError(f"unknown {what} {key!r}; expected some of {', '.join(HRV_METRICS)}")
        if raw is not None:
            out[name] = _number(raw, f"{what} {name}", low=0.0)
    return out


def cursor(value: Any, name: str = "cursor") -> int:
    """A feedback id used as a cursor (0 means from the start)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
        if not (isinstance(value, float) and value.is_integer() and 0 <= value <= 2**63 - 1):
            raise InvalidFeedback(
                f"{name} must be a whole number from 0 to {2**63 - 1} "
                f"(a feedback id; 0 means from the start); got {value!r}"
            )
    return int(value)
