"""Clip -> features, from ONE short-time Fourier transform per clip.

Seed A's recipe: pre-emphasis, then the timbral set (chroma, roll-off, zero-crossing rate,
RMS, spectral flux, spectral contrast, flatness, silence share, 20 MFCC means, tempo), plus
tempogram statistics and a log-mel summary for the network. The seed calls librosa once per
feature on the waveform, so every call recomputes its own STFT (nine times per clip, see
:mod:`moodtune.audio.reference`); here the STFT is computed once and every spectral feature
is derived from it (magnitude -> roll-off, contrast, flatness; power -> chroma, mel; log-mel ->
MFCC, spectral flux -> one tempogram -> tempo and tempogram statistics), while ZCR and RMS come from the same frames in
O(n) with cumulative sums. Clips are processed in parallel worker processes, and the
features of each file are cached by its content hash (and the feature configuration:
:func:`feature_key`), so a re-materialization only computes changed clips. The numbers are the
``audio.features`` and ``audio.decode`` settings, given to every function that needs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.fft

from moodtune.audio.cachefile import read_json, write_atomic
from moodtune.audio.config import AudioDecodeSettings, AudioFeatureSettings
from moodtune.audio.decode import decode
from moodtune.errors import InvalidAudio
from moodtune.threads import one_thread

FEATURE_VERSION = 2
# the tempogram's autocorrelation window (librosa's tempo estimate uses 8 s)
TEMPOGRAM_SECONDS = 8.0
# tempogram summary bands, in beats per minute
TEMPO_BANDS: tuple[float, ...] = (30, 50, 70, 90, 110, 130, 160, 200, 300)


def feature_config(features: AudioFeatureSettings, limits: AudioDecodeSettings) -> dict:
    """Everything that changes the features of a clip, as a dict (saved with a model, shown in
    Dagster): the extractor's version, the decode limits (``audio.decode``) and ``audio.features``
    (``n_jobs`` is how, not what, and stays out)."""
    return {
        "version": FEATURE_VERSION,
        "limits": limits.model_dump(),
        **features.model_dump(exclude={"n_jobs"}),
    }


def feature_settings(config: Mapping) -> tuple[AudioFeatureSettings, AudioDecodeSettings]:
    """The two sections back from a :func:`feature_config` dict (a saved model's)."""
    data = dict(config)
    data.pop("version", None)
    limits = AudioDecodeSettings(**data.pop("limits"))
    return AudioFeatureSettings(n_jobs=1, **data), limits


def feature_key(features: AudioFeatureSettings, limits: AudioDecodeSettings) -> str:
    """A short hash of :func:`feature_config`: the cache namespace of these features."""
    blob = json.dumps(feature_config(features, limits), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def feature_names(features: AudioFeatureSettings) -> list[str]:
    """The feature columns, in the order every extractor returns them."""
    names = [f"chroma_mean_{i}" for i in range(12)] + [f"chroma_std_{i}" for i in range(12)]
    for base in ("rolloff", "zcr", "rms", "flux"):
        names += [f"{base}_mean", f"{base}_std"]
    names += [f"contrast_mean_{i}" for i in range(7)] + [f"contrast_std_{i}" for i in range(7)]
    names += ["flatness_mean", "flatness_std", "silence_share"]
    names += [f"mfcc_mean_{i}" for i in range(features.n_mfcc)] + [
        f"mfcc_std_{i}" for i in range(features.n_mfcc)
    ]
    names += ["tempo", "tempogram_mean", "tempogram_std", "tempogram_peak_bpm", "tempogram_clarity"]
    names += [f"tempogram_band_{i}" for i in range(len(TEMPO_BANDS) - 1)]
    names += [f"logmel_mean_{i}" for i in range(features.logmel_bands)]
    names += [f"logmel_std_{i}" for i in range(features.logmel_bands)]
    return names


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int):
    """The mel filter bank as a sparse matrix (each filter spans a few bins)."""
    import librosa
    import scipy.sparse

    return scipy.sparse.csr_matrix(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).astype(np.float32))


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.get_window("hann", n_fft, fftbins=True)


