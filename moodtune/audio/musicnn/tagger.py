"""The pretrained musicnn tagger: audio -> 50 MagnaTagATune tags, 50 Million Song Dataset
tags and a 200-d embedding per model, without TensorFlow.

The weights are the TensorFlow checkpoints that ship in the ``musicnn`` 0.1.0 wheel (ISC
licence, installed ``--no-deps``), read by :mod:`moodtune.audio.musicnn.checkpoint` into the
torch port in :mod:`moodtune.audio.musicnn.network`. Preprocessing follows the models' training:
16 kHz mono, mel spectrogram (n_fft 512, hop 256, 96 bands, librosa), ``log10(10000 x + 1)``
computed in float32 (the original casts to float16 first, which overflows under numpy 2),
3 s patches of 187 frames; a clip shorter than one patch is repeat-padded (as in training).
A clip's tags and embedding are the means over its patches.

One pass computes the mel once and runs both models on it, batched over the patches of many
clips. The settings are ``audio.tagger`` (:class:`~moodtune.audio.config.AudioTaggerSettings`)
and the ``audio.decode`` limits, given to every function that needs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from moodtune.audio.cachefile import read_npy, write_atomic
from moodtune.audio.config import AudioDecodeSettings, AudioTaggerSettings
from moodtune.audio.decode import decode
from moodtune.audio.musicnn.vocab import EMBEDDING_SIZE, MSD_TAGS, MTT_TAGS, TAGGER_COLUMNS
from moodtune.errors import InvalidAudio, ModelNotFound

SAMPLE_RATE, N_FFT, HOP, N_MELS, PATCH_FRAMES = 16000, 512, 256, 96, 187
MODELS: tuple[str, ...] = ("MTT_musicnn", "MSD_musicnn")
TAGGER_VERSION = 1
PATCH_SECONDS = PATCH_FRAMES * HOP / SAMPLE_RATE  # 2.992 s


def tagger_limits(tagger: AudioTaggerSettings, limits: AudioDecodeSettings) -> AudioDecodeSettings:
    """The decode limits the tagger reads files with: ``limits`` (``audio.decode``) at 16 kHz and
    at most ``audio.tagger.max_seconds``."""
    return limits.model_copy(update={"sample_rate": SAMPLE_RATE, "max_seconds": tagger.max_seconds})


def tagger_config(tagger: AudioTaggerSettings, limits: AudioDecodeSettings) -> dict:
    """How files are tagged, as a dict (saved with a model, logged with its run): ``audio.tagger``
    and the decode limits it uses."""
    return {
        "version": TAGGER_VERSION,
        "max_seconds": tagger.max_seconds,
        "min_seconds": limits.min_seconds,
        "silence_peak": limits.silence_peak,
        "batch_patches": tagger.batch_patches,
        "threads": tagger.threads,
        "patches_per_clip": tagger.patches_per_clip,
        "workers": tagger.workers,
    }


def tagger_settings(config: Mapping) -> tuple[AudioTaggerSettings, AudioDecodeSettings]:
    """The two sections back from a :func:`tagger_config` dict (a saved model's); a dict saved
    before ``patches_per_clip`` and ``workers`` existed tags every patch in one process."""
    tagger = AudioTaggerSettings(
        enabled=True,
        max_seconds=config["max_seconds"],
        batch_patches=config["batch_patches"],
        threads=config["threads"],
        patches_per_clip=config.get("patches_per_clip", 0),
        workers=config.get("workers", 1),
    )
    limits = AudioDecodeSettings(
        sample_rate=SAMPLE_RATE,
        min_seconds=config["min_seconds"],
        max_seconds=config["max_seconds"],
        silence_peak=config["silence_peak"],
    )
    return tagger, limits


def tagger_key(tagger: AudioTaggerSettings, limits: AudioDecodeSettings) -> str:
    """What changes a clip's outputs (not batch size or threads): the cache namespace."""
    blob = json.dumps(
        {
            "version": TAGGER_VERSION,
            "weights": weights_digest(),
            "max_seconds": tagger.max_seconds,
            "min_seconds": limits.min_seconds,
            "silence_peak": limits.silence_peak,
            **({"patches_per_clip": tagger.patches_per_clip} if tagger.patches_per_clip else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def checkpoint_prefix(model: str) -> str:
    """Where ``model``'s checkpoint lies inside the installed ``musicnn`` package: its files
    are named ``.index`` and ``.data-00000-of-00001`` inside the model's folder."""
    try:
        root = Path(str(resources.files("musicnn")))
    except ModuleNotFoundError:
        raise ModelNotFound(
            "the musicnn weights are not installed: pip install --no-deps 'musicnn==0.1.0' "
            "(make install does it)"
        ) from None
    prefix = f"{root / model}{os.sep}"
    if not Path(prefix + ".index").is_file():
        raise ModelNotFound(f"musicnn is installed but has no {model} checkpoint under {root}")
    return prefix


@lru_cache(maxsize=1)
def weights_digest() -> str:
    h = hashlib.sha256()
    for model in MODELS:
        h.update(Path(checkpoint_prefix(model) + ".data-00000-of-00001").read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=len(MODELS))
def network(model: str):
    """The torch port of one musicnn model, with its checkpoint's weights (cached per process).
    Built outside inference mode whoever asks first: a cached network built inside it would hold
    inference tensors that no later autograd-enabled caller (tests, analysis) may use."""
    import torch

    from moodtune.audio.musicnn.checkpoint import load_checkpoint
    from moodtune.audio.musicnn.network import Musicnn

    with torch.inference_mode(False):
        return Musicnn(load_checkpoint(checkpoint_prefix(model)))


def log_mel(y: np.ndarray) -> np.ndarray:
    """``(frames, 96)`` log-compressed mel spectrogram of 16 kHz mono samples, float32."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=SAMPLE_RATE, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS
    ).T
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)


def patches(mel: np.ndarray, keep: int = 0) -> np.ndarray:
    """``(n, 187, 96)`` non-overlapping patches; a short clip is repeated to fill one patch.
    ``keep > 0``: only that many of them, evenly spaced from the first to the last."""
    if len(mel) == 0:
        raise InvalidAudio("no mel frames to tag")
    if len(mel) < PATCH_FRAMES:
        mel = np.tile(mel, (int(np.ceil(PATCH_FRAMES / len(mel))), 1))[:PATCH_FRAMES]
    n = len(mel) // PATCH_FRAMES
    out = mel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS)
    if 0 < keep < n:
        out = out[np.unique(np.linspace(0, n - 1, keep).round().astype(int))]
    return out


def clip_patches(y: np.ndarray, keep: int = 0) -> np.ndarray:
    """``patches(log_mel(y), keep)``, computing the mel of the kept patches only: each kept patch's
    187 frames come from its own stretch of the (centre-padded) samples, the frames librosa's
    centred STFT gives there, so the numbers are the same (to float32 rounding, tested) for
    about a third of the spectrogram work with 3 of a 30 s clip's 10 patches."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    n = (1 + len(y) // HOP) // PATCH_FRAMES  # whole patches in log_mel(y)
    if not 0 < keep < n:
        return patches(log_mel(y), keep)
    padded = np.pad(y, N_FFT // 2)  # what stft(center=True) does (pad_mode "constant")
    span = (PATCH_FRAMES - 1) * HOP + N_FFT
    starts = np.unique(np.linspace(0, n - 1, keep).round().astype(int)) * PATCH_FRAMES * HOP
    mel = librosa.feature.melspectrogram(
        y=np.stack([padded[s : s + span] for s in starts]),
        sr=SAMPLE_RATE,
        hop_length=HOP,
        n_fft=N_FFT,
        n_mels=N_MELS,
        center=False,
    )
    mel = np.swapaxes(mel, 1, 2)  # (patches, 187, 96)
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)


def run_models(
    batch: np.ndarray, *, batch_patches: int = 64, models: Sequence[str] = MODELS
) -> dict[str, tuple]:
    """``{model: (tags (n, 50), embedding (n, 200))}`` for a stack of patches."""
    import torch

    out = {}
    with torch.inference_mode():
        for model in models:
            net = network(model)
            tags, embs = [], []
            for start in range(0, len(batch), batch_patches):
                t, e = net(torch.from_numpy(np.ascontiguousarray(batch[start : start + batch_patches])))
                tags.append(t.numpy())
                embs.append(e.numpy())
            out[model] = (np.concatenate(tags), np.concatenate(embs))
    return out


class _threads:
    def __init__(self, n: int):
        self.n = max(1, int(n))

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def tag_waveforms(waveforms: Sequence[np.ndarray], tagger: AudioTaggerSettings) -> np.ndarray:
    """``(clips, 500)`` outputs in :data:`TAGGER_COLUMNS` order for 16 kHz mono clips: MTT tags,
    MSD tags, MTT embedding, MSD embedding, each averaged over the clip's patches."""
    per_clip = [clip_patches(y, tagger.patches_per_clip) for y in waveforms]
    counts = np.array([len(p) for p in per_clip])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    with _threads(tagger.threads):
        outputs = run_models(np.concatenate(per_clip), batch_patches=tagger.batch_patches)

    def mean(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x.astype(np.float64), starts, axis=0) / counts[:, None]

    (mtt_t, mtt_e), (msd_t, msd_e) = outputs["MTT_musicnn"], outputs["MSD_musicnn"]
    result = np.concatenate([mean(mtt_t), mean(msd_t), mean(mtt_e), mean(msd_e)], axis=1)
    assert result.shape[1] == len(MTT_TAGS) + len(MSD_TAGS) + 2 * EMBEDDING_SIZE
    return result


def tag(
    source: str | os.PathLike | bytes,
    tagger: AudioTaggerSettings,
    limits: AudioDecodeSettings,
    *,
    name: str | None = None,
) -> dict[str, float]:
    """The tagger's outputs for one file (a path or uploaded bytes), by column name; ``limits``:
    the ``audio.decode`` settings (read at 16 kHz, :func:`tagger_limits`)."""
    y, _sr = decode(source, tagger_limits(tagger, limits), name=name)
    return dict(zip(TAGGER_COLUMNS, tag_waveforms([y], tagger)[0].tolist(), strict=True))


def _tag_files(
    chunk: Sequence[tuple[str, str]], tagger: AudioTaggerSettings, limits: AudioDecodeSettings
) -> list[tuple[str, np.ndarray | None, str]]:
    """``(id, outputs or None, why it failed)`` per file of ``chunk``, in one forward pass
    (``limits``: the tagger's own, :func:`tagger_limits`)."""
    decoded: list[str] = []
    waves: list[np.ndarray] = []
    out: list[tuple[str, np.ndarray | None, str]] = []
    for track_id, path in chunk:
        try:
            waves.append(decode(path, limits)[0])
            decoded.append(track_id)
        except InvalidAudio as exc:
            out.append((track_id, None, str(exc)))
        except Exception as exc:  # one unreadable file must not lose the batch
            out.append((track_id, None, f"{path}: decoding failed ({type(exc).__name__}: {exc})"))
    if waves:
        out += [(t, row, "") for t, row in zip(decoded, tag_waveforms(waves, tagger), strict=True)]
    return out


@dataclass
class TagBatch:
    """Tagger outputs of a batch (index = the ids given), failures and why, cache use, seconds."""

    features: pd.DataFrame
    failed: dict[str, str]
    cache_hits: int
    computed: int
    seconds: float

    @property
    def clips_per_second(self) -> float:
        n = self.computed + len(self.failed)
        return n / self.seconds if self.seconds > 0 else float("inf")


def tag_batch(
    items: Mapping[str, str | os.PathLike] | Iterable[tuple[str, str | os.PathLike]],
    tagger: AudioTaggerSettings,
    limits: AudioDecodeSettings,
    *,
    cache_dir: str | os.PathLike | None = None,
    clips_per_pass: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> TagBatch:
    """Tag many files ``{id: path}``; cached by file content (``<cache>/<tagger_key>/<sha256>.npy``).
    A bad file is listed in ``failed`` with its reason and never stops the batch."""
    from moodtune.audio.features import file_hash

    pairs = [(str(t), str(p)) for t, p in (items.items() if isinstance(items, Mapping) else items)]
    start = time.perf_counter()
    cache = Path(cache_dir) / tagger_key(tagger, limits) if cache_dir else None
    results: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    todo: list[tuple[str, str, Path | None]] = []
    for track_id, path in pairs:
        try:
            digest = file_hash(path)
        except OSError as exc:
            failed[track_id] = f"{path}: cannot be read ({exc.strerror or exc})"
            continue
        target = cache / digest[:2] / f"{digest}.npy" if cache else None
        row = read_npy(target) if target is not None else None  # damaged: recomputed
        if row is not None:
            results[track_id] = row
            continue
        todo.append((track_id, path, target))
    hits = len(results)
    done = hits + len(failed)
    targets = {track_id: target for track_id, _path, target in todo}
    step = max(1, clips_per_pass)
    chunks = [[(t, p) for t, p, _ in todo[i : i + step]] for i in range(0, len(todo), step)]
    from moodtune.workers import spawn_pool, worker_count

    workers = worker_count(tagger.workers, len(chunks))
    own = tagger_limits(tagger, limits)
    pool = spawn_pool(workers) if workers > 1 else None
    try:
        tagged = (
            pool.map(_tag_files, chunks, [tagger] * len(chunks), [own] * len(chunks))
            if pool
            else (_tag_files(chunk, tagger, own) for chunk in chunks)
        )
        for chunk, rows in zip(chunks, tagged, strict=True):
            for track_id, row, problem in rows:
                if row is None:
                    failed[track_id] = problem
                    continue
                results[track_id] = row
                target = targets[track_id]
                if target is not None:
                    write_atomic(target, partial(np.save, arr=row), ".npy")
            done += len(chunk)
            if progress:
                progress(done, len(pairs))
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    order = [t for t, _ in pairs if t in results]
    frame = pd.DataFrame(
        np.array([results[t] for t in order]).reshape(len(order), len(TAGGER_COLUMNS)),
        index=pd.Index(order, name="track_id"),
        columns=list(TAGGER_COLUMNS),
        dtype=np.float64,
    )
    return TagBatch(frame, failed, hits, len(results) - hits, time.perf_counter() - start)
