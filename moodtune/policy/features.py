"""Seed A's 17 state features: song emotion + genre, and the listener's gender, mood, age group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput
from moodtune.policy.listeners import AGE_GROUPS, age_group

SONG_COLUMNS: tuple[str, ...] = tuple(GEMS6) + tuple(GENRES)
LISTENER_COLUMNS: tuple[str, ...] = ("gender", "mood") + tuple(f"age_{label}" for _, _, label in AGE_GROUPS)
STATE_COLUMNS: tuple[str, ...] = SONG_COLUMNS + LISTENER_COLUMNS
N_STATE = len(STATE_COLUMNS)  # 17
GENDERS = {"female": 0, "f": 0, "0": 0, "male": 1, "m": 1, "1": 1}

STATE_LOW = np.array([0.0] * 10 + [0.0, 1.0] + [0.0] * 5, dtype=np.float32)
STATE_HIGH = np.array([1.0] * 10 + [1.0, 5.0] + [1.0] * 5, dtype=np.float32)


@dataclass(frozen=True)
class ListenerContext:
    """What a listener tells us: age in years, gender (0 female / 1 male), mood 1 (sad) .. 5 (happy)."""

    age: int
    gender: int
    mood: float

    @classmethod
    def parse(cls, age, gender, mood) -> ListenerContext:
        """Validate raw input; errors say what to fix."""
        try:
            age_v = float(age)
        except (TypeError, ValueError):
            raise InvalidInput(f"age must be a number of years, got {age!r}") from None
        if not np.isfinite(age_v) or not 5 <= age_v <= 120:
            raise InvalidInput(f"age must be between 5 and 120 years, got {age!r}")
        g = GENDERS.get(str(gender).strip().lower())
        if g is None:
            raise InvalidInput(f"gender must be 'female' or 'male' (or 0/1), got {gender!r}")
        try:
            mood_v = float(mood)
        except (TypeError, ValueError):
            raise InvalidInput(f"mood must be a number from 1 (sad) to 5 (happy), got {mood!r}") from None
        if not np.isfinite(mood_v) or not 1 <= mood_v <= 5:
            raise InvalidInput(f"mood must be between 1 (sad) and 5 (happy), got {mood!r}")
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
        raise InvalidInput(f"song features need {len(SONG_COLUMNS)} columns {SONG_COLUMNS}, got shape {songs.shape}")
    ctx = np.broadcast_to(listener.vector(), (len(songs), len(LISTENER_COLUMNS)))
    return np.clip(np.concatenate([songs, ctx], axis=1), STATE_LOW, STATE_HIGH)
