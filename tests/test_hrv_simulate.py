"""The RR simulator: deterministic, physiological in direction, continuous in stress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodtune.hrv import LEVELS, metrics
from moodtune.hrv.simulate import simulate_dataset, simulate_rr, simulate_subject
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code


def test_same_seed_same_series_and_subjects_differ():
    a = simulate_rr(0.5, 120, np.random.default_rng(1))
    b = simulate_rr(0.5, 120, np.random.default_rng(1))
    c = simulate_rr(0.5, 120, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)
    assert 120 <= a.sum() / 1000 <= 122  # covers the requested seconds, at most one beat more
    s1, s2 = simulate_subject(np.random.default_rng(5)), simulate_subject(np.random.default_rng(6))
    assert s1 != s2 and 50 <= s1.hr_rest <= 92


def test_stress_raises_heart_rate_and_suppresses_respiratory_hf():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(12):
        subject = simulate_subject(rng)
        for stress in (0.0, 0.5, 1.0):
            m = metrics(simulate_rr(stress, 300, rng, subject), HRV.metrics)
            rows.append({"stress": stress, **m, "lf_share": m["LF"] / (m["LF"] + m["HF"])})
    med = pd.DataFrame(rows).groupby("stress").median()
    assert med["HR"].is_monotonic_increasing and med["HR"].loc[1.0] - med["HR"].loc[0.0] > 8
    assert med["HF"].is_monotonic_decreasing and med["HF"].loc[1.0] < 0.5 * med["HF"].loc[0.0]
    assert med["RMSSD"].is_monotonic_decreasing
    assert med["lf_share"].is_monotonic_increasing  # power shifts from HF to LF
    # resting values in the range of healthy adults' short-term HRV
    assert 55 <= med["HR"].loc[0.0] <= 80 and 20 <= med["RMSSD"].loc[0.0] <= 80


def test_stress_is_continuous_and_can_follow_a_trajectory():
    subject = simulate_subject(np.random.default_rng(9))
    hr = [
        np.mean(60000 / simulate_rr(s, 300, np.random.default_rng(1), subject)) for s in np.linspace(0, 1, 6)
    ]
    assert np.all(np.diff(hr) > 0)
    rising = simulate_rr([0.0, 1.0], 600, np.random.default_rng(2), subject)
    t = np.cumsum(rising) / 1000
    assert rising[t > 450].mean() < rising[t < 150].mean() - 60  # faster heart at the end


@pytest.mark.parametrize("stress", [-0.1, 1.5, np.nan, []])
def test_stress_outside_zero_one_is_refused(stress):
    with pytest.raises(ValueError, match=r"stress must be in \[0, 1\]"):
        simulate_rr(stress, 60, np.random.default_rng(0))


def test_demo_dataset_is_deterministic_and_balanced():
    a = simulate_dataset(3, 2, 90, seed=42)
    b = simulate_dataset(3, 2, 90, seed=42)
    assert len(a) == 3 * 3 * 2 and a["subject"].nunique() == 3
    assert (a["level"].value_counts().reindex(LEVELS) == 6).all()
    assert all(np.array_equal(x, y) for x, y in zip(a["rr_ms"], b["rr_ms"], strict=True))
    assert a.groupby("level")["stress"].mean().reindex(LEVELS).is_monotonic_increasing
