"""The real catalog (moodtune/audio/debian_music.py, catalog_source.py, the catalog group): a
Debian package's music becomes credited tracks (title, artist, package, version, licence from the
copyright file, duration); a folder of the listener's own files becomes the catalog, tags giving
title and artist, bad files listed, a re-run analysing only new files."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import dagster as dg
import numpy as np
import pytest
import soundfile as sf

from moodtune.audio import debian_music
from moodtune.audio.debian_music import MusicPackage, licence_of, parse_copyright

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: testgame
License: GPL-2

Files: *
Copyright: 2010 Game Authors
License: GPL-2

Files: data/music/*
Copyright: 2011-2012 Jane Composer <jane@example.org>
License: CC-BY-SA-3.0

Files: data/music/loop*.ogg
Copyright: 2012 Sam Loops
License: CC0-1.0

Files: debian/*
Copyright: 2013 A Packager
License: GPL-2+
"""


def test_the_copyright_file_names_each_installed_files_licence():
    header, stanzas = parse_copyright(COPYRIGHT)
    assert header == "GPL-2" and len(stanzas) == 4
    # source patterns match the end of the installed path; the last matching stanza wins (DEP-5)
    assert licence_of(stanzas, "usr/share/games/testgame/music/theme.ogg").licence == "CC-BY-SA-3.0"
    assert licence_of(stanzas, "usr/share/games/testgame/music/loop2.ogg").licence == "CC0-1.0"
    assert licence_of(stanzas, "usr/share/games/testgame/images/a.png").licence == "GPL-2"
    assert debian_music.first_holder(licence_of(stanzas, "x/music/theme.ogg").holders) == "Jane Composer"
    assert parse_copyright("This package was debianized by someone.\n\nIt is GPL.") == (None, [])


def _tone(path, seconds: float, freq: float = 330.0, rate: int = 16000):
    t = np.arange(int(rate * seconds)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="OGG")


def _tag(path, **tags):
    from mutagen.oggvorbis import OggVorbis

    audio = OggVorbis(str(path))
    for key, value in tags.items():
        audio[key] = value
    audio.save()