def _zcr_rms(yp: np.ndarray, n_fft: int, hop: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-crossing rate and RMS of each STFT frame of the padded signal ``yp``, in O(n):
    per-hop block sums, added up over the ``n_fft / hop`` blocks of each frame (cumulative
    sums when ``hop`` does not divide ``n_fft``). Crossings are counted as librosa does
    (``|x| <= 1e-10`` counts as zero, zero is positive; a frame's first sample starts none)."""
    x = yp.astype(np.float64)
    sign = np.signbit(np.where(np.abs(x) <= 1e-10, 0.0, x))
    cross = np.zeros(len(x))
    cross[1:] = sign[1:] != sign[:-1]
    starts = np.arange(n_frames) * hop
    if n_fft % hop == 0:
        k = n_fft // hop
        n_blocks = n_frames + k - 1
        csum = np.concatenate([[0.0], np.cumsum(cross[: n_blocks * hop].reshape(n_blocks, hop).sum(axis=1))])
        qsum = np.concatenate(
            [[0.0], np.cumsum((x[: n_blocks * hop] ** 2).reshape(n_blocks, hop).sum(axis=1))]
        )
        idx = np.arange(n_frames)
        crossings = csum[idx + k] - csum[idx] - cross[starts]
        power = qsum[idx + k] - qsum[idx]
    else:
        ccum = np.concatenate([[0.0], np.cumsum(cross)])
        qcum = np.concatenate([[0.0], np.cumsum(x * x)])
        crossings = ccum[starts + n_fft] - ccum[starts + 1]
        power = qcum[starts + n_fft] - qcum[starts]
    return crossings / n_fft, np.sqrt(np.maximum(power, 0.0) / n_fft)


@lru_cache(maxsize=64)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    import librosa

    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=12)


def _estimate_tuning(
    P: np.ndarray, sr: int, n_fft: int, fmin: float = 150.0, fmax: float = 4000.0, threshold: float = 0.1
) -> float:
    """``librosa.estimate_tuning(S=P)`` (what ``chroma_stft`` does first), computed only on the
    bins between ``fmin`` and ``fmax`` that piptrack keeps: parabolic peak interpolation,
    local maxima above ``threshold`` x the frame's maximum, magnitude-median selection and
    librosa's residual histogram. Same result, a fraction of the work."""
    import librosa

    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    keep = np.flatnonzero((fmin <= freqs) & (freqs < min(fmax, sr / 2)))
    k0, k1 = int(keep[0]), int(keep[-1]) + 1
    lo, hi = max(k0 - 1, 0), min(k1 + 1, P.shape[0])
    x = P[lo:hi]
    below, mid, above = x[:-2], x[1:-1], x[2:]  # neighbours of rows lo+1 .. hi-2
    a = above + below - 2 * mid
    b = (above - below) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), np.float32(0), -b / a).astype(P.dtype)
    dskew = 0.5 * b * shift  # np.gradient's central difference is b
    ref = threshold * P.max(axis=0)
    thresholded = x * (x > ref)
    tm, tb, ta = thresholded[1:-1], thresholded[:-2], thresholded[2:]
    peaks = (tm > tb) & (tm >= ta)
    rows = np.arange(lo + 1, hi - 1)
    inside = (rows >= k0) & (rows < k1)
    peaks &= inside[:, None]
    r, c = np.nonzero(peaks)
    pitch = ((rows[r] + shift[r, c]) * float(sr) / n_fft).astype(P.dtype)
    mag = (mid[r, c] + dskew[r, c]).astype(P.dtype)
    voiced = pitch > 0
    if not voiced.any():
        return 0.0
    cut = np.median(mag[voiced])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "empty frequency set" -> 0.0, as librosa returns
        return float(librosa.pitch_tuning(pitch[(mag >= cut) & voiced], bins_per_octave=12))


def _mean_std(prefix: str, x: np.ndarray, out: dict[str, float]) -> None:
    """Per-row mean and std of a (rows, frames) feature matrix (or a 1-D frame series)."""
    if x.ndim == 1:
        out[f"{prefix}_mean"] = float(np.mean(x))
        out[f"{prefix}_std"] = float(np.std(x))
        return
    for i, v in enumerate(np.mean(x, axis=1)):
        out[f"{prefix}_mean_{i}"] = float(v)
    for i, v in enumerate(np.std(x, axis=1)):
        out[f"{prefix}_std_{i}"] = float(v)


