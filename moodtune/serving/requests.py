"""The service's request models: one pydantic model per endpoint, with the bounds in the types.

They are the contract: BentoML builds the OpenAPI schema and validates every request body from
them (the ``bento`` adapter adds the file fields), and the :class:`~moodtune.serving.engine.Engine`
takes the validated objects. Strict: an unknown field is refused and named, numbers are not
parsed from strings, a bool is not a number. The bounds that are settings (``max_k``,
``max_text_chars``, ``max_playlist``, ``max_rr_intervals``, ``default_k``) come from
``params.yaml`` ``service``: they are read once, when this module is imported, from the
process's settings (:func:`moodtune.settings.get_settings`, the same object the service declares
itself with), into :data:`LIMITS`.

Each endpoint is named after its request class (``RecommendTextRequest`` is ``/recommend_text``,
:func:`endpoint_requests`), and the class holds the endpoint's facts besides its fields: a
working example body (:attr:`Request.EXAMPLE`, the docs page's) and whether it writes
(:attr:`Request.WRITES`: rate-limited, and keyed when API keys are set). The ``bento`` adapter
derives its docs and access rules from them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from moodtune.fields import (
    Age,
    ClientKey,
    Gender,
    Mode,
    Mood,
    RecommendationId,
    SamplingRate,
    StressLevel,
    TrackId,
)
from moodtune.serving.config import ServiceSettings
from moodtune.settings import get_settings

Number = Annotated[float, Field(strict=True)]  # an int or a float, never a string or a bool


class Request(BaseModel):
    """Strict: unknown fields are refused (and named in the message)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    EXAMPLE: ClassVar[dict[str, Any] | None] = None  # a JSON body that succeeds (None: files only)
    WRITES: ClassVar[bool] = False  # a write: rate-limited, and keyed when service.api_keys is set

    @classmethod
    def example(cls, track_ids: Sequence[str]) -> dict[str, Any] | None:
        """The docs page's example body, on the serving catalog's ``track_ids`` (where it names tracks)."""
        return copy.deepcopy(cls.EXAMPLE)


class OptionalListener(Request):
    """age and gender together (the recommendation is then logged for feedback) or neither; mood
    is optional: with a text or a photo it joins what they show (one listener state)."""

    age: Age | None = None
    gender: Gender | None = None
    mood: Mood | None = None

    @model_validator(mode="after")
    def _together(self) -> OptionalListener:
        if (self.age is None) != (self.gender is None):
            raise ValueError(
                "give age and gender together (to log the recommendation for feedback; mood is "
                "optional), or neither"
            )
        return self

    @property
    def has_listener(self) -> bool:
        return self.age is not None


class AnalyzeAudioRequest(Request):
    """One audio clip (the file field is added by the HTTP adapter)."""


class ModelsRequest(Request):
    """No fields."""

    EXAMPLE = {}


