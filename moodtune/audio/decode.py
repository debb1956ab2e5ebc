"""Decode wav, flac, ogg and mp3 from a path or from bytes, and reject bad audio clearly.

soundfile (libsndfile 1.1+ reads all four formats) is tried first; librosa's audioread
fallback covers what libsndfile cannot read when a system decoder (ffmpeg, gstreamer) is
installed. A corrupt, empty, silent, too-short or non-audio input raises
:class:`~moodtune.errors.InvalidAudio` with a message naming the file and the problem. The limits
(rate, shortest and longest, silence) are the ``audio.decode`` settings
(:class:`~moodtune.audio.config.AudioDecodeSettings`), given to every function that needs them.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from moodtune.audio.config import AudioDecodeSettings
from moodtune.errors import InvalidAudio

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".mp3")

# Leading bytes of the containers we read: a file that starts like one of these but fails to
# decode is corrupt; one that starts like none of them is not audio.
_MAGIC: tuple[bytes, ...] = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM")


def _looks_like_audio(head: bytes) -> bool:
    if head.startswith(_MAGIC):
        return True
    # an MPEG audio frame sync (mp3 without an ID3 tag): 11 set bits
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _reason(exc: Exception) -> str:
    """libsndfile's complaint without the file name it puts first (and its misleading
    "File does not exist" for data it does not recognise)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.split("': ", 1)[-1] if text.startswith("Error opening") else text
    text = text.split(">: ", 1)[-1]
    return "format not recognised" if "does not exist" in text else text.rstrip(".")


def _read_soundfile(fileobj, max_seconds: float) -> tuple[np.ndarray, int]:
    with sf.SoundFile(fileobj) as f:
        sr = int(f.samplerate)
        limit = int(round(max_seconds * sr))
        data = f.read(
            frames=limit if f.frames <= 0 or f.frames > limit else -1, dtype="float32", always_2d=True
        )
    return data, sr


def _read_audioread(path: str, max_seconds: float) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, sr = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    y = np.asarray(y, dtype=np.float32)
    return (y[:, None] if y.ndim == 1 else y.T), int(sr)


# --- truncated files: a part decodes, the rest is missing -------------------------------------
# libsndfile and mpg123 decode whatever part of a cut-off file they can and say nothing, so a
# truncated upload would be analysed from its first seconds. Each container says how long it
# should be; a file shorter than that is refused.

