"""A reason names only the emotions that read above 0.00 (issue 31): the photo's and the text's
reason ("its emotion is closest to the photo's (...)") and a track's "sounds ..." phrase."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from moodtune.emotions import DLUT_GROUP_CODES, EmotionVector, display_name
from moodtune.serving.reasons import MIN_NAMED_STRENGTH, Summaries, named_emotions


def _row(code: str, strength: float) -> dict:
    return {"code": code, "name": display_name(code), "strength": strength}


def test_named_emotions_leaves_out_what_reads_zero_and_keeps_the_order():
    top = [_row("joy", 0.9777), _row("surprise", 0.0217), _row("good", 0.0004)]
    assert named_emotions(top, 2) == ["乐 joy", "惊 surprise"]
    assert named_emotions(top, 3) == ["乐 joy", "惊 surprise"]  # 0.0004 reads 0.00
    assert named_emotions([_row("joy", 0.9999), _row("surprise", 0.0001)], 2) == ["乐 joy"]
    assert named_emotions([_row("joy", 0.6), _row("surprise", 0.4)], 1) == ["乐 joy"]
    # the threshold is where two decimals start to read 0.01
    assert f"{MIN_NAMED_STRENGTH:.2f}" == "0.01" and f"{MIN_NAMED_STRENGTH - 1e-9:.2f}" == "0.00"


def test_named_emotions_always_names_the_strongest():
    assert named_emotions([_row("sorrow", 0.001)], 2) == ["哀 sorrow"]


def test_a_tracks_phrase_names_no_emotion_at_0_00():
    profile = {
        "track_id": "t1",
        "genre": "rock",
        "genres": {"rock": 0.9, "pop": 0.1, "classical": 0.0, "electronic": 0.0},
        "emotions": {
            "sadness": 1.0,
            "tension": 0.0001,
            "power": 0.0,
            "calmness": 0.0,
            "tenderness": 0.0,
            "joyful_activation": 0.0,
        },
    }
    assert Summaries(2)(profile) == "sounds sad (1.00); rock (0.90)"
    profile = {**profile, "track_id": "t2", "emotions": {**profile["emotions"], "tension": 0.3}}
    assert Summaries(2)(profile) == "sounds sad (1.00) and tense (0.30); rock (0.90)"


class _Catalog(dict):
    """No track of the fake hits is in it: their profiles are null."""


@pytest.fixture
def photo_engine(settings, monkeypatch):
    """The service's Engine on fakes: a photo whose people read joy 0.9999 and surprise 0.0001."""
    import moodtune.image
    from moodtune.serving.engine import Engine

    query = EmotionVector(
        [{"joy": 0.9999, "surprise": 0.0001}.get(c, 0.0) for c in DLUT_GROUP_CODES], "coarse"
    )
    hits = [
        SimpleNamespace(track_id=f"song-{i}", name=f"Song {i}", artists="someone", distance=0.1 * i)
        for i in (1, 2)
    ]
    result = SimpleNamespace(
        emotion=SimpleNamespace(
            as_dict=lambda: {"message": "1 face found", "faces": [], "valence": 0.6, "arousal": 0.3},
            emotion=query,
        ),
        query=query,
        tracks=hits,
    )
    monkeypatch.setattr(moodtune.image, "recommend_from_image", lambda *a, **k: result)
    ms = SimpleNamespace(
        catalog=_Catalog(),
        face=None,
        track_index=None,
        versions={"moodtune-face": "1", "moodtune-text-index": "1"},
    )
    return Engine(settings, SimpleNamespace(current=ms), writer=None)


def test_the_photos_reason_leaves_out_an_emotion_at_0_00(photo_engine):
    from moodtune.serving.answers import Upload
    from moodtune.serving.requests import RecommendImageRequest

    req = RecommendImageRequest(k=2, mode="match")  # the nearest tracks' reason
    plan = photo_engine.plan_image(req, Upload("face.jpg", b"\xff\xd8 a photo"))
    # the answer still lists both strengths; the reason names only the one that reads above 0.00
    assert [t["name"] for t in plan.answer.query_top] == ["乐 joy", "惊 surprise"]
    for track in plan.answer.tracks:
        assert "closest to the photo's (乐 joy)" in track["reason"], track["reason"]
        assert "surprise" not in track["reason"]