def check_metric_names(value: Any) -> Any:
    """The keys of ``metrics`` must be the eight metrics (in their documented spelling; the
    reader matches their case, so ``pnn50`` is ``pNN50``), each once: an unknown key is named."""
    from moodtune.hrv.constants import METRIC_COLUMNS

    if not isinstance(value, dict):
        return value
    wanted = {m.lower(): m for m in METRIC_COLUMNS}
    unknown = [k for k in value if not isinstance(k, str) or k.strip().lower() not in wanted]
    if unknown:
        names = ", ".join(_short_key(k) for k in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise ValueError(
            f"metrics has unknown keys {names}; the keys are the eight metrics {', '.join(METRIC_COLUMNS)}"
        )
    seen: dict[str, str] = {}
    for k in value:
        name = wanted[k.strip().lower()]
        if name in seen:
            raise ValueError(f"metrics gives {name} twice ({seen[name]!r} and {k!r}); give each metric once")
        seen[name] = k
    return value


def _short_key(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 60 else text[:60] + "…'"


LIMITS: ServiceSettings = get_settings().service  # the bounds below, read once per process
MAX_K = int(LIMITS.max_k)
DEFAULT_K = int(LIMITS.default_k)
MAX_PLAYLIST = int(LIMITS.max_playlist)
MAX_TEXT = int(LIMITS.max_text_chars)
MAX_RR = int(LIMITS.max_rr_intervals)

K = Annotated[int, Field(strict=True, ge=1, le=MAX_K, description=f"from 1 to {MAX_K} (how many tracks)")]
RR = Annotated[
    list[Number],
    Field(
        description=f"RR intervals in milliseconds (at most {MAX_RR:,})",
        json_schema_extra={"maxItems": MAX_RR},
    ),
]
Metrics = Annotated[
    dict[str, Number],
    Field(description="the eight HRV metrics MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF (numbers)"),
]
StateRR = Annotated[
    list[Number],
    Field(
        description=f"optional: a recent HRV recording, RR intervals in ms (at most {MAX_RR:,}), read into your "
        "state's stress",
        json_schema_extra={"maxItems": MAX_RR},
    ),
]
Playlist = Annotated[
    list[TrackId],
    Field(
        description=f"catalog track ids (at most {MAX_PLAYLIST})",
        json_schema_extra={"maxItems": MAX_PLAYLIST},
    ),
]
Text = Annotated[
    str,
    Field(
        strict=True,
        description=f"a sentence in Chinese (1 to {MAX_TEXT} characters)",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT},
    ),
]


def _count(value: Any, what: str, limit: int, unit: str) -> Any:
    if isinstance(value, list) and len(value) > limit:
        raise ValueError(f"{what} has {len(value):,} {unit}; the limit is {limit:,}")
    return value


class WithState(Request):
    """An optional HRV recording that feeds the listener state (:mod:`moodtune.state`)."""

    rr: StateRR | None = None

    @field_validator("rr", mode="before")
    @classmethod
    def _rr(cls, value: Any) -> Any:
        return _count(value, "rr", MAX_RR, "RR intervals")


class RecommendRequest(WithState):
    """Rank a playlist (catalog ``track_ids`` and/or uploaded audio) for a listener."""

    age: Age
    gender: Gender
    mood: Mood
    track_ids: Playlist | None = None
    k: K = DEFAULT_K

    EXAMPLE = {"age": 30, "gender": "female", "mood": 2, "k": 2}

    @classmethod
    def example(cls, track_ids: Sequence[str]) -> dict[str, Any] | None:
        return {"track_ids": list(track_ids), **cls.EXAMPLE}

    @field_validator("track_ids", mode="before")
    @classmethod
    def _playlist(cls, value: Any) -> Any:
        return _count(value, "the playlist", MAX_PLAYLIST, "tracks")


class RecommendTextRequest(OptionalListener, WithState):
    """Tracks for a Chinese text: toward calm from the state it shows (or matching it)."""

    text: Text
    k: K = DEFAULT_K
    mode: Mode = "calm"

    EXAMPLE = {"text": "想念你，好难过", "k": 5}

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty: write a sentence (in Chinese) about how you feel")
        if len(value) > MAX_TEXT:
            raise ValueError(f"text has {len(value)} characters; keep it to {MAX_TEXT}")
        return value


class RecommendImageRequest(OptionalListener):
    """Tracks for a photo (the file field is added by the HTTP adapter): toward calm from the
    state it shows (or matching it)."""

    k: K = DEFAULT_K
    mode: Mode = "calm"


class AnalyzeHrvRequest(Request):
    """HRV from exactly one of ``rr``, ``metrics`` or an uploaded file."""

    rr: RR | None = None
    metrics: Metrics | None = None
    sampling_rate: SamplingRate | None = None

    EXAMPLE = {
        "metrics": {
            "MEAN_RR": 850.0,
            "SDRR": 55.0,
            "HR": 70.5,
            "RMSSD": 38.0,
            "pNN50": 18.0,
            "VLF": 900.0,
            "LF": 700.0,
            "HF": 650.0,
        }
    }

    @field_validator("rr", mode="before")
    @classmethod
    def _rr(cls, value: Any) -> Any:
        return _count(value, "rr", MAX_RR, "RR intervals")

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return check_metric_names(value)


class FeedbackRequest(AnalyzeHrvRequest):
    """How a listener responded to a recommended track: HRV or a stated stress level."""

    recommendation_id: RecommendationId
    track_id: TrackId
    stress_level: StressLevel | None = None
    client_key: ClientKey | None = None

    EXAMPLE = {
        "recommendation_id": "<the recommendation_id a /recommend answer gave>",
        "track_id": "<one of its track ids>",
        "stress_level": "low",
    }
    WRITES = True

    @classmethod
    def example(cls, track_ids: Sequence[str]) -> dict[str, Any] | None:
        return {**cls.EXAMPLE, **({"track_id": track_ids[0]} if track_ids else {})}


def endpoint_requests() -> dict[str, type[Request]]:
    """Each endpoint's request class by the endpoint's name: every ``<Name>Request`` class of this
    module, ``RecommendTextRequest`` for ``recommend_text``."""
    found: dict[str, type[Request]] = {}
    todo: list[type[Request]] = [Request]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__ == __name__ and sub.__name__.endswith("Request"):
                found[re.sub(r"(?<!^)(?=[A-Z])", "_", sub.__name__.removesuffix("Request")).lower()] = sub
    return dict(sorted(found.items()))
