"""One listener state from every input (moodtune/state.py): precision weighting, the prior on an
axis nothing informs, HRV readings as arousal, and what the policy reads from it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodtune import state as S
from moodtune.policy.features import ListenerContext
from moodtune.policy.observation import PRIOR, READING, initial_block
from moodtune.settings import get_settings


@pytest.fixture(scope="module")
def cfg():
    return get_settings().state


def test_the_forms_mood_alone_is_the_mood_the_policy_reads(cfg):
    for mood in range(1, 6):
        st = S.estimate([S.from_mood(mood, cfg)], cfg)
        assert st.policy_mood() == mood and st.logged_mood() == mood
        assert st.valence == (mood - 3) / 2 and st.valence_sd == cfg.sources.form.valence_sd
        # nothing said how tense: arousal is the prior's, and the policy gets no reading
        assert (
            st.uninformed == ("arousal",) and st.arousal == cfg.prior.arousal and st.policy_reading() is None
        )
        assert "stress not measured" in st.summary()


def test_sources_combine_by_precision(cfg):
    text = S.from_point("text", -0.6, 0.5, cfg)
    form = S.from_mood(5, cfg)
    st = S.estimate([text, form], cfg)
    wt, wf = 1 / cfg.sources.text.valence_sd**2, 1 / cfg.sources.form.valence_sd**2
    assert st.valence == pytest.approx((-0.6 * wt + 1.0 * wf) / (wt + wf))
    assert st.valence_sd == pytest.approx(1 / math.sqrt(wt + wf))
    assert st.valence_sd < min(cfg.sources.text.valence_sd, cfg.sources.form.valence_sd)
    assert st.arousal == pytest.approx(0.5) and st.arousal_sd == pytest.approx(cfg.sources.text.arousal_sd)
    assert st.stress == pytest.approx(0.75) and st.stress_sd == pytest.approx(cfg.sources.text.arousal_sd / 2)
    assert [o["source"] for o in st.as_dict()["sources"]] == ["text", "form"]


def test_nothing_given_is_the_prior_and_says_so(cfg):
    st = S.estimate([], cfg)
    assert (st.valence, st.arousal, st.valence_sd) == (cfg.prior.valence, cfg.prior.arousal, cfg.prior.sd)
    assert st.uninformed == ("valence", "arousal") and "no input" in st.summary()


def test_an_hrv_reading_is_arousal_with_its_spread(cfg):
    sure_high = S.from_reading({"low": 0.0, "medium": 0.0, "high": 1.0}, cfg)
    assert sure_high.arousal == pytest.approx(2 * cfg.level_stress.high - 1)
    assert sure_high.arousal_sd == pytest.approx(cfg.sources.hrv.arousal_sd)
    unsure = S.from_reading([1 / 3, 1 / 3, 1 / 3], cfg)
    assert unsure.arousal == pytest.approx(0.0, abs=1e-3) and unsure.arousal_sd > 2 * sure_high.arousal_sd
    assert unsure.valence is None and "HRV reads" in unsure.detail
    st = S.estimate([S.from_point("text", 0.4, -0.5, cfg), sure_high], cfg)
    assert -0.5 < st.arousal < sure_high.arousal  # between the two, nearer the surer


def test_level_probabilities_follow_the_stress(cfg):
    calm = S.estimate([S.from_point("text", 0.5, -0.8, cfg)], cfg)
    tense = S.estimate([S.from_point("text", -0.5, 0.8, cfg)], cfg)
    for st in (calm, tense):
        p = st.level_probabilities()
        assert p.shape == (3,) and p.sum() == pytest.approx(1.0) and (p >= 0).all()
    assert calm.level == "low" and tense.level == "high"
    assert tense.as_dict()["stress_level"] == "high" and calm.summary().startswith("pleasant and calm")


@pytest.mark.parametrize(
    "bad", [dict(valence=0.1), dict(valence=0.1, valence_sd=0.0), dict(arousal=float("nan"), arousal_sd=0.3)]
)
def test_observations_refuse_what_cannot_be_weighed(bad):
    with pytest.raises(ValueError, match="sd"):
        S.Observation("text", **bad)
    with pytest.raises(ValueError, match="unknown state source"):
        S.Observation("tarot")


def test_a_starting_reading_reaches_the_policys_first_observation():
    plain = ListenerContext(30, 0, 2.0)
    read = ListenerContext(30, 0, 2.0, (0.1, 0.2, 0.7))
    assert np.allclose(initial_block(plain)[READING], PRIOR)
    assert np.allclose(initial_block(read)[READING], [0.1, 0.2, 0.7])
    assert np.array_equal(np.delete(initial_block(plain), READING), np.delete(initial_block(read), READING))
