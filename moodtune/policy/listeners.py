"""Simulated listeners with hidden preferences and a physiological response model.

Each listener has an age, a gender and a mood (1 = sad ... 5 = happy). Their hidden taste
depends on all three: sad listeners are soothed by tender and calm music and stressed by tense
music, happy ones enjoy joyful activation and power; genre taste shifts with age group and a
little with gender; every listener adds their own offsets. The utility of a song drives both
"liked" and the change in stress while listening, so the truly best song for a listener is
known (the oracle). Preferences are computed from the listener's *current* mood, so in a
listening session they change as the mood changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6, GENRES
from moodtune.policy.config import PolicySettings

AGE_GROUPS: tuple[tuple[int, int, str], ...] = (
    (0, 19, "<20"),
    (20, 29, "20-29"),
    (30, 44, "30-44"),
    (45, 59, "45-59"),
    (60, 200, "60+"),
)

# Emotion taste of a sad (mood 1) and a happy (mood 5) listener; moods between interpolate.
_SAD_TASTE = {
    "tenderness": 1.0,
    "calmness": 0.8,
    "power": -0.5,
    "joyful_activation": -0.3,
    "tension": -1.0,
    "sadness": 0.3,
}
_HAPPY_TASTE = {
    "tenderness": 0.2,
    "calmness": 0.0,
    "power": 0.7,
    "joyful_activation": 1.0,
    "tension": -0.3,
    "sadness": -0.6,
}
_GENRE_TASTE_BY_AGE = (  # classical, pop, rock, electronic
    (-0.4, 0.5, 0.3, 0.6),
    (-0.2, 0.5, 0.4, 0.4),
    (0.1, 0.4, 0.3, 0.1),
    (0.5, 0.3, 0.1, -0.3),
    (0.7, 0.2, -0.3, -0.5),
)
_GENDER_SHIFT = {0: np.array([0.0, 0.15, 0.0, 0.0]), 1: np.array([0.0, 0.0, 0.15, 0.0])}


def age_group(age: int | float) -> int:
    """Index of the age group (0..4) an age falls in."""
    if not np.isfinite(age) or age < 0 or age > 120:
        raise ValueError(f"age must be between 0 and 120, got {age}")
    for i, (lo, hi, _) in enumerate(AGE_GROUPS):
        if lo <= age <= hi:
            return i
    return len(AGE_GROUPS) - 1


_SAD_VECTOR = np.array([_SAD_TASTE[e] for e in GEMS6])
_HAPPY_VECTOR = np.array([_HAPPY_TASTE[e] for e in GEMS6])


def emotion_taste(mood: float) -> np.ndarray:
    """The population's emotion taste (GEMS6 order) at a mood in [1, 5]."""
    # scalar min/max, not np.clip: the planning oracle calls this ~10^5 times per build
    t = (min(max(float(mood), 1.0), 5.0) - 1) / 4
    return (1 - t) * _SAD_VECTOR + t * _HAPPY_VECTOR


# The simulator's numbers are ``params.yaml``'s ``policy:`` section itself (taste_noise,
# song_noise, like_threshold, neutral_utility, sensitivity, mood_gain): no second copy.
ListenerParams = PolicySettings


def simulate_listeners(n: int, rng: np.random.Generator, params: ListenerParams) -> pd.DataFrame:
    """``n`` listeners: visible context (age, gender, mood) and hidden offsets and physiology."""
    ages = rng.integers(15, 75, size=n)
    genders = rng.integers(0, 2, size=n)
    moods = rng.integers(1, 6, size=n)
    rows = []
    for i in range(n):
        base_stress = float(np.clip(0.8 - 0.1 * (moods[i] - 1) + rng.normal(0, 0.06), 0.05, 0.95))
        row = {
            "listener_id": f"L{i:05d}",
            "age": int(ages[i]),
            "gender": int(genders[i]),
            "mood": int(moods[i]),
            "base_stress": base_stress,
            "sensitivity": float(rng.uniform(*params.sensitivity)),
        }
        row.update(
            {
                f"genre_offset_{g}": float(v)
                for g, v in zip(GENRES, rng.normal(0, params.taste_noise, 4), strict=True)
            }
        )
        row.update(
            {
                f"emotion_offset_{e}": float(v)
                for e, v in zip(GEMS6, rng.normal(0, params.taste_noise, 6), strict=True)
            }
        )
        row["song_seed"] = int(rng.integers(0, 2**31 - 1))
        rows.append(row)
    return pd.DataFrame(rows)


