"""Decode wav, flac, ogg and mp3 from a path or from bytes, and reject bad audio clearly.

soundfile (libsndfile 1.1+ reads all four formats) is tried first; librosa's audioread
fallback covers what libsndfile cannot read when a system decoder (ffmpeg, gstreamer) is
installed. A corrupt, empty, silent, too-short or non-audio input raises
:class:`~moodtune.errors.InvalidAudio` with a message naming the file and the problem.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from moodtune.errors import InvalidAudio
from moodtune.settings import FromSettings

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".mp3")

# Leading bytes of the containers we read: a file that starts like one of these but fails to
# decode is corrupt; one that starts like none of them is not audio.
_MAGIC: tuple[bytes, ...] = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM")


@dataclass(frozen=True)
class DecodeLimits(FromSettings):
    """What counts as usable audio, and the rate every clip is brought to (``audio`` in
    params.yaml: :meth:`from_settings` or ``default(**changes)``)."""

    sample_rate: int
    min_seconds: float
    max_seconds: float
    silence_peak: float

    @classmethod
    def from_settings(cls, settings) -> DecodeLimits:
        a = settings.audio
        return cls(a.sample_rate, a.min_seconds, a.max_seconds, a.silence_peak)


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
        data = f.read(frames=limit if f.frames <= 0 or f.frames > limit else -1,
                      dtype="float32", always_2d=True)
    return data, sr


def _read_audioread(path: str, max_seconds: float) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, sr = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    y = np.asarray(y, dtype=np.float32)
    return (y[:, None] if y.ndim == 1 else y.T), int(sr)


def decode(
    source: str | os.PathLike | bytes,
    limits: DecodeLimits | None = None,
    *,
    name: str | None = None,
    resample: bool = True,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate (``limits.sample_rate`` when ``resample``).

    ``source`` is a path or the raw bytes of a file (an upload); ``name`` is how the input is
    called in error messages (default: the path, or "uploaded audio").
    """
    limits = limits or DecodeLimits.default()
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
        samples, sr = _read_soundfile(io.BytesIO(data) if path is None else str(path), limits.max_seconds)
    except Exception as first:  # libsndfile says why in its message; try audioread next
        samples = None
        reason = _reason(first)
        try:
            if path is None:
                suffix = Path(label).suffix if Path(label).suffix in AUDIO_EXTENSIONS else ".bin"
                with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
                    tmp.write(data)
                    tmp.flush()
                    samples, sr = _read_audioread(tmp.name, limits.max_seconds)
            else:
                samples, sr = _read_audioread(str(path), limits.max_seconds)
        except Exception:
            pass
        if samples is None:
            if _looks_like_audio(head):
                raise InvalidAudio(f"{label} is corrupt: it looks like audio but cannot be decoded "
                                   f"({reason})") from None
            raise InvalidAudio(f"{label} is not audio: not a wav, flac, ogg or mp3 file "
                               f"({reason})") from None

    if samples.size == 0 or samples.shape[0] == 0:
        raise InvalidAudio(f"{label} is empty: it contains no audio samples")
    if not np.all(np.isfinite(samples)):
        raise InvalidAudio(f"{label} is corrupt: it contains non-finite samples")
    seconds = samples.shape[0] / sr
    if seconds < limits.min_seconds:
        raise InvalidAudio(f"{label} is too short ({seconds:.2f} s); at least "
                           f"{limits.min_seconds:g} s of audio is needed")
    y = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    peak = float(np.max(np.abs(y)))
    if peak < limits.silence_peak:
        raise InvalidAudio(f"{label} is silent (peak amplitude {peak:.1e}, below "
                           f"{limits.silence_peak:.1e})")
    if resample and sr != limits.sample_rate:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=limits.sample_rate, res_type="soxr_hq")
        sr = limits.sample_rate
    return np.ascontiguousarray(y, dtype=np.float32), int(sr)


def load_audio(source: str | os.PathLike | bytes, limits: DecodeLimits | None = None, *,
               name: str | None = None) -> np.ndarray:
    """Mono float32 samples at ``limits.sample_rate`` (see :func:`decode`)."""
    return decode(source, limits, name=name)[0]


def is_audio_path(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")
