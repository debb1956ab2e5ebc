"""The field types every request and record shares, with their bounds, and how a validation
error reads.

One rule set: the service's request models (:mod:`moodtune.serving.requests`), the feedback
store's records (:mod:`moodtune.feedback.models`) and the OpenAPI schema all take their
bounds from these types. Numbers are strict (``"3"`` is not a mood; a bool is not a
number); each field's ``description`` is the rule a message quotes (``mood must be <rule>``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast, get_args, get_origin

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo

from moodtune.hrv.constants import LEVELS

MAX_TRACK_ID = 200  # = moodtune.feedback.schema.TRACK_ID_LENGTH
CLIENT_KEY_PATTERN = r"^[A-Za-z0-9\-_.:]{8,64}$"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Age = Annotated[
    int, Field(strict=True, ge=5, le=120, description="between 5 and 120 (whole years)", examples=[30])
]
Mood = Annotated[
    int, Field(strict=True, ge=1, le=5, description="a whole number from 1 (sad) to 5 (happy)", examples=[3])
]
Mode = Annotated[
    Literal["calm", "match"],
    Field(
        description="'calm' (default): the policy ranks the catalog from your state toward calm; 'match': the songs "
        "whose emotion is nearest yours (match my mood)",
        examples=["calm"],
    ),
]
Gender = Annotated[
    Literal["female", "male"], Field(description="'female' or 'male' (lower case)", examples=["female"])
]
TrackId = Annotated[
    str,
    BeforeValidator(_strip),
    Field(
        strict=True,
        min_length=1,
        max_length=MAX_TRACK_ID,
        description=f"a catalog track id (1 to {MAX_TRACK_ID} characters)",
    ),
]
StressLevel = Annotated[Literal[LEVELS], Field(description="one of 'low', 'medium', 'high' (lower case)")]  # type: ignore[valid-type]
ClientKey = Annotated[
    str,
    Field(
        strict=True,
        pattern=CLIENT_KEY_PATTERN,
        description="8 to 64 characters of letters, digits and - _ . : (a fresh one per feedback, e.g. a UUID, "
        "reused only to retry it)",
    ),
]
SamplingRate = Annotated[
    float,
    Field(
        strict=True,
        ge=1,
        le=100_000,
        allow_inf_nan=False,
        examples=[250.0],
        description="a number of samples per second (Hz, 1 to 100000) of an uploaded raw ECG/PPG file that has no "
        "time column nor '# sampling_rate:' line",
    ),
]
RecommendationId = Annotated[
    str,
    BeforeValidator(_strip),
    Field(
        strict=True,
        min_length=1,
        max_length=200,
        description="the recommendation_id a recommend call returned",
    ),
]


def bounds(kind: Any) -> tuple[float, float]:
    """The ``ge``/``le`` bounds of an annotated number type (``bounds(Age) == (5, 120)``), for
    code that checks the same rule outside a pydantic model."""
    import annotated_types

    low = high = None
    for meta in get_args(kind)[1:]:
        for m in getattr(meta, "metadata", ()):
            if isinstance(m, annotated_types.Ge):
                low = m.ge
            elif isinstance(m, annotated_types.Le):
                high = m.le
    if low is None or high is None:
        raise TypeError(f"{kind} has no ge/le bounds")
    return cast(float, low), cast(float, high)  # a number type's bounds


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def rule(info: FieldInfo | None) -> str | None:
    """A field's rule: its description, or that of the type inside ``X | None``."""
    if info is None:
        return None
    if info.description:
        return info.description
    for arg in get_args(info.annotation):
        if get_origin(arg) is Annotated:
            for meta in get_args(arg)[1:]:
                if isinstance(meta, FieldInfo) and meta.description:
                    return meta.description
    return None


def describe(exc: ValidationError, model: type | None = None) -> str:
    """One message for a person from a pydantic error: each problem with the rule it broke.

    ``model``: the model validated, to name its fields when one is unknown or missing."""
    fields = getattr(model, "model_fields", {}) if model is not None else {}
    parts = []
    for err in exc.errors(include_url=False):
        loc, kind = tuple(err["loc"]), err["type"]
        where = _where(loc) or "the request"
        text = rule(fields.get(loc[0])) if len(loc) == 1 else None
        if kind == "value_error":
            parts.append(str(err["ctx"]["error"]))
        elif kind == "extra_forbidden":
            known = ", ".join(fields) if fields else "see the API schema"
            parts.append(f"unknown field {where!r} (the fields are: {known})")
        elif kind == "missing":
            parts.append(f"{where} is required" + (f": {text}" if text else ""))
        elif text:
            parts.append(f"{where} must be {text}; got {_short(err.get('input'))} ({err['msg']})")
        else:
            parts.append(f"{where}: {err['msg']}; got {_short(err.get('input'))}")
    return "; ".join(parts)
