"""The real-music set's package handling, on a small .deb built here (no network)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import fake_deb

from moodtune.audio import realset
from moodtune.audio.realset import RealPackage, cut_clips, fetch, fetch_all

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _deb(tmp_path, name: str) -> None:
    def fill(music):
        t = np.arange(16000 * 8) / 16000
        sf.write(music / "song.ogg", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)

    fake_deb(tmp_path, name, fill)


def test_fetch_extracts_once_and_keeps_no_deb(tmp_path):
    _deb(tmp_path, "moodtune-test-music")
    cache = tmp_path / "cache"
    root = fetch("moodtune-test-music", cache)
    assert (root / "usr/share/music/song.ogg").is_file()
    assert not list((cache / "debs").rglob("*.deb"))  # deleted after extraction
    assert fetch("moodtune-test-music", cache) == root  # a second call reads the extracted tree
    pkg = RealPackage(
        "moodtune-test-music", "classical", "train", "usr/share/music/*.ogg", "test", "CC0", clips_per_track=2
    )
    made = cut_clips(pkg, root / "usr/share/music/song.ogg", cache / "clips", 3.0)
    assert [t for t, _ in made] == ["real:moodtune-test-music:song:0", "real:moodtune-test-music:song:1"]
    for _t, path in made:
        assert sf.info(str(path)).duration == pytest.approx(3.0, abs=1e-3)


def test_packages_fetched_side_by_side_are_each_extracted_once(tmp_path, monkeypatch):
    for name in ("moodtune-test-a", "moodtune-test-b"):
        _deb(tmp_path, name)
    cache = tmp_path / "cache"
    extracted = []
    real = realset._download_and_extract

    def counting(package, cache_, target):
        extracted.append(package)
        real(package, cache_, target)

    monkeypatch.setattr(realset, "_download_and_extract", counting)
    # the catalog and the real set ask for the same packages at once: one extracts, the other waits
    got = fetch_all(
        ["moodtune-test-a", "moodtune-test-b", "moodtune-test-a", "moodtune-test-b"], cache, workers=4
    )
    assert sorted(extracted) == ["moodtune-test-a", "moodtune-test-b"]
    for name, root in got.items():
        assert not isinstance(root, Exception) and (root / "usr/share/music/song.ogg").is_file(), name