def features_from_waveform(y: np.ndarray, sr: int, features: AudioFeatureSettings) -> dict[str, float]:
    """The features of mono samples ``y`` at rate ``sr`` (one STFT)."""
    import librosa

    n_fft, hop = features.n_fft, features.hop_length
    y = librosa.effects.preemphasis(np.asarray(y, dtype=np.float32), coef=features.preemphasis)

    # --- the one STFT: frame the zero-padded signal once (as librosa.stft(center=True) does),
    # window, FFT. ZCR and RMS are read off the same frames. -------------------------------
    pad = n_fft // 2
    yp = np.pad(y, pad, mode="constant")
    frames = librosa.util.frame(yp, frame_length=n_fft, hop_length=hop)  # (n_fft, T), a view
    n_frames = frames.shape[1]
    # float64 window and FFT rounded to complex64: bit for bit what librosa.stft gives
    D = scipy.fft.rfft(frames.T * _window(n_fft), axis=-1).astype(np.complex64)  # (T, 1 + n_fft/2)
    S_tf = np.abs(D)  # magnitude, (time, freq)
    S = np.ascontiguousarray(S_tf.T)  # (freq, time), as librosa lays it out
    P = S * S  # power

    out: dict[str, float] = {}
    # chroma as chroma_stft(S=P) computes it: tuning, filter bank (cached per tuning), inf-norm
    chroma = librosa.util.normalize(
        _chroma_basis(sr, n_fft, _estimate_tuning(P, sr, n_fft)) @ P, norm=np.inf, axis=0
    )
    _mean_std("chroma", chroma, out)
    # roll-off: the first frequency below which 85 % of the frame's magnitude lies
    cum = np.cumsum(S_tf, axis=1)
    rolloff = librosa.fft_frequencies(sr=sr, n_fft=n_fft)[np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)]
    _mean_std("rolloff", rolloff, out)

    zcr, rms = _zcr_rms(yp, n_fft, hop, n_frames)
    _mean_std("zcr", zcr, out)
    _mean_std("rms", rms, out)

    mel = np.asarray(_mel_basis(sr, n_fft, features.n_mels) @ P)
    logmel = librosa.power_to_db(mel)
    flux = librosa.onset.onset_strength(S=logmel, sr=sr, hop_length=hop)
    _mean_std("flux", flux, out)
    _mean_std("contrast", librosa.feature.spectral_contrast(S=S, sr=sr, n_fft=n_fft, hop_length=hop), out)
    _mean_std("flatness", librosa.feature.spectral_flatness(S=S, n_fft=n_fft, hop_length=hop)[0], out)
    rms_db = 20 * np.log10(np.maximum(rms, 1e-10) / max(float(rms.max()), 1e-10))
    out["silence_share"] = float(np.mean(rms_db < -features.silence_top_db))
    _mean_std("mfcc", librosa.feature.mfcc(S=logmel, sr=sr, n_mfcc=features.n_mfcc), out)

    # --- rhythm: ONE tempogram of the spectral flux (8 s autocorrelation windows, the one
    # librosa's tempo estimate uses), giving the tempo and the tempogram statistics ----------
    win = int(librosa.time_to_frames(TEMPOGRAM_SECONDS, sr=sr, hop_length=hop))
    tg = librosa.feature.tempogram(onset_envelope=flux, sr=sr, hop_length=hop, win_length=win)
    out["tempo"] = float(librosa.feature.tempo(tg=tg, sr=sr, hop_length=hop)[0])
    out["tempogram_mean"] = float(np.mean(tg))
    out["tempogram_std"] = float(np.std(tg))
    profile = tg.mean(axis=1)
    bpms = librosa.tempo_frequencies(tg.shape[0], sr=sr, hop_length=hop)  # lag 0 -> inf
    valid = (bpms >= TEMPO_BANDS[0]) & (bpms <= TEMPO_BANDS[-1])
    peak = int(np.argmax(np.where(valid, profile, -np.inf)))
    out["tempogram_peak_bpm"] = float(bpms[peak])
    out["tempogram_clarity"] = float(profile[peak] / max(float(profile[valid].mean()), 1e-10))
    for i, (lo, hi) in enumerate(zip(TEMPO_BANDS[:-1], TEMPO_BANDS[1:], strict=True)):
        band = (bpms >= lo) & (bpms < hi)
        out[f"tempogram_band_{i}"] = float(profile[band].mean()) if band.any() else 0.0

    # --- log-mel summary: mel bands pooled into logmel_bands groups -------------------------
    groups = np.array_split(np.arange(features.n_mels), features.logmel_bands)
    pooled = np.stack([logmel[g].mean(axis=0) for g in groups])
    _mean_std("logmel", pooled, out)

    bad = [k for k, v in out.items() if not np.isfinite(v)]
    if bad:
        raise InvalidAudio(f"features {', '.join(bad[:5])} are not finite for this audio")
    return {k: out[k] for k in feature_names(features)}


def extract_features(
    source: str | os.PathLike | bytes,
    features: AudioFeatureSettings,
    limits: AudioDecodeSettings,
    *,
    name: str | None = None,
) -> dict[str, float]:
    """The features of one clip, from a path or the raw bytes of a file (an upload), decoded
    under ``limits`` (``audio.decode``). Bad audio raises :class:`InvalidAudio`.
    """
    # One BLAS thread: faster for these small products, and the same summation order in the
    # main process and in worker processes, so a clip's features do not depend on where they
    # were computed (the cache and the CLI rely on that).
    with one_thread():
        y, sr = decode(source, limits, name=name)
        return features_from_waveform(y, sr, features)