_MP3_BITRATES = {  # kbit/s by (MPEG-1?, layer 3) and index
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _wav_truncation(data: bytes) -> str | None:
    """The WAV/RF64 ``data`` chunk's declared size against the bytes present."""
    if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"data":
            if data[:4] == b"RF64" or size in (0, 0xFFFFFFFF):
                return None  # the size lives in the ds64 chunk / is unknown (a stream): nothing to compare
            have = len(data) - pos - 8
            if have < size:
                return f"its header declares {size} bytes of samples but only {have} are present"
            return None
        pos += 8 + size + (size & 1)
    return "it has no data chunk" if pos > len(data) else None


def _ogg_truncation(data: bytes) -> str | None:
    """An Ogg stream ends with a whole page flagged end-of-stream."""
    last = data.rfind(b"OggS")
    if last < 0 or last + 27 > len(data):
        return "its last Ogg page is cut off"
    n_segments = data[last + 26]
    if last + 27 + n_segments > len(data):
        return "its last Ogg page is cut off"
    end = last + 27 + n_segments + sum(data[last + 27 : last + 27 + n_segments])
    if end > len(data):
        return "its last Ogg page is cut off"
    if not data[last + 5] & 0x04:
        return "the Ogg stream stops before its end-of-stream page"
    return None


def _mp3_frame_length(header: bytes) -> int | None:
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    b_index, r_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if layer != 1 or version == 1 or b_index in (0, 15) or r_index == 3:
        return None  # only Layer III with a known bitrate is checked
    mpeg1 = version == 3
    bitrate, rate = _MP3_BITRATES[mpeg1][b_index] * 1000, _MP3_RATES[version][r_index]
    return (144 if mpeg1 else 72) * bitrate // rate + padding


def _mp3_truncation(data: bytes) -> str | None:
    """Walk the MPEG frames from the first one; the last must end at the file's end (or its tags)."""
    end = len(data) - (128 if data[-128:-125] == b"TAG" else 0)
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        pos = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")
    while pos < end and _mp3_frame_length(data[pos : pos + 4]) is None:
        pos += 1  # find the first frame
        if pos > 65536:
            return None  # no frame found near the start: leave it to the decoder
    declared = None  # a Xing/Info header (LAME and others write one) in the first frame counts the frames
    first = data[pos : pos + (_mp3_frame_length(data[pos : pos + 4]) or 0)]
    for tag in (b"Xing", b"Info"):
        at = first.find(tag)
        if at >= 0 and len(first) >= at + 12 and int.from_bytes(first[at + 4 : at + 8], "big") & 1:
            declared = int.from_bytes(first[at + 8 : at + 12], "big")
            break
    frames = 0
    while pos + 4 <= end:
        length = _mp3_frame_length(data[pos : pos + 4])
        if length is None:
            break  # trailing tags or junk after whole frames: not our concern
        if pos + length > end:
            return f"its last MPEG frame is cut off after {frames} whole frames"
        pos += length
        frames += 1
    if declared is not None and frames - 1 < declared:  # the header frame itself is not counted
        return f"its header declares {declared} MPEG frames but only {frames - 1} are present"
    return None


def _generic_truncation(fileobj) -> str | None:
    """FLAC and the rest: the stream's declared length must decode to its end."""
    try:
        with sf.SoundFile(fileobj) as f:
            if f.frames <= 0 or not f.seekable():
                return None
            tail = min(f.frames, 4096)
            f.seek(f.frames - tail)
            got = len(f.read(tail, dtype="float32", always_2d=True))
    except Exception as exc:
        return f"its end cannot be decoded ({_reason(exc)})"
    return None if got >= tail else f"it declares {f.frames} samples but decoding stops short of them"


def truncation(data: bytes) -> str | None:
    """Why the file in ``data`` is cut short of what its container declares, or None."""
    if data[:4] in (b"RIFF", b"RF64"):
        return _wav_truncation(data) or _generic_truncation(io.BytesIO(data))
    if data[:4] == b"OggS":
        return _ogg_truncation(data)
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0):
        return _mp3_truncation(data)
    return _generic_truncation(io.BytesIO(data))


def check_header(
    data: bytes, *, min_rate: float, max_rate: float, max_seconds: float, label: str = "uploaded audio"
) -> None:
    """Refuse, from the container's header alone (nothing is decoded), audio whose sample rate
    lies outside ``min_rate``-``max_rate`` Hz or that declares more than ``max_seconds``
    (:class:`~moodtune.errors.TooMuchInput`, 413, for the length). A header libsndfile cannot read
    is left to :func:`decode`, which says what is wrong."""
    from moodtune.errors import TooMuchInput

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, frames = int(f.samplerate), int(f.frames)
    except Exception:
        return
    if not min_rate <= rate <= max_rate:
        raise InvalidAudio(
            f"{label} declares a sample rate of {rate:,} Hz; accepted are {min_rate:,.0f} to "
            f"{max_rate:,.0f} Hz (service.audio_min_rate_hz/audio_max_rate_hz): re-export it at "
            "e.g. 44,100 Hz"
        )
    if 0 < frames and frames / rate > max_seconds:
        raise TooMuchInput(
            f"{label} declares {frames / rate:,.0f} s of audio; the limit is {max_seconds:,.0f} s "
            "(service.max_audio_seconds): upload a shorter excerpt"
        )


