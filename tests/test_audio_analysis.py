"""analyse(): the path of audio_features and audio_library, one pass per file (issue #27):
each file decoded once for the hand features and the tagger, the tagger's forward pass holding
one file's patches, both caches read back, the same numbers as each part on its own."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import moodtune.audio.decode as decode_module
from moodtune.audio.analysis import analyse
from moodtune.audio.features import extract_features
from moodtune.audio.musicnn import tagger


@pytest.fixture
def in_process(isolated_env):
    """params.yaml's settings with no worker processes (the counting below sees every call)."""
    from moodtune.settings import load_settings

    return load_settings(overrides={"audio": {"features": {"n_jobs": 1}, "tagger": {"workers": 1}}})


def _files(root, n=3, seconds=3.5):
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    out = {}
    for i in range(n):
        y = 0.4 * np.sin(2 * np.pi * (220 + 110 * i) * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        out[f"t{i}"] = root / f"t{i}.ogg"
        sf.write(out[f"t{i}"], np.stack([y, 0.5 * y], axis=1).astype(np.float32), sr)
    return out


@pytest.fixture
def reads(monkeypatch):
    """Counts the files decoded (every read goes through _read_soundfile)."""
    calls = []
    real = decode_module._read_soundfile

    def counting(fileobj, max_seconds):
        calls.append(str(fileobj))
        return real(fileobj, max_seconds)

    monkeypatch.setattr(decode_module, "_read_soundfile", counting)
    return calls


def test_each_file_is_decoded_once_for_features_and_tags_and_gives_the_same_numbers(
    tmp_path, in_process, reads
):
    files = _files(tmp_path)
    result = analyse(in_process, {k: str(v) for k, v in files.items()})
    assert sorted(reads) == sorted(str(p) for p in files.values())  # one decode per file, not one per part
    assert list(result.features.index) == list(files) and not result.failed
    a = in_process.audio
    for track_id, path in files.items():
        row = result.features.loc[track_id]
        expected = extract_features(path, a.features, a.decode)
        assert row[list(expected)].tolist() == list(expected.values())
        np.testing.assert_allclose(
            row[list(tagger.TAGGER_COLUMNS)].to_numpy(float),
            list(tagger.tag(path, a.tagger, a.decode).values()),
            rtol=0,
            atol=1e-6,
        )
    assert result.stats["computed"] == result.stats["tags_computed"] == 3


def test_a_forward_pass_holds_one_files_patches(tmp_path, in_process, monkeypatch):
    seen = []
    real = tagger.run_models

    def recording(batch, **kw):
        seen.append(len(batch))
        return real(batch, **kw)

    monkeypatch.setattr(tagger, "run_models", recording)
    analyse(in_process, {k: str(v) for k, v in _files(tmp_path, n=4, seconds=7.0).items()})
    assert seen == [2, 2, 2, 2]  # 7 s: two 3 s patches per file, each file's own pass (not 8 patches at once)


def test_cached_files_are_not_decoded_again_and_a_missing_part_is_computed_alone(tmp_path, in_process, reads):
    files = {k: str(v) for k, v in _files(tmp_path).items()}
    first = analyse(in_process, files)
    reads.clear()
    again = analyse(in_process, files)
    assert reads == [] and again.stats["cache_hits"] == again.stats["tag_cache_hits"] == 3
    assert again.stats["computed"] == again.stats["tags_computed"] == 0
    np.testing.assert_array_equal(again.features.to_numpy(), first.features.to_numpy())
    for npy in (in_process.data_path("audio", "tag_cache")).rglob("*.npy"):
        npy.unlink()  # the tags are gone, the features stay: one decode per file, features read back
    third = analyse(in_process, files)
    assert len(reads) == 3 and third.stats["cache_hits"] == 3 and third.stats["tags_computed"] == 3
    np.testing.assert_allclose(third.features.to_numpy(), first.features.to_numpy(), rtol=0, atol=1e-6)


def test_a_bad_file_is_listed_and_the_rest_analysed(tmp_path, in_process):
    files = {k: str(v) for k, v in _files(tmp_path, n=2).items()}
    whole = (tmp_path / "t0.ogg").read_bytes()
    (tmp_path / "cut.ogg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "quiet.wav").write_bytes(b"")
    files.update(
        cut=str(tmp_path / "cut.ogg"), quiet=str(tmp_path / "quiet.wav"), gone=str(tmp_path / "none.ogg")
    )
    result = analyse(in_process, files)
    assert list(result.features.index) == ["t0", "t1"]
    assert set(result.failed) == {"cut", "quiet", "gone"} and "truncated" in result.failed["cut"]