def _package(tmp_path, name: str = "moodtune-test-game-music"):
    """A .deb built here (dpkg-deb) in the cache's download folder, as ``apt-get download`` leaves it."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 2.5-1\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: test music\n"
    )
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    with gzip.open(doc / "changelog.Debian.gz", "wt") as fh:
        fh.write(f"{name} (2.5-1) unstable; urgency=low\n\n  * test\n")
    music = root / "usr" / "share" / "games" / "testgame" / "music"
    music.mkdir(parents=True)
    _tone(music / "battle_theme.ogg", 35.0)
    _tag(
        music / "battle_theme.ogg", title="Siege of the North", artist="Jane Composer", genre="Symphonic Rock"
    )
    _tone(music / "loop1.ogg", 31.0, 440.0)  # untagged: title from the file name, artist from the package
    _tone(music / "jingle.ogg", 4.0)  # a stinger, not a song
    (music / "broken.ogg").write_bytes(b"OggS" + b"\x00" * 200)
    cache = tmp_path / "cache"
    (cache / "debs" / name).mkdir(parents=True)  # where realset.fetch looks for a package's .deb
    subprocess.run(
        ["dpkg-deb", "--build", str(root), str(cache / "debs" / name / f"{name}_2.5-1_all.deb")],
        check=True,
        capture_output=True,
    )
    return MusicPackage(name, ("usr/share/games/testgame/music/*.ogg",), artist="Testgame team"), cache


def test_a_debian_package_becomes_credited_tracks(settings, tmp_path, monkeypatch):
    pkg, cache = _package(tmp_path)
    monkeypatch.setenv("MOODTUNE_AUDIO__CATALOG__CACHE_DIR", str(cache))
    from moodtune.settings import load_settings

    music = debian_music.assemble(load_settings(), packages=[pkg])
    assert music.unavailable is None
    tracks = music.tracks.set_index("track_id")
    assert sorted(tracks.index) == [
        "debian:moodtune-test-game-music:battle_theme",
        "debian:moodtune-test-game-music:loop1",
    ]
    battle = tracks.loc["debian:moodtune-test-game-music:battle_theme"]
    assert (battle.title, battle.artist, battle.genre) == ("Siege of the North", "Jane Composer", "rock")
    assert (battle.package, battle.version, battle.licence) == (
        "moodtune-test-game-music",
        "2.5-1",
        "CC-BY-SA-3.0",
    )
    assert battle.duration == pytest.approx(35.0, abs=0.1)
    assert battle.licence_path.endswith("usr/share/doc/moodtune-test-game-music/copyright")
    loop = tracks.loc["debian:moodtune-test-game-music:loop1"]
    assert (loop.title, loop.artist, loop.licence, loop.genre) == ("Loop1", "Testgame team", "CC0-1.0", None)
    assert len(music.problems) == 1 and "broken.ogg" in music.problems[0]  # listed, not fatal
    assert music.packages[0]["tracks"] == 2


def test_no_apt_falls_back_to_the_demo_clips_and_says_why(settings, monkeypatch):
    from moodtune.audio import catalog_source, realset
    from moodtune.settings import load_settings

    monkeypatch.setenv("MOODTUNE_AUDIO__CATALOG__SOURCE", "auto")
    monkeypatch.setenv("MOODTUNE_AUDIO__CLIPS_PER_CELL", "1")
    monkeypatch.setattr(realset.shutil, "which", lambda tool: None)  # a machine without apt-get and dpkg
    choice = catalog_source.choose_catalog(load_settings())
    assert choice.source == "demo" and "apt-get and dpkg not found" in choice.reason
    assert len(choice.tracks) == 24 and (choice.tracks["source"] == "demo").all()


# --- a folder of real music (files from a Debian package of game music, fetched with apt) --------


# real_music_files: tests/conftest.py (the server profile's library backfill uses them too)


@pytest.mark.slow
def test_a_folder_of_real_music_becomes_the_catalog(settings, tmp_path, monkeypatch, real_music_files):
    from assets.catalog import catalog_features, catalog_tracks
    from assets.resources import SettingsResource

    folder = tmp_path / "my music"
    (folder / "album").mkdir(parents=True)
    for f in real_music_files[:2]:
        shutil.copy(f, folder / "album" / f.name)
    _tag(folder / "album" / real_music_files[0].name, title="My Favourite", artist="Someone Real")
    (folder / "notes.txt").write_text("not music")
    (folder / "bad.mp3").write_bytes(b"ID3" + b"\x00" * 100)
    monkeypatch.setenv("MOODTUNE_AUDIO__CATALOG__SOURCE", "folder")
    monkeypatch.setenv("MOODTUNE_AUDIO__MUSIC_DIR", str(folder))
    monkeypatch.setenv("MOODTUNE_AUDIO__TAGGER__WORKERS", "1")

    def build():
        result = dg.materialize(
            [catalog_tracks, catalog_features], resources={"settings": SettingsResource()}
        )
        assert result.success
        meta = {
            e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()
        }
        return result, meta

    result, meta = build()
    tracks = result.output_for_node("catalog_tracks").set_index("path")
    assert meta["catalog_tracks"]["source"].value == "folder"
    first = tracks.loc[str(folder / "album" / real_music_files[0].name)]
    assert (first.title, first.artist) == ("My Favourite", "Someone Real")  # from the tags
    second = tracks.loc[str(folder / "album" / real_music_files[1].name)]
    assert second.title == real_music_files[1].stem and second.duration > 10  # untagged: the file name
    assert [b["path"].endswith("bad.mp3") for b in meta["catalog_tracks"]["left_out"].value] == [True]
    assert meta["catalog_features"]["computed"].value == 2
    # one new file: only it is analysed
    shutil.copy(real_music_files[2], folder / real_music_files[2].name)
    _, meta = build()
    assert (
        meta["catalog_features"]["computed"].value == 1 and meta["catalog_features"]["cache_hits"].value == 2
    )
