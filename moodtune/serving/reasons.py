"""Why a track suits: the sentence each recommended track carries, cached per catalog track."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moodtune.emotions import GEMS6

MOODS = {1: "sad", 2: "low", 3: "neutral", 4: "good", 5: "happy"}
# A reason names an emotion only when its strength reads at least 0.01 at two decimals: the page
# and the API show strengths that way, so a weaker one would be named with "0.00" beside it.
MIN_NAMED_STRENGTH = 0.005
ADJECTIVES = {
    "tenderness": "tender",
    "calmness": "calm",
    "power": "powerful",
    "joyful_activation": "joyful",
    "tension": "tense",
    "sadness": "sad",
}


def named_emotions(top: Sequence[Mapping[str, Any]], n: int) -> list[str]:
    """The names of the first ``n`` of ``top`` (``{"name", "strength"}`` rows, strongest first):
    the strongest always, the others only when they read above 0.00 (:data:`MIN_NAMED_STRENGTH`)."""
    return [t["name"] for i, t in enumerate(top) if i == 0 or t["strength"] >= MIN_NAMED_STRENGTH][:n]


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
        ranked = sorted(GEMS6, key=lambda e: -profile["emotions"][e])
        # the strongest always; the next ones only when they read above 0.00
        emotions = ranked[:1] + [
            e for e in ranked[1 : self.top] if profile["emotions"][e] >= MIN_NAMED_STRENGTH
        ]
        sound = " and ".join(f"{_pretty(e)} ({profile['emotions'][e]:.2f})" for e in emotions)
        genre = profile["genre"]
        parts = [f"sounds {sound}", f"{genre} ({profile['genres'][genre]:.2f})"]
        text = profile.get("text")
        if text and text.get("top"):
            words = ", ".join(text.get("keywords", [])[:3])
            parts.append(
                f"its texts read {text.get('top_name') or text['top']}" + (f" ({words})" if words else "")
            )
        out = "; ".join(parts)
        if not upload:
            self._cache[key] = out
        return out
