"""Ranking API: the same code the evaluation and the service call.

``rank`` scores every song of a playlist for a listener and returns each with its score and
the probability that the served policy puts it first. The service serves epsilon-greedy
(``policy.exploration``): the best-scored song first, except that a share epsilon of the time a
uniformly drawn candidate goes first (the rest keep the score order). Those probabilities are
the true behaviour probabilities the service logs with every recommendation, so logged feedback
supports off-policy evaluation (:mod:`moodtune.policy.offpolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodtune.errors import InvalidInput
from moodtune.policy.features import SONG_COLUMNS, ListenerContext, state_matrix
from moodtune.policy.observation import rank_inputs


@dataclass(frozen=True)
class RankedTrack:
    track_id: str
    score: float
    probability: float


class PolicyRanker:
    """Scores songs with a trained SB3 policy.

    ``kind="session"``: the candidate-aware listening-session policy; a song's score is its
    slot logit at the start of a session (:class:`moodtune.policy.network.CandidatePolicy`),
    for any number of songs. ``kind="seed"``: the policy's recommend probability for each
    (listener, song) state is the score.
    """

    def __init__(self, model, kind: str = "session", exploration: float = 0.0):
        if kind not in ("session", "seed"):
            raise ValueError(f"kind must be 'session' or 'seed', got {kind!r}")
        self.model = model
        self.kind = kind
        self.exploration = exploration

    def scores(self, playlist_features: np.ndarray, listener: ListenerContext) -> np.ndarray:
        songs = np.asarray(playlist_features, dtype=float)
        if self.kind == "seed":
            return self._action_means(state_matrix(songs, listener)).reshape(-1)
        block, rows = rank_inputs(songs, listener)
        return self.model.policy.slot_scores(block, rows)

    def _action_means(self, observations: np.ndarray) -> np.ndarray:
        """The policy's Gaussian action means before clipping to [0, 1]: a trained seed
        policy often saturates above 1 for many songs, and the clipped actions would tie."""
        import torch

        obs, _ = self.model.policy.obs_to_tensor(np.asarray(observations, dtype=np.float32))
        with torch.no_grad():
            mean = self.model.policy.get_distribution(obs).distribution.mean
        return mean.cpu().numpy().astype(float)

    def rank(
        self, playlist: pd.DataFrame, listener: ListenerContext, k: int | None = None
    ) -> list[RankedTrack]:
        """Rank a playlist (index = track ids, columns = the 10 song features), best first."""
        return rank_with_scores(playlist, self.scores(_features(playlist), listener), self.exploration, k)


def _features(playlist: pd.DataFrame) -> np.ndarray:
    missing = [c for c in SONG_COLUMNS if c not in playlist.columns]
    if missing:
        raise InvalidInput(f"playlist features are missing columns {missing}")
    if len(playlist) == 0:
        raise InvalidInput("the playlist is empty: give at least one song")
    values = playlist[list(SONG_COLUMNS)].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise InvalidInput("playlist features contain NaN or infinite values")
    return values


def served_probabilities(scores: np.ndarray, exploration: float) -> np.ndarray:
    """The probability that each song is served first: ``1 - exploration`` on the best-scored
    (the first of ties), plus ``exploration`` spread uniformly over all."""
    scores = np.asarray(scores, dtype=float)
    probs = np.full(len(scores), exploration / len(scores))
    probs[int(np.argmax(scores))] += 1.0 - exploration
    return probs


def rank_with_scores(
    playlist: pd.DataFrame,
    scores: np.ndarray,
    exploration: float,
    k: int | None = None,
    rng: np.random.Generator | None = None,
) -> list[RankedTrack]:
    """Sort by score (stable) with each song's probability of being served first; with ``rng``
    the first song is drawn from those probabilities (the rest keep the score order)."""
    scores = np.asarray(scores, dtype=float)
    probs = served_probabilities(scores, exploration)
    order = np.argsort(-scores, kind="stable")
    if rng is not None and exploration > 0:
        first = int(rng.choice(len(scores), p=probs))
        order = np.concatenate([[first], order[order != first]])
    k = len(order) if k is None else min(k, len(order))
    ids = [str(i) for i in playlist.index]
    return [RankedTrack(ids[i], float(scores[i]), float(probs[i])) for i in order[:k]]
