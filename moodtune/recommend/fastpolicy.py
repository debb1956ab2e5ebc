"""A faster path to the policy's scores, checked against the policy's own method.

:meth:`moodtune.policy.ranking.PolicyRanker.scores` asks stable-baselines3's ``predict`` for
the session policy's target point; ``predict`` switches the network to eval mode, builds a
torch distribution and converts observations on every call, which is most of a
recommendation's CPU time. For the listening-session policy (a Box action space, a diagonal
Gaussian) the deterministic action is just the actor network's mean, so :func:`fast_scorer`
computes that directly. It is only used after it reproduced ``ranker.scores`` exactly on a set
of random playlists and listeners; otherwise (another policy kind, another SB3 layout, any
difference) the ranker's own method is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)
Scorer = Callable[[np.ndarray, object], np.ndarray]


def fast_scorer(ranker, *, checks: int = 64, seed: int = 0) -> Scorer:
    """``scores(features, listener)`` equal to ``ranker.scores``; the fast one when it checks out."""
    reference: Scorer = ranker.scores
    try:
        candidate = _session_scorer(ranker)
    except Exception as exc:  # an SB3 layout we do not know: keep the reference
        log.info("policy fast path unavailable (%s); using PolicyRanker.scores", exc)
        return reference
    if candidate is None or not _agrees(candidate, reference, checks, seed):
        return reference
    return candidate


def _session_scorer(ranker) -> Scorer | None:
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.distributions import DiagGaussianDistribution

    from moodtune.policy.ranking import session_observation

    if getattr(ranker, "kind", None) != "session":
        return None
    model = ranker.model
    policy = model.policy
    space = model.action_space
    if not isinstance(space, spaces.Box) or not isinstance(policy.action_dist, DiagGaussianDistribution) \
            or getattr(policy, "squash_output", False):
        return None
    policy.set_training_mode(False)
    low, high = space.low.astype(float), space.high.astype(float)
    device = policy.device

    def scores(features: np.ndarray, listener) -> np.ndarray:
        songs = np.asarray(features, dtype=float)
        obs = torch.as_tensor(session_observation(songs, listener)[None], device=device)
        with torch.no_grad():
            latent = policy.mlp_extractor.forward_actor(policy.extract_features(obs, policy.pi_features_extractor))
            mean = policy.action_net(latent)
        target = np.clip(np.clip(mean.cpu().numpy().reshape(-1).astype(float), low, high), 0.0, 1.0)
        return -np.linalg.norm(songs - target, axis=1)

    return scores


def _agrees(candidate: Scorer, reference: Scorer, checks: int, seed: int) -> bool:
    from moodtune.policy.features import ListenerContext

    rng = np.random.default_rng(seed)
    for i in range(checks):
        songs = rng.random((int(rng.integers(1, 40)), 10))
        listener = ListenerContext.parse(int(rng.integers(5, 121)), ("female", "male")[i % 2], int(rng.integers(1, 6)))
        if not np.allclose(candidate(songs, listener), reference(songs, listener), rtol=0, atol=1e-9):
            log.warning("policy fast path disagrees with PolicyRanker.scores; using the ranker's method")
            return False
    return True
