"""An endpoint's answer (a model of :mod:`moodtune.serving.responses`) as JSON, and the answer
of a recommendation before its event is logged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from moodtune.feedback import RecommendationEvent

A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """An uploaded file: the name the client gave (shown, never opened) and its bytes."""

    name: str
    data: bytes


def build(answer: type[A], /, **fields: Any) -> A:
    """An answer from its fields, not validated (``model_construct``: the hot path). Its nested
    parts may be JSON-ready dicts in the nested models' shape (the catalog's profiles are kept so);
    tests validate real answers against the models."""
    return answer.model_construct(**fields)


def fields(answer: BaseModel) -> dict[str, Any]:
    """The fields an answer was built with (``model_construct`` or validation), as given: nested
    models stay models (:func:`dump` writes them the same way)."""
    given = answer.model_fields_set
    return {k: v for k, v in answer.__dict__.items() if k in given}


def _encode(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return fields(value)
    raise TypeError


def dump(answer: BaseModel | dict[str, Any]) -> bytes:
    """An answer as compact JSON (orjson; the standard library for what orjson does not take)."""
    value = fields(answer) if isinstance(answer, BaseModel) else answer
    try:
        return orjson.dumps(value, default=_encode)
    except TypeError:
        return dumps(plain(value)).encode()


def plain(value: Any) -> Any:
    """An answer (or anything holding answer models) as plain JSON-ready Python."""
    if isinstance(value, BaseModel):
        value = fields(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Plan(Generic[A]):
    """A recommendation computed but not yet logged: the answer (its ``recommendation_id`` not
    set) and the event."""

    answer: A
    event: RecommendationEvent | None
    profiles_json: tuple[str, ...] = ()  # answer.tracks[i]["profile"] as JSON text, when known

    def complete(self, recommendation_id: str | None) -> A:
        return self.answer.model_copy(update={"recommendation_id": recommendation_id})

    def json(self, recommendation_id: str | None) -> bytes:
        """The completed answer as compact JSON, reusing the profiles' pre-encoded text."""
        answer = {**fields(self.answer), "recommendation_id": recommendation_id}
        tracks = answer.get("tracks")
        if not tracks or len(self.profiles_json) != len(tracks):
            return dump(answer)
        try:
            return orjson.dumps(
                {
                    **answer,
                    "tracks": [
                        {**t, "profile": orjson.Fragment(pj)}
                        for t, pj in zip(tracks, self.profiles_json, strict=True)
                    ],
                },
                default=_encode,
            )
        except TypeError:  # a value orjson does not take: the general path
            return dump(answer)


def dumps(value: Any) -> str:
    """Compact JSON text (orjson; the standard library for what orjson does not take)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
