"""Area weighting and summing of per-person emotions, for FER-7 and Emotic-26 alike."""

from __future__ import annotations

import numpy as np
import pytest

from moodtune import emotions
from moodtune.emotions import EmotionVector
from moodtune.image import Box, PersonEmotion, area_weights, people_to_dlut


def _one_hot(taxonomy: str, label: str) -> dict[str, float]:
    return {lab: float(lab == label) for lab in emotions.labels(taxonomy)}


def test_boxes():
    assert Box.of((10, 20, 30, 40)).area == 1200
    assert Box.from_corners(10, 20, 40, 60) == Box(10, 20, 30, 40)
    with pytest.raises(ValueError, match="positive width"):
        Box(0, 0, 0, 5)
    np.testing.assert_allclose(area_weights([(0, 0, 10, 10), (5, 5, 10, 30)]), [0.25, 0.75])
    assert area_weights([]).shape == (0,)


def test_people_are_weighted_by_area_and_summed():
    small_happy = PersonEmotion((0, 0, 10, 10), _one_hot("fer", "happy"))  # area 100
    big_sad = PersonEmotion((50, 0, 10, 30), _one_hot("fer", "sad"))  # area 300
    vec = people_to_dlut([small_happy, big_sad], "fer")
    assert vec.granularity == "fine" and vec.total == pytest.approx(1.0)
    expected = EmotionVector.from_dict({"PA": 0.25, "NB": 0.75 * 0.8, "NJ": 0.75 * 0.2})
    assert vec == expected
    # order of the people does not matter; (box, probabilities) pairs work as well
    assert people_to_dlut([(big_sad.box, big_sad.probabilities), small_happy], "fer") == expected


def test_same_category_from_two_people_is_summed_not_overwritten():
    a = PersonEmotion((0, 0, 10, 10), _one_hot("fer", "happy"))
    b = PersonEmotion((20, 0, 10, 10), _one_hot("fer", "happy"))
    c = PersonEmotion((40, 0, 20, 10), _one_hot("fer", "angry"))  # twice the area
    vec = people_to_dlut([a, b, c], "fer")
    assert vec.as_dict()["PA"] == pytest.approx(0.5) and vec.as_dict()["NA"] == pytest.approx(0.5)


def test_emotic_labels_keep_every_dlut_category():
    """Seed B's reversed dict kept one DLUT category per Emotic label; we keep all of them and
    sum labels that meet in one category."""
    person = PersonEmotion((0, 0, 100, 200), {"Aversion": 1.0, "Disapproval": 1.0})
    vec = people_to_dlut([person], "emotic").as_dict()
    # Aversion -> NJ 0.5 + ND 0.5, Disapproval -> ND 1.0; normalised over the person's mass 2
    assert vec["ND"] == pytest.approx(0.75) and vec["NJ"] == pytest.approx(0.25)
    anticipation = people_to_dlut([((0, 0, 5, 5), {"Anticipation": 0.9})], "emotic").as_dict()
    assert anticipation["PG"] == pytest.approx(0.5) and anticipation["PK"] == pytest.approx(0.5)


def test_emotic_multilabel_scores_are_normalised_per_person_before_area_weighting():
    # a small person scored high on many labels does not outweigh a bigger, calmer person
    eager = PersonEmotion((0, 0, 10, 10), {"Happiness": 0.9, "Pleasure": 0.9, "Excitement": 0.9})
    calm = PersonEmotion((0, 0, 30, 10), {"Peace": 0.3})
    vec = people_to_dlut([eager, calm], "emotic").as_dict()
    assert vec["PE"] == pytest.approx(0.75)
    assert vec["PA"] == pytest.approx(0.25 * 2 / 3) and vec["PH"] == pytest.approx(0.25 / 3)


def test_people_without_emotion_take_no_weight_and_nobody_is_an_error():
    blank = PersonEmotion((0, 0, 100, 100), {})
    happy = PersonEmotion((0, 0, 1, 1), _one_hot("fer", "happy"))
    assert people_to_dlut([blank, happy], "fer").as_dict()["PA"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no person"):
        people_to_dlut([blank], "fer")
    with pytest.raises(ValueError, match="no person"):
        people_to_dlut([], "fer")


def test_bad_labels_and_probabilities_are_errors():
    with pytest.raises(KeyError, match="not a fer label"):
        people_to_dlut([((0, 0, 5, 5), {"joy": 1.0})], "fer")
    with pytest.raises(KeyError, match="not a emotic label|not a emotic"):
        people_to_dlut([((0, 0, 5, 5), {"happy": 1.0})], "emotic")
    with pytest.raises(KeyError, match="unknown taxonomy"):
        people_to_dlut([((0, 0, 5, 5), {"happy": 1.0})], "plutchik")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        people_to_dlut([((0, 0, 5, 5), {"happy": 1.5})], "fer")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        people_to_dlut([((0, 0, 5, 5), {"happy": float("nan")})], "fer")
