"""Where clips come from: Emotify in its real layout, a folder of user music with bad files,
and the deterministic demo set - each through the ``audio_clips`` asset or its loader."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from dagster import materialize

from assets.audio import audio_clips, audio_features, audio_label_balance
from assets.resources import SettingsResource
from definitions import build_resources
from moodtune.audio.datasets import emotify_labels, load_folder, read_emotify_annotations, write_demo
from moodtune.audio.synth import EMOTION_PROFILES, synthesise
from moodtune.data.demo_catalog import demo_catalog
from moodtune.emotions import GEMS6, GEMS9, GENRES
from moodtune.errors import ConfigError
from moodtune.settings import get_settings

SR = 22050
EMOTIFY_HEADER = (
    "track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power, "
    "joyful_activation, tension, sadness, mood, liked, disliked, age, gender, mother tongue"
)


def tone(freq, seconds=2.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))


def materialized_metadata(result, node):
    return result.asset_materializations_for_node(node)[0].metadata


def make_emotify(root):
    """A small Emotify in the real layout: global track ids 1..8 in data.csv (2 per genre, in
    Emotify's genre order), audio numbered 1..n inside each genre folder, 44.1 kHz mp3.
    Listeners per track: 5; track k's marks are chosen so the shares are known."""
    root.mkdir(parents=True)
    genres = ["classical", "classical", "rock", "rock", "electronic", "electronic", "pop", "pop"]
    lines = [EMOTIFY_HEADER]
    rng = np.random.default_rng(0)
    for track_id, genre in enumerate(genres, start=1):
        for listener in range(5):
            marks = dict.fromkeys(GEMS9, 0)
            # tenderness marked by 3 of 5 listeners on odd tracks, by 1 of 5 on even ones
            marks["tenderness"] = int(listener < (3 if track_id % 2 else 1))
            marks["power"] = int(listener < 2)  # 2 of 5 on every track: share 0.4
            marks["sadness"] = int(listener == 0 and track_id == 8)  # 1 of 5: share 0.2
            marks["nostalgia"] = int(listener < 4)
            lines.append(
                ", ".join(
                    str(v)
                    for v in [
                        track_id,
                        genre,
                        *(marks[e] for e in GEMS9),
                        int(rng.integers(1, 6)),
                        int(rng.integers(0, 2)),
                        int(rng.integers(0, 2)),
                        int(rng.integers(18, 60)),
                        int(rng.integers(0, 2)),
                        "English",
                    ]
                )
            )
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    for genre in GENRES:
        (root / genre).mkdir(parents=True)
    for rank, genre in [
        (1, "classical"),
        (2, "classical"),
        (1, "rock"),
        (2, "rock"),
        (1, "electronic"),
        (1, "pop"),
        (2, "pop"),
    ]:  # electronic/2 is missing
        sf.write(root / genre / f"{rank}.mp3", tone(220 * rank, sr=44100), 44100)
    (root / "pop" / "2.mp3").write_bytes(b"ID3" + bytes(500))  # a corrupt mp3
    return root


def test_emotify_annotations_become_listener_share_labels(tmp_path):
    root = make_emotify(tmp_path / "emotify")
    annotations = read_emotify_annotations(root)
    assert len(annotations) == 40
    assert {"track_id", "genre", "mood", "liked", "disliked", "age", "gender", "mother_tongue"} <= set(
        annotations
    )
    labels = emotify_labels(annotations, threshold=0.3).set_index("track_id")
    assert labels.loc[1, "share_tenderness"] == pytest.approx(0.6)
    assert labels.loc[2, "share_tenderness"] == pytest.approx(0.2)
    assert labels.loc[1, "tenderness"] == 1 and labels.loc[2, "tenderness"] == 0
    assert (labels["power"] == 1).all()  # 0.4 >= 0.3
    assert labels.loc[8, "share_sadness"] == pytest.approx(0.2) and labels.loc[8, "sadness"] == 0
    assert labels.loc[1, "share_nostalgia"] == pytest.approx(0.8)  # GEMS-9 shares are kept
    assert (labels["n_listeners"] == 5).all()
    assert list(labels["rank_in_genre"]) == [1, 2, 1, 2, 1, 2, 1, 2]
    stricter = emotify_labels(annotations, threshold=0.5).set_index("track_id")
    assert (stricter["power"] == 0).all() and stricter.loc[1, "tenderness"] == 1


def test_audio_clips_reads_emotify_and_reports_missing_and_corrupt_audio(tmp_path):
    root = make_emotify(tmp_path / "emotify")
    resources = build_resources(SettingsResource(overrides_yaml=f"audio: {{emotify_dir: '{root}'}}"))
    result = materialize([audio_clips, audio_label_balance], resources=resources)
    assert result.success
    clips = result.output_for_node("audio_clips").set_index("track_id")
    assert list(clips.index) == ["emotify-1", "emotify-2", "emotify-3", "emotify-4", "emotify-5", "emotify-7"]
    assert (clips["source"] == "emotify").all()
    assert clips.loc["emotify-3", "genre"] == "rock"
    assert clips.loc["emotify-3", "path"] == str((root / "rock" / "1.mp3").resolve())  # rank within genre
    assert clips.loc["emotify-7", "path"].endswith("pop/1.mp3")
    assert clips.loc["emotify-1", "tenderness"] == 1.0 and clips.loc["emotify-2", "tenderness"] == 0.0
    assert clips.loc["emotify-1", "share_tenderness"] == pytest.approx(0.6)
    assert {f"share_{e}" for e in GEMS9} <= set(clips.columns)
    assert clips[list(GEMS6)].isin([0.0, 1.0]).all().all()

    meta = materialized_metadata(result, "audio_clips")
    assert meta["clips"].value == 6 and meta["bad_count"].value == 2
    problems = {b["path"].split("emotify/")[-1]: b["problem"] for b in meta["bad_files"].data}
    assert "Emotify track 6: audio file not found" in problems["electronic/2.mp3"]
    assert "pop/2.mp3 is corrupt" in problems["pop/2.mp3"]
    # calmness is never marked: the balance check warns about it
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and "calmness: no positives" in check.metadata["problems"].data


def test_emotify_needs_its_annotations(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(ConfigError, match="data.csv"):
        read_emotify_annotations(tmp_path / "e")
    (tmp_path / "e" / "data.csv").write_text("track id, genre, mood\n1, rock, 3\n")
    with pytest.raises(ConfigError, match="amazement"):
        read_emotify_annotations(tmp_path / "e")


def test_a_music_folder_with_bad_files_processes_the_rest(tmp_path):
    music = tmp_path / "music"
    (music / "album").mkdir(parents=True)
    sf.write(music / "one.wav", tone(330), SR)
    sf.write(music / "album" / "two.flac", tone(440), SR)
    sf.write(music / "album" / "three.ogg", tone(550), SR)
    sf.write(music / "four.mp3", tone(660, sr=44100), 44100)
    (music / "empty.mp3").write_bytes(b"")
    (music / "notes.wav").write_text("not a song")
    sf.write(music / "silence.flac", np.zeros(2 * SR), SR)
    sf.write(music / "blip.wav", tone(440, 0.2), SR)
    (music / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    resources = build_resources(SettingsResource(overrides_yaml=f"audio: {{music_dir: '{music}'}}"))
    result = materialize([audio_clips, audio_features], resources=resources)
    assert result.success
    clips = result.output_for_node("audio_clips")
    assert sorted(clips["track_id"]) == [
        "folder-album/three.ogg",
        "folder-album/two.flac",
        "folder-four.mp3",
        "folder-one.wav",
    ]
    assert (clips["source"] == "folder").all() and clips[list(GEMS6)].isna().all().all()
    assert clips["genre"].isna().all()
    meta = materialized_metadata(result, "audio_clips")
    assert meta["bad_count"].value == 4
    problems = " | ".join(b["problem"] for b in meta["bad_files"].data)
    for expected in (
        "empty.mp3 is empty",
        "notes.wav is not audio",
        "silence.flac is silent",
        "blip.wav is too short",
    ):
        assert expected in problems
    assert meta["ignored_files"].data == ["cover.jpg"]
    features = result.output_for_node("audio_features")
    assert sorted(features.index) == sorted(clips["track_id"])
    assert np.isfinite(features.to_numpy()).all()


def test_demo_set_is_deterministic_labelled_and_skipped_when_present(tmp_path):
    a = write_demo(tmp_path / "a", n_per_cell=1, seconds=1.5, sample_rate=SR, seed=3)
    b = write_demo(tmp_path / "b", n_per_cell=1, seconds=1.5, sample_rate=SR, seed=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*.flac"))
    assert len(files) == 24 and files == sorted(p.relative_to(b) for p in b.rglob("*.flac"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    stamp = {f: (a / f).stat().st_mtime_ns for f in files}
    write_demo(a, n_per_cell=1, seconds=1.5, sample_rate=SR, seed=3)  # up to date: not rewritten
    assert stamp == {f: (a / f).stat().st_mtime_ns for f in files}

    clips = load_folder(a, get_settings().audio.decode, source="demo").clips.set_index("track_id")
    catalog = demo_catalog(1, 3).set_index("track_id")
    assert sorted(clips.index) == sorted(catalog.index)
    pd.testing.assert_frame_equal(clips.loc[catalog.index, list(GEMS6)], catalog[list(GEMS6)].astype(float))
    assert (clips.loc[catalog.index, "genre"] == catalog["genre"]).all()
    assert (clips["source"] == "demo").all()
    info = sf.info(clips["path"].iloc[0])
    assert info.samplerate == SR and info.duration == pytest.approx(1.5)

    c = write_demo(tmp_path / "a", n_per_cell=1, seconds=1.5, sample_rate=SR, seed=4)  # another seed
    assert any((c / f).read_bytes() != (b / f).read_bytes() for f in files)


def test_emotion_lives_in_loudness_tempo_and_mode():
    catalog = demo_catalog(6, 0)
    rows = catalog[(catalog["genre"] == "pop") & (catalog[list(GEMS6)].sum(axis=1) == 1)]
    level = {}
    for emotion in ("power", "calmness"):
        picks = rows[rows["primary_emotion"] == emotion].to_dict("records")[:3]
        level[emotion] = np.mean([np.sqrt(np.mean(synthesise(r, 2.0, SR, 0)[0] ** 2)) for r in picks])
    assert level["power"] > 2.5 * level["calmness"]
    sad = [
        synthesise(r, 0.5, SR, 0)[1] for r in rows[rows["primary_emotion"] == "sadness"].to_dict("records")
    ]
    joy = [
        synthesise(r, 0.5, SR, 0)[1]
        for r in rows[rows["primary_emotion"] == "joyful_activation"].to_dict("records")
    ]
    assert all(p.minor for p in sad) and not any(p.minor for p in joy)
    assert min(p.tempo for p in joy) > max(p.tempo for p in sad)
    assert EMOTION_PROFILES["tension"]["dissonance"] > EMOTION_PROFILES["calmness"]["dissonance"]
