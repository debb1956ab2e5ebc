"""The catalog table: built from clips, the audio model's output and track text emotions;
saved, loaded and used by the service (no models needed: the inputs are small frames)."""

import numpy as np
import pandas as pd
import pytest

from moodtune.emotions import DLUT_GROUP_CODES, GEMS6, GENRES
from moodtune.errors import InvalidInput, ModelNotFound
from moodtune.serving.catalog import (
    SONG_COLUMNS,
    Catalog,
    build_catalog,
    catalog_dir,
    save_catalog,
    song_profile,
)


def _inputs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"t{i}" for i in range(n)]
    clips = pd.DataFrame(
        {
            "track_id": ids,
            "path": [f"/music/{t}.wav" for t in ids],
            "title": [f"song {i}" for i in range(n)],
            "artist": "a",
            "genre": ["rock", "pop", None, "classical", "rock", "electronic"][:n],
            "source": "folder",
        }
    )
    gems = rng.random((n, 6))
    logits = rng.normal(size=(n, 4))
    genres = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = pd.DataFrame(np.hstack([gems, genres]), index=ids, columns=list(SONG_COLUMNS))
    text = pd.DataFrame(
        {
            "track_id": ids[:4],
            "found": [True, True, False, True],
            "keywords": ["快乐:3.1 开心:2", "难过:4", "", "害怕:1"],
        }
    )
    vec = np.zeros((4, 7))
    vec[0, 0], vec[1, 3], vec[3, 4] = 1.0, 1.0, 1.0
    for j, code in enumerate(DLUT_GROUP_CODES):
        text[code] = vec[:, j]
    text.attrs["granularity"] = "coarse"
    return clips, predicted, text


def test_build_joins_audio_and_text_profiles():
    clips, predicted, text = _inputs()
    table, meta = build_catalog(clips, predicted, text, model_versions={"moodtune-audio": "7"})
    assert list(table["track_id"]) == list(clips["track_id"])
    np.testing.assert_allclose(table[list(SONG_COLUMNS)].to_numpy(), predicted.to_numpy())
    # predicted genre and top emotion are the argmaxes of the model's output
    assert list(table["genre"]) == list(predicted[list(GENRES)].idxmax(axis=1))
    assert list(table["emotion"]) == list(predicted[list(GEMS6)].idxmax(axis=1))
    assert table["valence"].between(-1, 1).all() and table["arousal"].between(-1, 1).all()
    # texts: found ones joined (t2 has none found, t4/t5 have no texts at all)
    assert list(table["has_text"]) == [True, True, False, True, False, False]
    assert list(table["text_emotion"][:4]) == ["joy", "sorrow", None, "fear"]
    assert meta["tracks"] == 6 and meta["tracks_with_text"] == 3
    assert meta["model_versions"] == {"moodtune-audio": "7"} and meta["text_granularity"] == "coarse"


def test_valence_follows_the_emotion():
    ids = ["happy", "sad"]
    clips = pd.DataFrame(
        {"track_id": ids, "path": "", "title": ids, "artist": "", "genre": None, "source": "x"}
    )
    rows = np.zeros((2, 10))
    rows[0, GEMS6.index("joyful_activation")] = 0.9
    rows[1, GEMS6.index("sadness")] = 0.9
    rows[:, 6] = 1.0
    table, _ = build_catalog(
        clips, pd.DataFrame(rows, index=ids, columns=list(SONG_COLUMNS)), None, model_versions={}
    )
    assert table.loc[0, "valence"] > 0.5 > -0.5 > table.loc[1, "valence"]
    assert not table["has_text"].any()


def test_a_clip_without_prediction_is_an_error_not_a_drop():
    clips, predicted, text = _inputs()
    with pytest.raises(InvalidInput, match="1 clips have no audio prediction.*t5"):
        build_catalog(clips, predicted.drop(index="t5"), text, model_versions={})
    with pytest.raises(InvalidInput, match="lacks the columns"):
        build_catalog(clips, predicted.drop(columns=["rock"]), text, model_versions={})


