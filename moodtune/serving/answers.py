"""An endpoint's answer before its recommendation event is logged, and its JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from moodtune.feedback import RecommendationEvent


@dataclass(frozen=True)
class Upload:
    """An uploaded file: the name the client gave (shown, never opened) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Plan:
    """A recommendation computed but not yet logged: the answer minus its id, and the event."""

    answer: dict[str, Any]
    event: RecommendationEvent | None
    profiles_json: tuple[str, ...] = ()  # answer["tracks"][i]["profile"] as JSON text, when known

    def complete(self, recommendation_id: str | None) -> dict[str, Any]:
        return {**self.answer, "recommendation_id": recommendation_id}

    def json(self, recommendation_id: str | None) -> bytes:
        """The completed answer as compact JSON, reusing the profiles' pre-encoded text."""
        tracks = self.answer.get("tracks")
        if not tracks or len(self.profiles_json) != len(tracks):
            return dumps(self.complete(recommendation_id)).encode()
        try:
            return orjson.dumps(
                {
                    **self.answer,
                    "recommendation_id": recommendation_id,
                    "tracks": [
                        {**t, "profile": orjson.Fragment(pj)}
                        for t, pj in zip(tracks, self.profiles_json, strict=True)
                    ],
                }
            )
        except TypeError:  # a value orjson does not take: the general path
            return dumps(self.complete(recommendation_id)).encode()


def dumps(value: Any) -> str:
    """Compact JSON text (orjson; the standard library for what orjson does not take)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
