"""Decoding wav/flac/ogg/mp3 from paths and bytes, and every kind of bad input."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodtune.audio.config import AudioDecodeSettings
from moodtune.audio.decode import decode, load_audio
from moodtune.errors import InvalidAudio, InvalidInput
from moodtune.settings import get_settings

SR = 22050
LIMITS = get_settings().audio.decode  # the audio.decode section of params.yaml, given to the decoder


def limits(sample_rate=SR, min_seconds=1.0, max_seconds=30.0, silence_peak=1e-4) -> AudioDecodeSettings:
    return AudioDecodeSettings(
        sample_rate=sample_rate, min_seconds=min_seconds, max_seconds=max_seconds, silence_peak=silence_peak
    )


def tone(seconds=2.0, freq=440.0, sr=SR, amp=0.5, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    y = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def peak_hz(y, sr=SR):
    spec = np.abs(np.fft.rfft(y))
    return np.argmax(spec) * sr / len(y)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_each_format_decodes_to_mono_at_the_target_rate(tmp_path, ext):
    path = tmp_path / f"a.{ext}"
    sf.write(path, tone(2.0, 440.0, sr=44100, channels=2), 44100)  # stereo at 44.1 kHz
    y, sr = decode(path, LIMITS)
    assert sr == SR and y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) / SR - 2.0) < 0.1  # mp3 adds a few ms of padding
    assert abs(peak_hz(y) - 440.0) < 3.0
    assert 0.4 < np.max(np.abs(y)) < 0.6


def test_bytes_and_path_give_the_same_samples(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, tone(), SR)
    np.testing.assert_array_equal(load_audio(path.read_bytes(), LIMITS), load_audio(path, LIMITS))


def test_long_audio_is_cut_to_max_seconds(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(5.0), SR)
    y, _ = decode(path, LIMITS.model_copy(update={"max_seconds": 3.0}))
    assert len(y) == 3 * SR


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = tmp / "good.wav"
    sf.write(good, tone(), SR)
    mp3 = tmp / "good.mp3"
    sf.write(mp3, tone(), SR)
    cases = {
        "empty": (tmp / "empty.wav", "empty (0 bytes)"),
        "no samples": (tmp / "header_only.wav", "contains no audio samples"),
        "corrupt wav": (tmp / "corrupt.wav", "corrupt"),
        "corrupt mp3": (tmp / "corrupt.mp3", "corrupt"),
        "not audio": (tmp / "notes.mp3", "not audio"),
        "random bytes": (tmp / "noise.flac", "not audio"),
        "silent": (tmp / "silent.wav", "silent"),
        "too short": (tmp / "short.ogg", "too short"),
        "missing": (tmp / "missing.wav", "not found"),
        "directory": (tmp / "folder.mp3", "directory"),
    }
    cases["empty"][0].write_bytes(b"")
    cases["no samples"][0].write_bytes(good.read_bytes()[:44])  # a RIFF header, no data
    cases["corrupt wav"][0].write_bytes(good.read_bytes()[:30])  # the header is cut short
    cases["corrupt mp3"][0].write_bytes(mp3.read_bytes()[:200])
    cases["not audio"][0].write_text("these are my notes, not a song\n" * 50)
    cases["random bytes"][0].write_bytes(np.random.default_rng(0).bytes(4000))
    sf.write(cases["silent"][0], np.zeros(2 * SR), SR)
    sf.write(cases["too short"][0], tone(0.3), SR)
    cases["directory"][0].mkdir()
    return cases


def test_every_bad_input_raises_invalid_audio_naming_file_and_problem(tmp_path):
    for case, (path, problem) in _bad_files(tmp_path).items():
        with pytest.raises(InvalidAudio) as err:
            decode(path, LIMITS)
        message = str(err.value)
        assert path.name in message, (case, message)
        assert problem in message, (case, message)
        assert isinstance(err.value, InvalidInput) and err.value.status_code == 422


def test_bad_uploads_are_named_by_the_given_name(tmp_path):
    with pytest.raises(InvalidAudio, match=r"upload\.mp3 is empty"):
        decode(b"", LIMITS, name="upload.mp3")
    with pytest.raises(InvalidAudio, match=r"uploaded audio is not audio"):
        decode(b"hello, I am text and not a song" * 10, LIMITS)
    path = tmp_path / "s.wav"
    sf.write(path, np.zeros(SR * 2), SR)
    with pytest.raises(InvalidAudio, match=r"clip\.wav is silent"):
        decode(path.read_bytes(), LIMITS, name="clip.wav")


def test_limits_follow_the_settings(settings, tmp_path):
    path = tmp_path / "1s.wav"
    sf.write(path, tone(1.5, sr=44100), 44100)
    _, sr = decode(path, settings.audio.decode)  # 1.5 s passes the default 1 s minimum
    assert sr == settings.audio.decode.sample_rate
    with pytest.raises(InvalidAudio, match="too short"):
        decode(path, settings.audio.decode.model_copy(update={"min_seconds": 2.0}))


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_a_truncated_file_is_refused_not_analysed_from_its_first_part(tmp_path, ext):
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, tone(4.0), SR)
    data = whole.read_bytes()
    assert decode(whole, LIMITS)[0].size > 0  # the whole file is fine
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InvalidAudio, match=f"cut.{ext} is (empty.*)?truncated"):
        decode(cut, LIMITS)
    with pytest.raises(InvalidAudio, match="upload.* is (empty.*)?truncated"):
        decode(data[: len(data) // 2], LIMITS, name=f"upload.{ext}")


def test_a_wav_whose_header_claims_more_data_than_present_is_refused(tmp_path):
    path = tmp_path / "liar.wav"
    sf.write(path, tone(2.0), SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    pos = data.find(b"data")
    declared = int.from_bytes(data[pos + 4 : pos + 8], "little")
    data[pos + 4 : pos + 8] = (declared * 3).to_bytes(4, "little")  # the header now claims 6 s
    path.write_bytes(bytes(data))
    with pytest.raises(
        InvalidAudio, match=f"declares {declared * 3} bytes of samples but only {declared} are present"
    ):
        decode(path, LIMITS)


def test_one_read_conformed_to_two_rates_equals_two_decodes(tmp_path):
    """The library reads a file once and brings it to the features' and the tagger's rates."""
    from moodtune.audio.decode import conform, read_mono

    path = tmp_path / "a.ogg"
    sf.write(path, tone(4.0, 330.0, sr=44100, channels=2), 44100)
    once = read_mono(path, 4.0)
    assert once.sample_rate == 44100
    for each in (limits(SR, 1.0, 4.0), limits(16000, 1.0, 2.5)):
        y, sr = conform(once, each)
        expected, expected_sr = decode(path, each)
        assert sr == expected_sr
        np.testing.assert_array_equal(y, expected)
    with pytest.raises(InvalidAudio, match="too short"):
        conform(once, limits(SR, 5.0, 30.0))