class TasteModel:
    """Ground-truth utility of songs for listeners (the hidden truth the oracle uses).

    ``truth`` is the catalog's ground truth: one row per track with ``genre`` and the six
    GEMS-6 0/1 marks. The utility of song s for listener l at mood m is
    ``genre_taste[l, genre(s)] + mean over s's marks of emotion_taste(m)[l] + song noise``.
    """

    def __init__(self, truth: pd.DataFrame, params: ListenerParams):
        self.track_ids = truth["track_id"].to_numpy()
        marks = truth[list(GEMS6)].to_numpy(dtype=float)
        self.marks = marks / np.maximum(marks.sum(axis=1, keepdims=True), 1.0)
        self.genre_onehot = np.stack([(truth["genre"] == g).to_numpy(dtype=float) for g in GENRES], axis=1)
        self.params = params
        self._noise_cache: dict[int, np.ndarray] = {}

    def _song_noise(self, seed: int) -> np.ndarray:
        noise = self._noise_cache.get(seed)
        if noise is None:
            noise = np.random.default_rng(seed).normal(0, self.params.song_noise, len(self.track_ids))
            self._noise_cache[seed] = noise
        return noise

    def utilities(self, listener: pd.Series | dict, mood: float | None = None) -> np.ndarray:
        """Utility of every catalog song for one listener at ``mood`` (default: their mood)."""
        mood = listener["mood"] if mood is None else mood
        genre_taste = (
            np.array(_GENRE_TASTE_BY_AGE[age_group(listener["age"])]) + _GENDER_SHIFT[int(listener["gender"])]
        )
        genre_taste = genre_taste + np.array([listener[f"genre_offset_{g}"] for g in GENRES])
        emo = emotion_taste(mood) + np.array([listener[f"emotion_offset_{e}"] for e in GEMS6])
        return (
            self.genre_onehot @ genre_taste + self.marks @ emo + self._song_noise(int(listener["song_seed"]))
        )

    def liked(self, listener, mood: float | None = None) -> np.ndarray:
        return self.utilities(listener, mood) > self.params.like_threshold

    def stress_after(self, listener, stress: float, utility: float) -> float:
        """Stress after listening to a song of ``utility``: liked songs calm, disliked stress."""
        delta = -float(listener["sensitivity"]) * (utility - self.params.neutral_utility)
        return float(np.clip(stress + delta, 0.0, 1.0))

    def mood_after(self, mood: float, utility: float) -> float:
        return float(
            np.clip(mood + self.params.mood_gain * (utility - self.params.neutral_utility), 1.0, 5.0)
        )


def simulate_ratings(listeners: pd.DataFrame, taste: TasteModel) -> pd.DataFrame:
    """Every (listener, track) pair with the listener's context and whether they liked it."""
    frames = []
    for _, listener in listeners.iterrows():
        u = taste.utilities(listener)
        frames.append(
            pd.DataFrame(
                {
                    "listener_id": listener["listener_id"],
                    "track_id": taste.track_ids,
                    "age": listener["age"],
                    "gender": listener["gender"],
                    "mood": listener["mood"],
                    "utility": u,
                    "liked": (u > taste.params.like_threshold).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def split_listeners(listeners: pd.DataFrame, test_share: float, rng: np.random.Generator) -> pd.DataFrame:
    """Add a ``split`` column: held-out listeners are never seen in training."""
    out = listeners.copy()
    order = rng.permutation(len(out))
    n_test = max(1, int(round(test_share * len(out))))
    split = np.array(["train"] * len(out), dtype=object)
    split[order[:n_test]] = "test"
    out["split"] = split
    return out
