"""Gymnasium environments: seed A's bandit, faithfully, and our listening session.

Both read the listener's response through the HRV stress model (via a :class:`ResponseBank`),
never from the simulator's hidden stress directly. The policy only sees what the service will
see: the audio model's predicted emotion/genre probabilities, the listener's context and the
HRV readings after each song.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from moodtune.policy import observation as ob
from moodtune.policy.config import IsoSettings
from moodtune.policy.dynamics import ListenerState, initial_point, taste_step, true_points
from moodtune.policy.features import STATE_HIGH, STATE_LOW, ListenerContext, state_matrix
from moodtune.policy.listeners import TasteModel, emotion_taste
from moodtune.policy.response import LEVELS, ResponseBank, calm


@dataclass
class World:
    """Everything an environment simulates: songs (predicted features + truth), listeners, body."""

    song_features: np.ndarray  # (n_songs, 10) predicted by the audio model
    taste: TasteModel  # ground truth, same track order
    listeners: pd.DataFrame
    bank: ResponseBank
    rewards: Mapping[str, float]  # stress level -> reward (feedback.reward)
    iso: IsoSettings | None = None  # None: the taste dynamics (a song's effect is its utility only)
    point_seed: int = 0
    point_jitter: float = 0.0
    # (age groups x songs) stress added when a listener of that age group hears the song: a
    # drift scenario's changed response, or the response the feedback's reward model learned
    # (moodtune.policy.drift); None: the simulator's prior response
    stress_shift: np.ndarray | None = None

    def context(self, listener: pd.Series, mood: float | None = None) -> ListenerContext:  # noqa: D102
        return ListenerContext(
            int(listener["age"]), int(listener["gender"]), float(listener["mood"] if mood is None else mood)
        )

    @cached_property
    def song_points(self) -> np.ndarray:
        """Each song's true valence-arousal point (the iso dynamics' ground truth)."""
        return true_points(self.taste.marks, self.point_seed, self.point_jitter)

    @cached_property
    def predicted_points(self) -> np.ndarray:
        from moodtune.emotions import predicted_points

        return predicted_points(self.song_features)

    @cached_property
    def people(self) -> dict[str, np.ndarray]:
        """The listeners as arrays (utility = genre_u[l] + marks @ (emotion_taste(mood) + emo[l]))."""
        rows = self.listeners
        genre_u, emo = [], []
        for _, row in rows.iterrows():
            u0 = self.taste.utilities(row, 3.0) - self.taste.marks @ emotion_taste(3.0)
            genre_u.append(u0 - self.taste.marks @ self._emotion_offsets(row))
            emo.append(self._emotion_offsets(row))
        return {
            "genre_u": np.asarray(genre_u),
            "emo": np.asarray(emo),
            "sensitivity": rows["sensitivity"].to_numpy(dtype=float),
            "base_stress": rows["base_stress"].to_numpy(dtype=float),
            "mood": rows["mood"].to_numpy(dtype=float),
            "gender": rows["gender"].to_numpy(dtype=int),
            "age": rows["age"].to_numpy(dtype=int),
        }

    @staticmethod
    def _emotion_offsets(row) -> np.ndarray:
        from moodtune.emotions import GEMS6

        return np.array([row[f"emotion_offset_{e}"] for e in GEMS6], dtype=float)

    def utility(self, li: int, mood: float, songs) -> np.ndarray:
        """Utilities of ``songs`` for listener row ``li`` at ``mood`` (the TasteModel's, vectorised)."""
        people = self.people
        return people["genre_u"][li, songs] + self.taste.marks[songs] @ (
            emotion_taste(mood) + people["emo"][li]
        )

    @cached_property
    def expected(self) -> tuple[np.ndarray, np.ndarray]:
        """Per stress grid point: the expected stress-level reward and expected calm of a reading."""
        probs = self.bank.probabilities
        table = np.array([self.rewards[level] for level in LEVELS])
        return table[probs.argmax(axis=2)].mean(axis=1), (probs[..., 0] - probs[..., 2]).mean(axis=1)

    def expected_reward(self, stress_before: float, stress_after: float, calm_weight: float) -> float:
        """The mean reward of a step over the HRV readings (what the planning oracle optimises)."""
        level, calm_mean = self.expected
        g0 = int(np.abs(self.bank.grid - stress_before).argmin())
        g1 = int(np.abs(self.bank.grid - stress_after).argmin())
        return float(level[g1] + calm_weight * (calm_mean[g1] - calm_mean[g0]))

    @cached_property
    def age_groups(self) -> np.ndarray:
        from moodtune.policy.listeners import age_group

        return np.array([age_group(a) for a in self.people["age"]], dtype=int)

    def next_state(self, li: int, state: ListenerState, song: int) -> tuple[ListenerState, float]:
        """The hidden state after ``song`` and its utility (deterministic: only readings are noisy)."""
        p = self.people
        u = float(self.utility(li, state.mood, [song])[0])
        params = self.taste.params
        nxt = taste_step(
            state,
            u,
            float(p["sensitivity"][li]),
            params.neutral_utility,
            params.mood_gain,
            self.song_points[song] if self.iso is not None else None,
            self.iso,
        )
        if self.stress_shift is not None:
            nxt.stress = min(max(nxt.stress + float(self.stress_shift[self.age_groups[li], song]), 0.0), 1.0)
        return nxt, u

    def start(self, li: int) -> ListenerState:
        p = self.people
        return ListenerState(
            float(p["base_stress"][li]),
            float(p["mood"][li]),
            initial_point(p["mood"][li], p["base_stress"][li]),
        )

    def listen(
        self, listener, stress: float, mood: float, song: int, rng
    ) -> tuple[float, float, int, np.ndarray, float]:
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
        _, _, level, probs, u = self.world.listen(
            listener, float(listener["base_stress"]), float(listener["mood"]), si, self._rng
        )
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

    The action is the slot of the playlist to play next (``Discrete(max_slots)``); a played or
    padded slot is not a valid choice (the candidate-aware policy masks them; an invalid
    action given anyway plays the first unplayed slot and says so in ``info``). The listener's
    hidden stress and mood (and, under the iso dynamics, valence-arousal point) evolve with
    each song; the reward is the stress-level reward of the HRV model's reading of the
    response plus ``calm_weight`` times the change in read calm (p_low - p_high).

    Observation (:mod:`moodtune.policy.observation`): the listener block (context, last
    reading, progress, last song's point), each slot's 10 features and predicted point, and
    the mask of slots still playable. The first observation holds no reading (a uniform
    prior), as the service has none before the first song.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        world: World,
        playlist_size: int = 12,
        session_length: int = 5,
        calm_weight: float = 0.5,
        seed: int | None = None,
        max_slots: int | None = None,
    ):
        super().__init__()
        if session_length > playlist_size:
            raise ValueError("session_length cannot exceed playlist_size: songs are not repeated")
        self.world = world
        self.playlist_size = min(playlist_size, len(world.song_features))
        self.max_slots = max_slots or self.playlist_size
        self.session_length = session_length
        self.calm_weight = calm_weight
        self.observation_space = ob.space(self.max_slots)
        self.action_space = spaces.Discrete(self.max_slots)
        self._rng = np.random.default_rng(seed)
        self.fixed: dict | None = None  # evaluation: {"listener": row index, "playlist": indices}

    def _obs(self) -> np.ndarray:
        last = self.world.predicted_points[self._played[-1]] if self._played else None
        block = ob.listener_block(self._ctx.vector(), self._probs, self._t / self.session_length, last)
        return ob.pack(block, self._slots, self.mask())

    def mask(self) -> np.ndarray:
        m = np.zeros(self.max_slots, dtype=np.float32)
        for i, song in enumerate(self._playlist):
            m[i] = song not in self._played
        return m

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
        if not 0 < len(self._playlist) <= self.max_slots:
            raise ValueError(f"a playlist needs 1..{self.max_slots} songs, got {len(self._playlist)}")
        self._slots = ob.slot_features(self.world.song_features[self._playlist], self.max_slots)
        self._state = self.world.start(self._li)
        self._start_stress = self._state.stress
        _, self._read = self.world.bank.read(self._state.stress, self._rng)  # the hidden starting reading
        self._probs = ob.PRIOR
        self._played: list[int] = []
        self._t = 0
        self._ctx = self._context()
        return self._obs(), {}

    def _context(self) -> ListenerContext:
        p = self.world.people
        return ListenerContext(int(p["age"][self._li]), int(p["gender"][self._li]), float(self._state.mood))

    def play(self, song: int):
        """Play a given song of the playlist (used by baselines that choose songs directly)."""
        if song not in self._playlist or song in self._played:
            raise ValueError(f"song {song} is not an unplayed song of this playlist")
        calm_before = calm(self._read)
        self._state, u = self.world.next_state(self._li, self._state, song)
        level, self._read = self.world.bank.read(self._state.stress, self._rng)
        self._probs = self._read
        reward = float(self.world.rewards[LEVELS[level]]) + self.calm_weight * (
            calm(self._read) - calm_before
        )
        self._played.append(song)
        self._t += 1
        self._ctx = self._context()
        done = self._t >= self.session_length or len(self._played) == len(self._playlist)
        info = {
            "level": LEVELS[level],
            "utility": u,
            "track_index": song,
            "stress": self._state.stress,
            "stress_reduction": self._start_stress - self._state.stress,
        }
        return self._obs(), reward, done, False, info

    def step(self, action):
        slot = int(np.asarray(action).reshape(-1)[0])
        valid = 0 <= slot < len(self._playlist) and self._playlist[slot] not in self._played
        if not valid:
            slot = next(i for i, s in enumerate(self._playlist) if s not in self._played)
        obs, reward, done, truncated, info = self.play(self._playlist[slot])
        info["invalid_action"] = not valid
        return obs, reward, done, truncated, info

    # what a policy may read (visible state), and what only the oracle may read
    @property
    def playlist(self) -> list[int]:
        return list(self._playlist)

    @property
    def played(self) -> list[int]:
        return list(self._played)

    @property
    def unplayed(self) -> list[int]:
        return [s for s in self._playlist if s not in self._played]

    @property
    def context(self) -> ListenerContext:
        """The listener's context now (their current mood)."""
        return self._ctx

    @property
    def last_reading(self) -> np.ndarray | None:
        return None if not self._played else self._probs

    @property
    def listener_index(self) -> int:
        return self._li

    @property
    def hidden_state(self) -> ListenerState:
        return self._state
