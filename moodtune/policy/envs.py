"""Gymnasium environments: seed A's bandit, faithfully, and our listening session.

Both read the listener's response through the HRV stress model (via a :class:`ResponseBank`),
never from the simulator's hidden stress directly. The policy only sees what the service will
see: the audio model's predicted emotion/genre probabilities and the listener's context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from moodtune.policy.features import (
    SONG_COLUMNS,
    STATE_HIGH,
    STATE_LOW,
    ListenerContext,
    state_matrix,
)
from moodtune.policy.listeners import AGE_GROUPS, TasteModel
from moodtune.policy.response import LEVELS, ResponseBank, calm


@dataclass
class World:
    """Everything an environment simulates: songs (predicted features + truth), listeners, body."""

    song_features: np.ndarray  # (n_songs, 10) predicted by the audio model
    taste: TasteModel  # ground truth, same track order
    listeners: pd.DataFrame
    bank: ResponseBank
    rewards: Mapping[str, float]  # stress level -> reward (feedback.reward)

    def context(self, listener: pd.Series, mood: float | None = None) -> ListenerContext:
        return ListenerContext(int(listener["age"]), int(listener["gender"]), float(listener["mood"] if mood is None else mood))

    def listen(self, listener, stress: float, mood: float, song: int, rng) -> tuple[float, float, int, np.ndarray, float]:
        """Play ``song``: new hidden stress and mood, and the HRV model's reading of the response."""
        u = float(self.taste.utilities(listener, mood)[song])
        new_stress = self.taste.stress_after(listener, stress, u)
        new_mood = self.taste.mood_after(mood, u)
        level, probs = self.bank.read(new_stress, rng)
        return new_stress, new_mood, level, probs, u


class SeedBanditEnv(gym.Env):
    """Seed A's environment: one (listener, song) state, a recommend probability, a reward.

    Observation: 6 emotion + 4 genre probabilities, gender, mood 1-5, 5 age-group one-hots.
    Action: recommend probability in [0, 1]. Reward: the action when the listener's response
    reads as low stress and the action > 0.5; 1 - action when it does not read low and the
    action < 0.5; 0 otherwise.
    """

    metadata = {"render_modes": []}

    def __init__(self, world: World, episode_length: int = 16, seed: int | None = None):
        super().__init__()
        self.world = world
        self.episode_length = episode_length
        self.observation_space = spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self._rng = np.random.default_rng(seed)
        self._t = 0
        self._pair = (0, 0)

    def _draw(self) -> np.ndarray:
        li = int(self._rng.integers(len(self.world.listeners)))
        si = int(self._rng.integers(len(self.world.song_features)))
        self._pair = (li, si)
        listener = self.world.listeners.iloc[li]
        return state_matrix(self.world.song_features[si : si + 1], self.world.context(listener))[0]

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._t = 0
        return self._draw(), {}

    def step(self, action):
        a = float(np.clip(np.asarray(action, dtype=float).reshape(-1)[0], 0.0, 1.0))
        li, si = self._pair
        listener = self.world.listeners.iloc[li]
        _, _, level, probs, u = self.world.listen(listener, float(listener["base_stress"]), float(listener["mood"]), si, self._rng)
        low = LEVELS[level] == "low"
        reward = seed_reward(a, low)
        self._t += 1
        info = {"level": LEVELS[level], "utility": u, "track_index": si}
        return self._draw(), reward, False, self._t >= self.episode_length, info


def seed_reward(action: float, low_stress: bool) -> float:
    """Seed A's reward rule for a recommend probability and the read stress."""
    if low_stress and action > 0.5:
        return action
    if not low_stress and action < 0.5:
        return 1.0 - action
    return 0.0