# --- batches with a content-hash cache ----------------------------------------------------


def release_workers() -> None:
    """Stop joblib's reusable worker processes now. They otherwise idle for 5 minutes after
    the last batch, and a process that started them (a Dagster step subprocess) waits for
    them before it exits."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


@dataclass
class BatchResult:
    """Features of a batch (index = the ids given), the ids that failed and why, cache use,
    wall-clock seconds and the CPU seconds the extraction itself took (summed over workers)."""

    features: pd.DataFrame
    failed: dict[str, str]
    cache_hits: int
    computed: int
    seconds: float
    cpu_seconds: float = 0.0

    @property
    def clips_per_second(self) -> float:
        n = len(self.features) + len(self.failed)
        return n / self.seconds if self.seconds > 0 else float("inf")


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_file(cache_dir: Path, key: str, digest: str) -> Path:
    """Where the features of the file with content hash ``digest`` lie (``key``: :func:`feature_key`)."""
    return cache_dir / key / digest[:2] / f"{digest}.json"


def _compute_one(
    track_id: str,
    path: str,
    features: AudioFeatureSettings,
    limits: AudioDecodeSettings,
    cache_path: str | None,
):
    """Worker: features of one file, written to the cache; never raises for bad audio.
    Returns ``(track_id, features or None, problem or None, CPU seconds spent)``."""
    cpu = time.process_time()
    try:
        feats = extract_features(path, features, limits)
    except InvalidAudio as exc:
        return track_id, None, str(exc), time.process_time() - cpu
    except Exception as exc:  # an unexpected failure on one clip must not lose the batch
        return (
            track_id,
            None,
            f"{path}: feature extraction failed ({type(exc).__name__}: {exc})",
            time.process_time() - cpu,
        )
    if cache_path:
        write_atomic(cache_path, lambda tmp: tmp.write_text(json.dumps(feats)))
    return track_id, feats, None, time.process_time() - cpu


def extract_batch(
    items: Mapping[str, str | os.PathLike] | Iterable[tuple[str, str | os.PathLike]],
    features: AudioFeatureSettings,
    limits: AudioDecodeSettings,
    *,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    show_progress: bool = True,
) -> BatchResult:
    """Features of many files ``{id: path}``, in parallel, cached by file content.

    A cached clip (same bytes, same :func:`feature_key`) is read back, not recomputed. A
    bad clip does not stop the batch: it is left out of ``features`` and its problem is in
    ``failed``. ``progress(done, total)`` is called as clips finish (for Dagster logs).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    key = feature_key(features, limits)
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    start = time.perf_counter()
    cache = Path(cache_dir) if cache_dir else None
    results: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    todo: list[tuple[str, str, str | None]] = []
    hits = 0
    for track_id, path in pairs:
        path = str(path)
        try:
            digest = file_hash(path)
        except OSError as exc:
            failed[track_id] = f"{path}: cannot be read ({exc.strerror or exc})"
            continue
        cache_path = _cache_file(cache, key, digest) if cache else None
        entry = read_json(cache_path) if cache_path is not None else None  # damaged: recomputed
        if entry is not None:
            results[track_id] = entry
            hits += 1
            continue
        todo.append((track_id, path, str(cache_path) if cache_path else None))

    total = len(pairs)
    done = total - len(todo)
    bar = tqdm(total=total, initial=done, desc="audio features", unit="clip", disable=not show_progress)
    if progress:
        progress(done, total)
    jobs = max(1, int(n_jobs))
    if jobs == 1 or len(todo) < 4:
        stream = (_compute_one(t, p, features, limits, cp) for t, p, cp in todo)
    else:
        stream = Parallel(n_jobs=min(jobs, len(todo)), backend="loky", return_as="generator_unordered")(
            delayed(_compute_one)(t, p, features, limits, cp) for t, p, cp in todo
        )
    cpu_seconds = 0.0
    for track_id, feats, problem, cpu in stream:
        cpu_seconds += cpu
        if feats is None:
            failed[track_id] = problem
        else:
            results[track_id] = feats
        done += 1
        bar.update(1)
        if progress and (done % 10 == 0 or done == total):
            progress(done, total)
    bar.close()

    names = feature_names(features)
    order = [t for t, _ in pairs if t in results]
    frame = pd.DataFrame(
        [[results[t][n] for n in names] for t in order],
        index=pd.Index(order, name="track_id"),
        columns=names,
        dtype=np.float64,
    )
    return BatchResult(
        frame,
        failed,
        hits,
        len(todo) - sum(1 for t, _, _ in todo if t in failed),
        time.perf_counter() - start,
        cpu_seconds,
    )
