"""A faster path to the policy's scores, checked against the policy's own method.

:meth:`moodtune.policy.ranking.PolicyRanker.scores` asks stable-baselines3's ``predict`` for
the session policy's target point; ``predict`` switches the network to eval mode, builds a
torch distribution and converts observations on every call, which is most of a
recommendation's CPU time. For the listening-session policy (a Box action space, a diagonal
Gaussian) the deterministic action is just the actor network's mean, so :func:`fast_scorer`
computes that directly: in NumPy from the network's weights when it is a plain MLP (Linear
layers with Tanh/ReLU, a flattening features extractor), else with torch. A fast path is only
used after it reproduced ``ranker.scores`` on a set of random playlists and listeners: the torch
one exactly, the NumPy one to 1e-5 (it skips torch's float32 rounding) with the same order;
otherwise (another policy kind, another SB3 layout, any difference) the ranker's own method is
used.
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
    for build, atol in ((_numpy_scorer, 1e-5), (_session_scorer, 1e-9)):
        try:
            candidate = build(ranker)
        except Exception as exc:  # an SB3 layout we do not know: try the next one
            log.info("policy fast path %s unavailable (%s)", build.__name__, exc)
            continue
        if candidate is not None and _agrees(candidate, reference, checks, seed, atol):
            return candidate
    return reference


def _session_policy(ranker):
    """The SB3 policy and action bounds of a listening-session ranker with a diagonal Gaussian
    over a Box (the deterministic action is the actor's mean), else ``None``."""
    from gymnasium import spaces
    from stable_baselines3.common.distributions import DiagGaussianDistribution

    if getattr(ranker, "kind", None) != "session":
        return None
    model = ranker.model
    policy = model.policy
    space = model.action_space
    if not isinstance(space, spaces.Box) or not isinstance(policy.action_dist, DiagGaussianDistribution) \
            or getattr(policy, "squash_output", False):
        return None
    return policy, space.low.astype(float), space.high.astype(float)


def _numpy_scorer(ranker) -> Scorer | None:
    import torch.nn as nn
    from stable_baselines3.common.torch_layers import FlattenExtractor

    from moodtune.policy.ranking import session_observation

    found = _session_policy(ranker)
    if found is None:
        return None
    policy, low, high = found
    if not isinstance(policy.pi_features_extractor, FlattenExtractor) or len(policy.observation_space.shape) != 1:
        return None
    steps = []
    for module in [*policy.mlp_extractor.policy_net, policy.action_net]:
        if isinstance(module, nn.Linear):
            weight = module.weight.detach().cpu().numpy().astype(float).T.copy()
            bias = module.bias.detach().cpu().numpy().astype(float) if module.bias is not None else 0.0
            steps.append((weight, bias))
        elif isinstance(module, nn.Tanh):
            steps.append(np.tanh)
        elif isinstance(module, nn.ReLU):
            steps.append(lambda x: np.maximum(x, 0.0))
        else:
            return None

    def scores(features: np.ndarray, listener) -> np.ndarray:
        songs = np.asarray(features, dtype=float)
        x = np.asarray(session_observation(songs, listener), dtype=float)
        for step in steps:
            x = x @ step[0] + step[1] if isinstance(step, tuple) else step(x)
        target = np.clip(np.clip(x, low, high), 0.0, 1.0)
        return -np.linalg.norm(songs - target, axis=1)

    return scores


def _session_scorer(ranker) -> Scorer | None:
    import torch

    from moodtune.policy.ranking import session_observation

    found = _session_policy(ranker)
    if found is None:
        return None
    policy, low, high = found
    policy.set_training_mode(False)
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


def _agrees(candidate: Scorer, reference: Scorer, checks: int, seed: int, atol: float) -> bool:
    from moodtune.policy.features import ListenerContext

    rng = np.random.default_rng(seed)
    for i in range(checks):
        songs = rng.random((int(rng.integers(1, 40)), 10))
        listener = ListenerContext.parse(int(rng.integers(5, 121)), ("female", "male")[i % 2], int(rng.integers(1, 6)))
        got, want = candidate(songs, listener), reference(songs, listener)
        if not (np.allclose(got, want, rtol=0, atol=atol)
                and np.array_equal(np.argsort(-got, kind="stable"), np.argsort(-want, kind="stable"))):
            log.warning("a policy fast path disagrees with PolicyRanker.scores; not using it")
            return False
    return True