def decode(
    source: str | os.PathLike | bytes,
    limits: AudioDecodeSettings,
    *,
    name: str | None = None,
    resample: bool = True,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate (``limits.sample_rate`` when ``resample``).

    ``source`` is a path or the raw bytes of a file (an upload); ``name`` is how the input is
    called in error messages (default: the path, or "uploaded audio").
    """
    return conform(read_mono(source, limits.max_seconds, name=name), limits, resample=resample)


@dataclass(frozen=True)
class Decoded:
    """A file's first ``max_seconds`` as mono float32 samples at the file's own rate, checked for
    truncation, emptiness and non-finite samples (:func:`read_mono`); :func:`conform` then
    applies the decode limits (their length, silence and rate)."""

    samples: np.ndarray
    sample_rate: int
    label: str


def _raw(data: bytes | None, path: Path | None) -> bytes:
    """The file's bytes: ``data`` (an upload), else read from ``path`` (one of the two is set)."""
    if data is not None:
        return data
    assert path is not None
    return path.read_bytes()


def read_mono(source: str | os.PathLike | bytes, max_seconds: float, *, name: str | None = None) -> Decoded:
    """Read (once) what :func:`decode` reads: the first ``max_seconds`` of ``source``, mixed to mono
    at its own rate. Several :func:`conform` calls can share it (the hand features at 22,050 Hz
    and the tagger at 16 kHz): the same samples as decoding the file once for each."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "uploaded audio"
        path = None
        if not data:
            raise InvalidAudio(f"{label} is empty (0 bytes); send a wav, flac, ogg or mp3 file")
        head = data[:16]
    else:
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise InvalidAudio(f"{label}: file not found")
        if path.is_dir():
            raise InvalidAudio(f"{label} is a directory, not an audio file")
        size = path.stat().st_size
        if size == 0:
            raise InvalidAudio(f"{label} is empty (0 bytes)")
        with path.open("rb") as fh:
            head = fh.read(16)
        data = None

    try:
        samples, sr = _read_soundfile(io.BytesIO(data) if data is not None else str(path), max_seconds)
    except Exception as first:  # libsndfile says why in its message; try audioread next
        samples = None
        reason = _reason(first)
        try:
            if data is not None:
                suffix = Path(label).suffix if Path(label).suffix in AUDIO_EXTENSIONS else ".bin"
                with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
                    tmp.write(data)
                    tmp.flush()
                    samples, sr = _read_audioread(tmp.name, max_seconds)
            elif path is not None:
                samples, sr = _read_audioread(str(path), max_seconds)
        except Exception:
            pass
        if samples is None:
            cut = truncation(_raw(data, path)) if _looks_like_audio(head) else None
            if cut:
                raise InvalidAudio(
                    f"{label} is truncated: {cut}; it cannot be decoded (re-export or re-download the file)"
                ) from None
            if _looks_like_audio(head):
                raise InvalidAudio(
                    f"{label} is corrupt: it looks like audio but cannot be decoded ({reason})"
                ) from None
            raise InvalidAudio(f"{label} is not audio: not a wav, flac, ogg or mp3 file ({reason})") from None

    assert samples is not None  # the except branch raised where neither reader decoded it
    cut = truncation(_raw(data, path))
    if samples.size == 0 or samples.shape[0] == 0:
        raise InvalidAudio(
            f"{label} is empty: it contains no audio samples" + (f" (it is truncated: {cut})" if cut else "")
        )
    if cut:
        raise InvalidAudio(
            f"{label} is truncated: {cut}; only part of it could be decoded, so it is refused "
            "(re-export or re-download the file)"
        )
    if not np.all(np.isfinite(samples)):
        raise InvalidAudio(f"{label} is corrupt: it contains non-finite samples")
    y = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    return Decoded(y, int(sr), label)


def conform(
    decoded: Decoded, limits: AudioDecodeSettings, *, resample: bool = True
) -> tuple[np.ndarray, int]:
    """``decoded`` under ``limits``: cut to ``max_seconds`` (as :func:`decode` reads it), refused when
    too short or silent, resampled to ``limits.sample_rate`` when ``resample``."""
    y, sr, label = decoded.samples, decoded.sample_rate, decoded.label
    y = y[: int(round(limits.max_seconds * sr))]
    seconds = y.shape[0] / sr
    if seconds < limits.min_seconds:
        raise InvalidAudio(
            f"{label} is too short ({seconds:.2f} s); at least {limits.min_seconds:g} s of audio is needed"
        )
    peak = float(np.max(np.abs(y)))
    if peak < limits.silence_peak:
        raise InvalidAudio(f"{label} is silent (peak amplitude {peak:.1e}, below {limits.silence_peak:.1e})")
    if resample and sr != limits.sample_rate:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=limits.sample_rate, res_type="soxr_hq")
        sr = limits.sample_rate
    return np.ascontiguousarray(y, dtype=np.float32), int(sr)


def load_audio(
    source: str | os.PathLike | bytes, limits: AudioDecodeSettings, *, name: str | None = None
) -> np.ndarray:
    """Mono float32 samples at ``limits.sample_rate`` (see :func:`decode`)."""
    return decode(source, limits, name=name)[0]


def is_audio_path(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")