class ListeningSessionEnv(gym.Env):
    """A listening session: one listener, a playlist, songs played one after another.

    Each step the policy names a target point in song space (6 emotion + 4 genre
    probabilities); the nearest unplayed song of the playlist is played, so the action works
    for playlists of any size. The listener's hidden stress and mood evolve with each song;
    the reward is the stress-level reward of the HRV model's reading of the response plus
    ``calm_weight`` times the change in read calm (p_low - p_high). Songs never repeat.

    Observation: gender, current mood, age-group one-hot, last HRV reading (3 probabilities),
    share of the session done, and the mean features of the songs still unplayed.
    """

    metadata = {"render_modes": []}
    N_OBS = 2 + len(AGE_GROUPS) + 3 + 1 + len(SONG_COLUMNS)

    def __init__(
        self,
        world: World,
        playlist_size: int = 12,
        session_length: int = 5,
        calm_weight: float = 0.5,
        seed: int | None = None,
    ):
        super().__init__()
        if session_length > playlist_size:
            raise ValueError("session_length cannot exceed playlist_size: songs are not repeated")
        self.world = world
        self.playlist_size = min(playlist_size, len(world.song_features))
        self.session_length = session_length
        self.calm_weight = calm_weight
        low = np.zeros(self.N_OBS, dtype=np.float32)
        high = np.ones(self.N_OBS, dtype=np.float32)
        low[1], high[1] = 1.0, 5.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(len(SONG_COLUMNS),), dtype=np.float32)
        self._rng = np.random.default_rng(seed)
        self.fixed: dict | None = None  # evaluation: {"listener": row index, "playlist": indices}

    # --- state ---------------------------------------------------------------------------
    def _obs(self) -> np.ndarray:
        listener = self.world.listeners.iloc[self._li]
        ctx = self.world.context(listener, self._mood).vector()
        remaining = [s for s in self._playlist if s not in self._played]
        mean_remaining = self.world.song_features[remaining].mean(axis=0) if remaining else np.zeros(len(SONG_COLUMNS))
        obs = np.concatenate([ctx, self._probs, [self._t / self.session_length], mean_remaining]).astype(np.float32)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or self.fixed or {}
        self._li = int(options.get("listener", self._rng.integers(len(self.world.listeners))))
        playlist = options.get("playlist")
        if playlist is None:
            playlist = self._rng.choice(len(self.world.song_features), size=self.playlist_size, replace=False)
        self._playlist = [int(s) for s in playlist]
        listener = self.world.listeners.iloc[self._li]
        self._stress = float(listener["base_stress"])
        self._mood = float(listener["mood"])
        _, self._probs = self.world.bank.read(self._stress, self._rng)
        self._start_stress = self._stress
        self._played: list[int] = []
        self._t = 0
        return self._obs(), {}

    def nearest_unplayed(self, target: np.ndarray) -> int:
        remaining = [s for s in self._playlist if s not in self._played]
        d = np.linalg.norm(self.world.song_features[remaining] - np.asarray(target, dtype=float), axis=1)
        return remaining[int(d.argmin())]

    def play(self, song: int):
        """Play a given song of the playlist (used by baselines that choose songs directly)."""
        if song not in self._playlist or song in self._played:
            raise ValueError(f"song {song} is not an unplayed song of this playlist")
        listener = self.world.listeners.iloc[self._li]
        calm_before = calm(self._probs)
        self._stress, self._mood, level, self._probs, u = self.world.listen(
            listener, self._stress, self._mood, song, self._rng
        )
        reward = float(self.world.rewards[LEVELS[level]]) + self.calm_weight * (calm(self._probs) - calm_before)
        self._played.append(song)
        self._t += 1
        done = self._t >= self.session_length or len(self._played) == len(self._playlist)
        info = {
            "level": LEVELS[level],
            "utility": u,
            "track_index": song,
            "stress": self._stress,
            "stress_reduction": self._start_stress - self._stress,
        }
        return self._obs(), reward, done, False, info

    def step(self, action):
        target = np.clip(np.asarray(action, dtype=float).reshape(-1), 0.0, 1.0)
        return self.play(self.nearest_unplayed(target))

    @property
    def playlist(self) -> list[int]:
        return list(self._playlist)

    @property
    def listener_index(self) -> int:
        return self._li
