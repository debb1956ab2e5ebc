"""A faster path to the policy's scores, checked against the policy's own method.

:meth:`moodtune.policy.ranking.PolicyRanker.scores` runs the candidate-aware network's shared
slot scorer (:mod:`moodtune.policy.network`) in torch, which costs tensor conversions and
autograd bookkeeping on every call: most of a recommendation's CPU time. :func:`fast_scorer`
computes the same logits in NumPy from the scorer's weights when it is a plain MLP (Linear
layers with Tanh/ReLU), else with torch. A fast path is only used after it reproduced
``ranker.scores`` on a set of random playlists and listeners: the torch one exactly, the NumPy
one to 1e-5 (it skips torch's float32 rounding) with the same order; otherwise (another
policy kind, another layout, any difference) the ranker's own method is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
    """The candidate-aware SB3 policy of a listening-session ranker, else ``None``."""
    from moodtune.policy.network import CandidatePolicy

    if getattr(ranker, "kind", None) != "session":
        return None
    policy = ranker.model.policy
    return policy if isinstance(policy, CandidatePolicy) else None


def _numpy_scorer(ranker) -> Scorer | None:
    import torch.nn as nn

    from moodtune.policy.network import pair_inputs_numpy
    from moodtune.policy.observation import rank_inputs

    policy = _session_policy(ranker)
    if policy is None:
        return None
    steps: list[Any] = []  # (weight, bias) or an activation
    for module in policy.mlp_extractor.scorer:
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
        block, rows = rank_inputs(np.asarray(features, dtype=float), listener)
        x = pair_inputs_numpy(block.astype(float), rows.astype(float))
        for step in steps:
            x = x @ step[0] + step[1] if isinstance(step, tuple) else step(x)
        return x[:, 0]

    return scores


def _session_scorer(ranker) -> Scorer | None:
    from moodtune.policy.observation import rank_inputs

    policy = _session_policy(ranker)
    if policy is None:
        return None
    policy.set_training_mode(False)

    def scores(features: np.ndarray, listener) -> np.ndarray:
        return policy.slot_scores(*rank_inputs(np.asarray(features, dtype=float), listener))

    return scores


def _agrees(candidate: Scorer, reference: Scorer, checks: int, seed: int, atol: float) -> bool:
    from moodtune.policy.features import ListenerContext

    rng = np.random.default_rng(seed)
    for i in range(checks):
        songs = rng.random((int(rng.integers(1, 40)), 10))
        listener = ListenerContext.parse(
            int(rng.integers(5, 121)), ("female", "male")[i % 2], int(rng.integers(1, 6))
        )
        got, want = candidate(songs, listener), reference(songs, listener)
        if not (
            np.allclose(got, want, rtol=0, atol=atol)
            and np.array_equal(np.argsort(-got, kind="stable"), np.argsort(-want, kind="stable"))
        ):
            log.warning("a policy fast path disagrees with PolicyRanker.scores; not using it")
            return False
    return True
