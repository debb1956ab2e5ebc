"""The listening-session observation, shared by the environment, the network and the service.

A flat vector: the listener block (:data:`N_LISTENER`), then ``max_slots`` slot rows of
:data:`N_SLOT` (the song's 10 predicted features and the valence-arousal point they sound
like), then the mask of playable slots (1 = unplayed song, 0 = played or padding).

Listener block: gender, mood scaled to [-1, 1], the age-group one-hot, the last HRV reading
(p_low, p_medium, p_high; a uniform prior before the first song), the share of the session
done, the point of the last song played and whether there was one.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from moodtune.emotions import predicted_points
from moodtune.policy.features import SONG_COLUMNS
from moodtune.policy.listeners import AGE_GROUPS

PRIOR = np.full(3, 1.0 / 3.0)
N_LISTENER = 2 + len(AGE_GROUPS) + 3 + 1 + 2 + 1
N_SLOT = len(SONG_COLUMNS) + 2
MOOD = 1  # index of the scaled mood (the listener's valence estimate)
P_LOW, P_HIGH = 2 + len(AGE_GROUPS), 2 + len(AGE_GROUPS) + 2  # reading: arousal estimate p_high - p_low
READING = slice(P_LOW, P_HIGH + 1)  # the listener block's last reading (p_low, p_medium, p_high)


def listener_block(
    context_vector: np.ndarray, reading: np.ndarray, progress: float, last_point: np.ndarray | None
) -> np.ndarray:
    ctx = np.asarray(context_vector, dtype=float).copy()
    ctx[MOOD] = (ctx[MOOD] - 3.0) / 2.0
    last = np.zeros(2) if last_point is None else np.asarray(last_point, dtype=float)
    return np.concatenate([ctx, reading, [progress], last, [0.0 if last_point is None else 1.0]])


def slot_rows(song_features: np.ndarray) -> np.ndarray:
    """One row per song: its 10 features and its predicted valence-arousal point."""
    feats = np.asarray(song_features, dtype=float)
    return np.concatenate([feats, predicted_points(feats)], axis=1)


def slot_features(song_features: np.ndarray, max_slots: int) -> np.ndarray:
    rows = np.zeros((max_slots, N_SLOT))
    rows[: len(song_features)] = slot_rows(song_features)
    return rows


def pack(block: np.ndarray, slots: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.clip(np.concatenate([block, np.asarray(slots).reshape(-1), mask]), -1.0, 1.0).astype(np.float32)


def space(max_slots: int) -> spaces.Box:
    n = N_LISTENER + max_slots * (N_SLOT + 1)
    return spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)


def initial_block(listener) -> np.ndarray:
    """The listener block at the start of a session (what the service ranks with): the
    listener's reading when the state has one, else the uniform prior."""
    reading = getattr(listener, "reading", None)
    return listener_block(
        listener.vector(), PRIOR if reading is None else np.asarray(reading, dtype=float), 0.0, None
    )


def rank_inputs(song_features: np.ndarray, listener) -> tuple[np.ndarray, np.ndarray]:
    """The session-start listener block and the slot rows of any number of candidate songs,
    bounded as in the environment's observation (what ``rank`` scores)."""
    block = np.clip(initial_block(listener), -1.0, 1.0).astype(np.float32)
    rows = np.clip(slot_rows(song_features), -1.0, 1.0).astype(np.float32)
    return block, rows
