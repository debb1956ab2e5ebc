"""Seed A's 17 state features: song emotion + genre, and the listener's gender, mood, age group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput
from moodtune.fields import Age, Mood, bounds
from moodtune.policy.listeners import AGE_GROUPS, age_group

SONG_COLUMNS: tuple[str, ...] = tuple(GEMS6) + tuple(GENRES)
LISTENER_COLUMNS: tuple[str, ...] = ("gender", "mood") + tuple(f"age_{label}" for _, _, label in AGE_GROUPS)
STATE_COLUMNS: tuple[str, ...] = SONG_COLUMNS + LISTENER_COLUMNS
N_STATE = len(STATE_COLUMNS)  # 17
GENDERS = {"female": 0, "f": 0, "0": 0, "male": 1, "m": 1, "1": 1}


def _bounded(value, name: str, kind: str, low: float, high: float, between: str) -> float:
    """``value`` as a finite float in [low, high]; :class:`InvalidInput` saying what to give."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be {kind}, got {value!r}") from None
    if not np.isfinite(v) or not low <= v <= high:
        raise InvalidInput(f"{name} must be between {between}, got {value!r}")
    return v


STATE_LOW = np.array([0.0] * 10 + [0.0, 1.0] + [0.0] * 5, dtype=np.float32)
STATE_HIGH = np.array([1.0] * 10 + [1.0, 5.0] + [1.0] * 5, dtype=np.float32)


@dataclass(frozen=True)
class ListenerContext:
    """What a listener tells us: age in years, gender (0 female / 1 male), mood 1 (sad) .. 5 (happy);
    ``reading``: a stress reading (p_low, p_medium, p_high) known before the first song (the
    listener state's, :meth:`moodtune.state.StateEstimate.policy_reading`), else ``None``."""

    age: int
    gender: int
    mood: float
    reading: tuple[float, float, float] | None = None

    @classmethod
    def parse(cls, age, gender, mood) -> ListenerContext:
        """Validate raw input; errors say what to fix."""
        lo, hi = bounds(Age)  # the request models' and the store's rule (moodtune.fields)
        age_v = _bounded(age, "age", "a number of years", lo, hi, f"{lo} and {hi} years")
        g = GENDERS.get(str(gender).strip().lower())
        if g is None:
            raise InvalidInput(f"gender must be 'female' or 'male' (or 0/1), got {gender!r}")
        lo, hi = bounds(Mood)
        mood_v = _bounded(
            mood, "mood", f"a number from {lo} (sad) to {hi} (happy)", lo, hi, f"{lo} (sad) and {hi} (happy)"
        )
        return cls(int(age_v), g, mood_v)

    def vector(self) -> np.ndarray:
        """gender, mood, and the age-group one-hot (7 values)."""
        onehot = np.zeros(len(AGE_GROUPS), dtype=np.float32)
        onehot[age_group(self.age)] = 1.0
        return np.concatenate([[float(self.gender), float(self.mood)], onehot]).astype(np.float32)


def state_matrix(song_features: np.ndarray, listener: ListenerContext) -> np.ndarray:
    """One 17-feature state per song (rows of 6 emotion + 4 genre probabilities)."""
    songs = np.asarray(song_features, dtype=np.float32)
    if songs.ndim != 2 or songs.shape[1] != len(SONG_COLUMNS):
        raise InvalidInput(
            f"song features need {len(SONG_COLUMNS)} columns {SONG_COLUMNS}, got shape {songs.shape}"
        )
    ctx = np.broadcast_to(listener.vector(), (len(songs), len(LISTENER_COLUMNS)))
    return np.clip(np.concatenate([songs, ctx], axis=1), STATE_LOW, STATE_HIGH)
