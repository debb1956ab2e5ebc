import numpy as np
import pytest

from moodtune import emotions
from moodtune.emotions import EmotionVector, to_dlut


def test_dlut_has_21_categories_in_7_groups():
    assert len(emotions.DLUT_CODES) == 21
    assert len(set(emotions.DLUT_CODES)) == 21
    assert len(emotions.DLUT_GROUPS) == 7
    groups = {c.group for c in emotions.DLUT_CATEGORIES}
    assert groups == set(emotions.DLUT_GROUP_CODES)
    assert {c.code for c in emotions.DLUT_CATEGORIES if c.group == "sorrow"} == {"NB", "NJ", "NH", "PF"}
    assert emotions.CATEGORY_BY_CODE["NB"].chinese == "悲伤"
    for c in emotions.DLUT_CATEGORIES:
        assert -1 <= c.valence <= 1 and -1 <= c.arousal <= 1


@pytest.mark.parametrize("taxonomy", emotions.TAXONOMY_NAMES)
def test_every_label_maps_and_weights_sum_to_one(taxonomy):
    table = emotions.mapping(taxonomy)
    assert set(table) == set(emotions.labels(taxonomy))
    for label, targets in table.items():
        assert targets, f"{taxonomy}:{label} maps nowhere"
        assert set(targets) <= set(emotions.DLUT_CODES)
        assert sum(targets.values()) == pytest.approx(1.0), label
        assert all(w > 0 for w in targets.values())


def test_taxonomy_sizes():
    assert len(emotions.GEMS6) == 6 and len(emotions.GEMS9) == 9
    assert len(emotions.EMOTIC26) == 26
    assert len(emotions.FER7) == 7


def test_emotic_sadness_reaches_nb():
    vec = to_dlut("emotic", {"Sadness": 1.0})
    assert vec.as_dict()["NB"] > 0
    # seed B's reversed dict lost one of Sadness's two categories; we keep both
    assert vec.as_dict()["NJ"] > 0


def test_several_labels_onto_one_category_sum():
    # Sadness, Sensitivity and Suffering all reach NB: their mass adds up.
    vec = to_dlut("emotic", {"Sadness": 0.4, "Sensitivity": 0.3, "Suffering": 0.2})
    assert vec.as_dict()["NB"] == pytest.approx(0.4 * 0.5 + 0.3 + 0.2)
    assert vec.total == pytest.approx(0.9)


def test_unknown_label_is_an_error():
    with pytest.raises(KeyError, match="not a fer label"):
        to_dlut("fer", {"happyish": 1.0})


def test_fine_to_coarse_aggregates_groups():
    vec = EmotionVector.from_dict({"NB": 2.0, "PF": 1.0, "PA": 0.5})
    coarse = vec.to_coarse()
    assert coarse.granularity == "coarse"
    assert coarse.as_dict()["sorrow"] == pytest.approx(3.0)
    assert coarse.as_dict()["joy"] == pytest.approx(0.5)
    assert coarse.total == pytest.approx(vec.total)


def test_from_dict_sums_repeats_and_normalise_is_l1():
    vec = EmotionVector.from_dict({"PA": 1.0}) + EmotionVector.from_dict({"PA": 1.0, "NB": 2.0})
    n = vec.normalise()
    assert n.as_dict()["PA"] == pytest.approx(0.5)
    assert n.total == pytest.approx(1.0)
    assert vec.top(1) == [("PA", 2.0)] or vec.top(1) == [("NB", 2.0)]


def test_empty_vector_cannot_be_normalised():
    with pytest.raises(ValueError, match="no emotion"):
        EmotionVector.zeros().normalise()


def test_granularities_do_not_mix():
    with pytest.raises(ValueError):
        EmotionVector.zeros("fine") + EmotionVector.zeros("coarse")
    with pytest.raises(ValueError, match="7 values"):
        EmotionVector(np.ones(21), "coarse")


def test_valence_arousal_of_sad_and_happy():
    sad_v, sad_a = to_dlut("gems6", {"sadness": 1.0}).valence_arousal()
    happy_v, happy_a = to_dlut("gems6", {"joyful_activation": 1.0}).valence_arousal()
    calm_v, calm_a = to_dlut("gems6", {"calmness": 1.0}).valence_arousal()
    assert sad_v < 0 < happy_v
    assert calm_a < 0 < happy_a


def test_display_names_of_fine_and_coarse_codes():
    assert emotions.display_name("NB") == "悲伤 sadness"
    assert emotions.display_name("sorrow") == "哀 sorrow"
    assert emotions.display_name("not-a-code") == "not-a-code"
