"""Why a track suits: the sentence each recommended track carries, cached per catalog track."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moodtune.emotions import GEMS6

MOODS = {1: "sad", 2: "low", 3: "neutral", 4: "good", 5: "happy"}
ADJECTIVES = {"tenderness": "tender", "calmness": "calm", "power": "powerful", "joyful_activation": "joyful",
              "tension": "tense", "sadness": "sad"}


def _pretty(emotion: str) -> str:
    return ADJECTIVES.get(emotion, emotion.replace("_", " "))


class Summaries:
    """A track's strongest emotions, its genre and what its texts say, as a phrase.

    Cached per track of one catalog: a new catalog starts a new cache (the catalog it cached
    for is kept, so its identity is never reused); uploads are computed each time."""

    def __init__(self, top: int):
        self.top = int(top)
        self._cache: dict[str, str] = {}
        self._catalog = None

    def use_catalog(self, catalog) -> None:
        if catalog is not self._catalog:
            self._cache = {}
            self._catalog = catalog

    def __call__(self, profile: Mapping[str, Any]) -> str:
        key = profile["track_id"]
        upload = profile.get("source") == "upload"
        cached = None if upload else self._cache.get(key)
        if cached is not None:
            return cached
        emotions = sorted(GEMS6, key=lambda e: -profile["emotions"][e])[: self.top]
        sound = " and ".join(f"{_pretty(e)} ({profile['emotions'][e]:.2f})" for e in emotions)
        genre = profile["genre"]
        parts = [f"sounds {sound}", f"{genre} ({profile['genres'][genre]:.2f})"]
        text = profile.get("text")
        if text and text.get("top"):
            words = ", ".join(text.get("keywords", [])[:3])
            parts.append(f"its texts read {text.get('top_name') or text['top']}" + (f" ({words})" if words else ""))
        out = "; ".join(parts)
        if not upload:
            self._cache[key] = out
        return out
