"""How a listener's hidden state changes with each song of a session.

Two dynamics, selected by ``policy.dynamics``:

* ``taste`` (the first version): a song's effect depends only on how much the listener likes
  it (utility): liked songs calm, disliked ones stress, and the mood follows the utility.
* ``iso`` (music therapy's iso principle: Altshuler 1948; Heiderscheit & Madson 2015): the
  listener has a valence-arousal point; music near it is followed (the point moves toward
  the song's), music far from it is not followed and raises stress (mismatch), and stress
  relaxes toward the level the listener's arousal implies. So a sequence that meets the
  listener where they are and steps toward calm lowers stress more than a jump to the
  calmest song. The utility still counts (``iso.taste_share`` of the taste effect).

Every number is in ``params.yaml`` (``policy.iso``, :class:`moodtune.policy.config.IsoSettings`);
docs/policy.md gives the sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# a song's point is the emotions' (GEMS-6 -> valence-arousal), read by the audio scene set too
from moodtune.emotions import predicted_points
from moodtune.policy.config import IsoSettings


def true_points(marks: np.ndarray, seed: int, jitter: float) -> np.ndarray:
    """Each song's true point: its ground-truth GEMS marks' mean point plus a small fixed
    per-song offset (two recordings of one emotion are not the same point)."""
    marks = np.asarray(marks, dtype=float)
    base = predicted_points(marks)
    offset = np.random.default_rng(seed).normal(0.0, jitter, size=base.shape)
    return np.clip(base + offset, -1.0, 1.0)


@dataclass
class ListenerState:
    stress: float
    mood: float
    point: np.ndarray  # valence, arousal


def initial_point(mood: float, stress: float) -> np.ndarray:
    """A listener's starting point: valence from mood (1..5 -> -1..1), arousal from stress."""
    return np.array([(float(mood) - 3.0) / 2.0, 2.0 * float(stress) - 1.0])


def taste_step(
    state: ListenerState,
    utility: float,
    sensitivity: float,
    neutral: float,
    mood_gain: float,
    song_point=None,
    iso: IsoSettings | None = None,
) -> ListenerState:
    """The next state after one song (``iso`` None: the taste dynamics)."""
    liked = utility - neutral
    if iso is None:
        stress = state.stress - sensitivity * liked
        mood = state.mood + mood_gain * liked
        return ListenerState(_clip(stress, 0.0, 1.0), _clip(mood, 1.0, 5.0), state.point)
    gap = np.asarray(song_point, dtype=float) - state.point
    d = float(np.hypot(gap[0], gap[1]))
    point = np.clip(state.point + iso.entrainment * np.exp(-((d / iso.reach) ** 2)) * gap, -1.0, 1.0)
    target = (point[1] + 1.0) / 2.0
    stress = (
        state.stress
        + iso.coupling * (target - state.stress)
        + iso.mismatch_gain * max(0.0, d - iso.tolerance)
        - iso.taste_share * sensitivity * liked
    )
    mood = 3.0 + 2.0 * point[0]
    return ListenerState(_clip(stress, 0.0, 1.0), _clip(mood, 1.0, 5.0), point)


def _clip(x: float, low: float, high: float) -> float:
    # np.clip on one number costs ~7 us; the planning oracle calls this ~10^5 times per build
    return min(max(float(x), low), high)
