"""One-STFT features: values that mean what they say, agreement with the seed's per-feature
librosa calls, bytes == path, batches in parallel, the content-hash cache, bad clips."""

import numpy as np
import pytest
import soundfile as sf

from moodtune.audio.features import (
    extract_batch,
    extract_features,
    feature_config,
    feature_key,
    feature_names,
    feature_settings,
)
from moodtune.audio.reference import SHARED_FEATURES, compare, reference_features
from moodtune.audio.synth import synthesise
from moodtune.data.demo_catalog import demo_catalog
from moodtune.errors import InvalidAudio
from moodtune.settings import get_settings

SR = 22050
AUDIO = get_settings().audio  # the audio.features and audio.decode sections, given to the extractor
FEATURES, LIMITS = AUDIO.features, AUDIO.decode


def clicks(bpm=120.0, seconds=8.0, amp=0.8):
    y = np.zeros(int(seconds * SR))
    click = amp * np.sin(2 * np.pi * 1000 * np.arange(400) / SR) * np.exp(-np.arange(400) / 80)
    for start in np.arange(0, seconds, 60.0 / bpm):
        i = int(start * SR)
        y[i : i + 400] += click[: len(y) - i]
    return y


def tone(freq, seconds=3.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def write(path, y):
    sf.write(path, y, SR)
    return path


def test_features_are_named_finite_floats_and_mean_what_they_say(tmp_path):
    f = extract_features(write(tmp_path / "clicks.wav", clicks(120)), FEATURES, LIMITS)
    assert list(f) == feature_names(FEATURES) and len(f) == 166
    assert all(isinstance(v, float) and np.isfinite(v) for v in f.values())
    assert f["tempo"] == pytest.approx(120, rel=0.05)
    # the strongest tempogram lag is a metrical level of the beat (autocorrelation also peaks
    # at twice the period; which one wins depends on how the period falls on the frame grid)
    assert min(abs(f["tempogram_peak_bpm"] / level - 1) for level in (60, 120, 240)) < 0.08
    assert f["silence_share"] > 0.3  # mostly gaps between clicks

    quiet = extract_features(write(tmp_path / "quiet.wav", tone(440, amp=0.1)), FEATURES, LIMITS)
    loud = extract_features(write(tmp_path / "loud.wav", tone(440, amp=0.4)), FEATURES, LIMITS)
    high = extract_features(write(tmp_path / "high.wav", tone(3520, amp=0.1)), FEATURES, LIMITS)
    assert loud["rms_mean"] == pytest.approx(4 * quiet["rms_mean"], rel=0.05)
    assert quiet["silence_share"] == pytest.approx(0.0, abs=0.02)
    assert high["rolloff_mean"] > 3 * quiet["rolloff_mean"]
    assert high["zcr_mean"] > 5 * quiet["zcr_mean"]
    # A (440 Hz) is pitch class 9: the chroma of a pure A peaks there
    assert int(np.argmax([quiet[f"chroma_mean_{i}"] for i in range(12)])) == 9


def test_bytes_give_the_same_features_as_the_path(tmp_path):
    path = write(tmp_path / "c.flac", clicks(100))
    assert extract_features(path.read_bytes(), FEATURES, LIMITS, name="c.flac") == extract_features(
        path, FEATURES, LIMITS
    )


def test_agrees_with_the_seeds_per_feature_librosa_calls(tmp_path):
    catalog = demo_catalog(1, 7).iloc[::5]  # a few genres and emotions
    ours, ref = {}, {}
    for row in catalog.to_dict("records"):
        y, _ = synthesise(row, 4.0, SR, 7)
        path = write(tmp_path / f"{row['track_id']}.wav", y)
        ours[row["track_id"]] = extract_features(path, FEATURES, LIMITS)
        ref[row["track_id"]] = reference_features(str(path), FEATURES, LIMITS)
    worst = compare(ours, ref)
    assert set(worst) == set(SHARED_FEATURES)
    assert max(worst.values()) < 1e-3, sorted(worst.items(), key=lambda kv: -kv[1])[:3]


def test_batch_is_parallel_cached_by_content_and_reports_bad_clips(tmp_path):
    items = {}
    for i, freq in enumerate((220, 330, 440, 660)):
        items[f"t{i}"] = write(
            tmp_path / f"t{i}.wav", tone(freq, seconds=2.0) + 0.2 * clicks(90 + 10 * i, 2.0)
        )
    items["silent"] = write(tmp_path / "silent.wav", np.zeros(2 * SR))
    items["gone"] = tmp_path / "gone.wav"
    cache = tmp_path / "cache"

    first = extract_batch(items, FEATURES, LIMITS, cache_dir=cache, n_jobs=2, show_progress=False)
    assert list(first.features.index) == ["t0", "t1", "t2", "t3"]
    assert first.features.index.name == "track_id"
    assert (first.features.dtypes == np.float64).all() and np.isfinite(first.features.to_numpy()).all()
    assert set(first.failed) == {"silent", "gone"}
    assert "silent.wav is silent" in first.failed["silent"] and "gone.wav" in first.failed["gone"]
    assert (first.cache_hits, first.computed) == (0, 4)

    serial = extract_batch(
        {k: items[k] for k in ("t0", "t1", "t2", "t3")}, FEATURES, LIMITS, n_jobs=1, show_progress=False
    )
    np.testing.assert_array_equal(serial.features.to_numpy(), first.features.to_numpy())

    again = extract_batch(items, FEATURES, LIMITS, cache_dir=cache, n_jobs=2, show_progress=False)
    assert (again.cache_hits, again.computed) == (4, 0)
    np.testing.assert_array_equal(again.features.to_numpy(), first.features.to_numpy())

    write(items["t1"], tone(880, seconds=2.0))  # a changed file is recomputed, the rest is not
    changed = extract_batch(items, FEATURES, LIMITS, cache_dir=cache, n_jobs=2, show_progress=False)
    assert (changed.cache_hits, changed.computed) == (3, 1)
    assert changed.features.loc["t1", "rolloff_mean"] != first.features.loc["t1", "rolloff_mean"]

    other = FEATURES.model_copy(update={"n_mfcc": 13})  # another configuration: another cache namespace
    assert feature_key(other, LIMITS) != feature_key(FEATURES, LIMITS)
    assert feature_key(FEATURES.model_copy(update={"n_jobs": 7}), LIMITS) == feature_key(FEATURES, LIMITS)
    assert extract_batch(items, other, LIMITS, cache_dir=cache, show_progress=False).cache_hits == 0


def test_a_feature_config_travels_as_a_dict(tmp_path):
    features = FEATURES.model_copy(update={"n_mfcc": 13, "logmel_bands": 16, "n_jobs": 1})
    limits = LIMITS.model_copy(update={"max_seconds": 2.0})
    saved = feature_config(features, limits)  # as a model saves it (no n_jobs)
    assert "n_jobs" not in saved and feature_settings(saved) == (features, limits)
    f = extract_features(write(tmp_path / "x.wav", tone(300)), *feature_settings(saved))
    assert list(f) == feature_names(features) and "mfcc_mean_12" in f and "mfcc_mean_13" not in f


def test_bad_audio_raises_invalid_audio(tmp_path):
    with pytest.raises(InvalidAudio, match=r"x\.wav is too short"):
        extract_features(write(tmp_path / "x.wav", tone(440, seconds=0.2)), FEATURES, LIMITS)