def test_save_load_and_lookups(tmp_path):
    clips, predicted, text = _inputs()
    table, meta = build_catalog(clips, predicted, text, model_versions={"moodtune-audio": "3"})
    save_catalog(table, meta, tmp_path)
    catalog = Catalog.load(tmp_path)
    assert len(catalog) == 6 and "t3" in catalog and "zz" not in catalog
    assert catalog.model_versions == {"moodtune-audio": "3"}
    playlist = catalog.playlist(["t3", "t0"])
    assert list(playlist.index) == ["t3", "t0"] and list(playlist.columns) == list(SONG_COLUMNS)
    np.testing.assert_allclose(playlist.loc["t0"].to_numpy(), predicted.loc["t0"].to_numpy())
    profile = catalog.profile("t0")
    assert profile["text"]["top"] == "joy" and profile["text"]["keywords"] == ["快乐", "开心"]
    assert profile["label_genre"] == "rock" and catalog.profile("t2")["label_genre"] is None
    assert sum(profile["genres"].values()) == pytest.approx(1.0, abs=1e-3)
    # audio is looked up by id and only served when the file exists on the server
    assert catalog.audio_path("t0") is None
    assert [r["track_id"] for r in catalog.listing(offset=2, limit=2)] == ["t2", "t3"]


def test_unknown_and_repeated_ids_say_what_to_fix(tmp_path):
    clips, predicted, text = _inputs()
    catalog = Catalog.from_table(*build_catalog(clips, predicted, text, model_versions={}))
    with pytest.raises(InvalidInput, match=r"2 track id\(s\) are not in the catalog: 'x', 'y'"):
        catalog.rows(["t0", "x", "y"])
    with pytest.raises(InvalidInput, match="'t1' more than once"):
        catalog.rows(["t1", "t0", "t1"])


def test_missing_catalog_names_how_to_build_it(tmp_path, settings):
    with pytest.raises(ModelNotFound, match="group:catalog"):
        Catalog.load(tmp_path / "nothing")
    assert catalog_dir(settings) == settings.data_dir / "catalog"


def test_upload_profile_matches_catalog_profile_shape():
    probs = dict(zip(SONG_COLUMNS, [0.1, 0.9, 0, 0, 0, 0.2, 0.7, 0.1, 0.1, 0.1], strict=True))
    p = song_profile("upload-1", probs, title="x.wav")
    assert p["genre"] == "classical" and p["emotion"] == "calmness" and p["source"] == "upload"
    assert p["valence"] > 0 and p["arousal"] < 0  # calm and tender: pleasant, low arousal


def test_pre_encoded_event_and_answer_text_equal_plain_json():
    import json

    from moodtune.serving.answers import plain as plain_answer
    from moodtune.serving.catalog import logged_features, profile_json
    from moodtune.serving.engine import Plan
    from moodtune.serving.eventlog import encode_candidates
    from moodtune.serving.responses import Recommendation

    rng = np.random.default_rng(1)
    feats = [logged_features(rng.random(10)) for _ in range(5)]
    items = [
        (f"t{i}", json.dumps(f), float(rng.normal()), float(rng.random()) if i else None)
        for i, f in enumerate(feats)
    ]
    plain = [
        {"track_id": t, "features": f, "score": s, "probability": p}
        for (t, _, s, p), f in zip(items, feats, strict=True)
    ]
    assert encode_candidates(items) == json.dumps(plain)
    with pytest.raises(Exception, match="non-finite"):
        encode_candidates([("t", "{}", float("nan"), 0.1)])
    profiles = [
        song_profile(f"u{i}", dict(zip(SONG_COLUMNS, rng.random(10), strict=True)), title="歌")
        for i in range(2)
    ]
    answer = Recommendation.model_construct(
        tracks=[{"rank": i + 1, "track_id": p["track_id"], "profile": p} for i, p in enumerate(profiles)],
        k=2,
        model_versions={"m": "1"},
    )
    plan = Plan(answer, None, tuple(profile_json(p) for p in profiles))
    assert json.loads(plan.json("abc")) == plain_answer(plan.complete("abc"))
    assert set(json.loads(plan.json("abc"))) == {"tracks", "k", "model_versions", "recommendation_id"}
