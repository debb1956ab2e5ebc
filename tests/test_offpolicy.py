"""Exploration and off-policy estimates on logged rows whose truth is known."""

import json

import numpy as np
import pandas as pd
import pytest

from moodtune.feedback.models import Candidate
from moodtune.policy.features import SONG_COLUMNS
from moodtune.policy.offpolicy import compare, estimate, shadow_comparison
from moodtune.policy.ranking import rank_with_scores, served_probabilities
from moodtune.serving.eventlog import encode_candidates


def test_served_probabilities_are_epsilon_greedy():
    p = served_probabilities(np.array([0.1, 0.9, 0.3, 0.9]), 0.2)
    assert p.sum() == pytest.approx(1.0)
    assert p[1] == pytest.approx(0.8 + 0.05) and p[3] == pytest.approx(0.05)  # the first of ties
    assert np.allclose(served_probabilities(np.array([1.0, 2.0]), 0.0), [0.0, 1.0])


def test_the_served_first_track_follows_the_logged_probabilities():
    scores = np.array([0.5, 2.0, 1.0, -1.0])
    playlist = pd.DataFrame(index=["a", "b", "c", "d"])
    rng = np.random.default_rng(0)
    firsts = [rank_with_scores(playlist, scores, 0.4, rng=rng)[0].track_id for _ in range(4000)]
    share = {t: firsts.count(t) / len(firsts) for t in "abcd"}
    assert share["b"] == pytest.approx(0.6 + 0.1, abs=0.03)
    for t in "acd":
        assert share[t] == pytest.approx(0.1, abs=0.02)
    ranked = rank_with_scores(playlist, scores, 0.4, rng=rng)
    rest = [r.track_id for r in ranked[1:]]
    assert rest == [t for t in ["b", "c", "a", "d"] if t != ranked[0].track_id]  # the rest keep score order
    assert [r.track_id for r in rank_with_scores(playlist, scores, 0.0, rng=rng)] == ["b", "c", "a", "d"]


class _ByFeature:
    """A policy that scores songs by one feature (sign +1 or -1)."""

    def __init__(self, column: int, sign: float = 1.0):
        self.column, self.sign = column, sign

    def scores(self, features, listener):
        return self.sign * np.asarray(features)[:, self.column]


def _logged(n: int, exploration: float, seed: int = 0):
    """Rows logged by the policy preferring feature 0; the reward of a song is its feature 1."""
    rng = np.random.default_rng(seed)
    logger = _ByFeature(0)
    rows = []
    for i in range(n):
        feats = rng.random((6, len(SONG_COLUMNS)))
        p = served_probabilities(logger.scores(feats, None), exploration)
        j = int(rng.choice(6, p=p))
        rows.append(
            {
                "id": i + 1,
                "age": 30,
                "gender": "female",
                "mood": 3,
                "track_id": f"t{j}",
                "choice_probability": p[j],
                "reward": float(feats[j, 1] + rng.normal(0, 0.1)),
                "candidates": [
                    {"track_id": f"t{k}", "features": dict(zip(SONG_COLUMNS, feats[k], strict=True))}
                    for k in range(6)
                ],
            }
        )
    return rows


def _true_value(policy, rows, exploration):
    total = 0.0
    for row in rows:
        feats = np.array([[c["features"][col] for col in SONG_COLUMNS] for c in row["candidates"]])
        total += served_probabilities(policy.scores(feats, None), exploration) @ feats[:, 1]
    return total / len(rows)


def test_doubly_robust_and_snips_recover_a_new_policys_value():
    rows = _logged(3000, 0.3)
    target = _ByFeature(1)  # prefers the rewarding feature
    truth = _true_value(target, rows, 0.3)

    def exact(row, ids):
        return np.array([c["features"][SONG_COLUMNS[1]] for c in row["candidates"]])

    snips = estimate(rows, target, 0.3)
    dr = estimate(rows, target, 0.3, direct=exact)
    assert snips.estimator == "snips" and dr.estimator == "doubly robust"
    assert snips.value == pytest.approx(truth, abs=0.03)
    assert dr.value == pytest.approx(truth, abs=0.01)  # an exact reward model leaves only the noise's term
    assert dr.logged_value < truth - 0.1  # the logger's own value is lower
    w = np.array(
        [
            served_probabilities(
                target.scores(
                    np.array([[c["features"][col] for col in SONG_COLUMNS] for c in r["candidates"]]), None
                ),
                0.3,
            )[int(r["track_id"][1:])]
            / r["choice_probability"]
            for r in rows
        ]
    )
    assert dr.effective_sample_size == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_compare_refuses_only_a_policy_worse_beyond_the_interval():
    rows = _logged(1500, 0.3, seed=1)
    good, bad = _ByFeature(1), _ByFeature(1, -1.0)
    refused = compare(rows, bad, good, 0.3, samples=300, confidence=0.95, min_ess=10)
    assert refused.has_verdict and refused.refusal() and refused.difference_ci[1] < 0
    accepted = compare(rows, good, bad, 0.3, samples=300, confidence=0.95, min_ess=10)
    assert accepted.refusal() is None and accepted.verdict() == "no worse than the champion"
    few = compare(rows[:5], bad, good, 0.3, samples=300, confidence=0.95, min_ess=50)
    assert not few.has_verdict and few.verdict() == "too few effective samples for a verdict"


def test_shadow_comparison_reads_the_logged_shadow_probabilities():
    rows = _logged(2000, 0.3, seed=2)
    shadow = _ByFeature(1)
    frame = pd.DataFrame(rows)
    frame["shadow_probability"] = [
        served_probabilities(
            shadow.scores(
                np.array([[c["features"][col] for col in SONG_COLUMNS] for c in r["candidates"]]), None
            ),
            0.3,
        )[int(r["track_id"][1:])]
        for r in rows
    ]
    frame.loc[:9, "shadow_probability"] = np.nan  # rows logged before the shadow ran
    out = shadow_comparison(frame, samples=300, confidence=0.95, min_ess=10)
    assert out.challenger.rows == 1990 and out.challenger.skipped == 10
    assert out.challenger.value == pytest.approx(_true_value(shadow, rows, 0.3), abs=0.03)
    assert out.champion.value == pytest.approx(frame["reward"][10:].mean())
    assert out.has_verdict and out.difference_ci[0] > 0


def test_shadow_probabilities_are_logged_as_json_and_validated():
    items = [("a", '{"x": 1.0}', 0.5, 0.9, 0.25), ("b", '{"x": 2.0}', 0.1, 0.1, None)]
    encoded = encode_candidates(items)
    assert json.loads(encoded) == [
        {
            "track_id": "a",
            "features": {"x": 1.0},
            "score": 0.5,
            "probability": 0.9,
            "shadow_probability": 0.25,
        },
        {"track_id": "b", "features": {"x": 2.0}, "score": 0.1, "probability": 0.1},
    ]
    assert Candidate.model_validate(json.loads(encoded)[0]).row()["shadow_probability"] == 0.25
    with pytest.raises(ValueError, match="shadow_probability must be between 0 and 1"):
        Candidate.model_validate({"track_id": "a", "shadow_probability": 1.5})
