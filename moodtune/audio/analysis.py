"""Analyse many files at once: the hand-made features and the tagger's outputs side by side.

One table per batch (index: the ids given): the feature columns of
:mod:`moodtune.audio.features` then, when ``audio.tagger.enabled``, the 500 tagger columns of
:mod:`moodtune.audio.musicnn.tagger`. Both parts are cached by file content (the same caches,
keys and files as :func:`~moodtune.audio.features.extract_batch` and
:func:`~moodtune.audio.musicnn.tagger.tag_batch`); a file either part cannot read is left out
and listed in ``failed`` with its reason.

One pass per file (issue #27, ``benchmarks/library.py``): each file is hashed once and, when
either part is not cached, read and decoded once (:func:`~moodtune.audio.decode.read_mono`),
then brought to the features' rate and to the tagger's 16 kHz from those samples: the same
numbers as decoding it once per part, for one decode instead of two. The files go through one
pool of ``max(audio.features.n_jobs, audio.tagger.workers)`` spawned processes, each doing a
whole file (features, then the tagger's forward pass over that file's patches alone: a few
patches per pass is faster per patch on a CPU than dozens, and holds a tenth of the
activations) and writing both cache entries; nothing but the results comes back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodtune.audio.cachefile import read_json, read_npy, user_cache, write_atomic
from moodtune.audio.config import AudioDecodeSettings, AudioFeatureSettings, AudioTaggerSettings
from moodtune.audio.features import _cache_file, feature_key, feature_names, file_hash
from moodtune.errors import InvalidAudio


@dataclass
class Analysis:
    features: pd.DataFrame
    failed: dict[str, str]
    stats: dict[str, float] = field(default_factory=dict)

    def metadata(self) -> dict[str, float]:
        return {
            "clips": len(self.features),
            "columns": self.features.shape[1],
            "failed_count": len(self.failed),
            **self.stats,
        }


@dataclass(frozen=True)
class _Job:
    track_id: str
    path: str
    feature_cache: str | None  # where to write the features (None: not cached)
    tag_cache: str | None
    features: bool  # compute them (False: read from the cache)
    tags: bool


def analyse_file(
    job: _Job,
    features: AudioFeatureSettings,
    limits: AudioDecodeSettings,
    tagger: AudioTaggerSettings | None,
) -> dict:
    """Worker: one file decoded once, its features and/or tags computed and cached. Never raises
    for a bad file: ``{"id", "features", "tags", "problem", "cpu": {part: seconds}}``. ``limits``:
    ``audio.decode``; ``tagger``: ``audio.tagger`` (``None`` when a job asks for no tags)."""
    from moodtune.audio.decode import conform, read_mono
    from moodtune.audio.features import features_from_waveform
    from moodtune.threads import one_thread

    out: dict[str, Any] = {"id": job.track_id, "features": None, "tags": None, "problem": None, "cpu": {}}
    clock = time.process_time()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.process_time()
        out["cpu"][part] = out["cpu"].get(part, 0.0) + now - clock
        clock = now

    reads = [limits.max_seconds] if job.features else []  # the longest part either reader needs
    tag_limits = None
    if job.tags and tagger is not None:
        from moodtune.audio.musicnn.tagger import tagger_limits

        tag_limits = tagger_limits(tagger, limits)
        reads.append(tag_limits.max_seconds)
    seconds = max(reads)
    try:
        # one BLAS thread, as extract_features: the same summation order wherever it runs
        with one_thread():
            decoded = read_mono(job.path, seconds)
            lap("decode")
            if job.features:
                y, sr = conform(decoded, limits)
                out["features"] = features_from_waveform(y, sr, features)
                lap("features")
    except InvalidAudio as exc:
        out["problem"] = str(exc)
        return out
    except Exception as exc:  # an unexpected failure on one file must not lose the batch
        out["problem"] = f"{job.path}: feature extraction failed ({type(exc).__name__}: {exc})"
        return out
    if job.features and job.feature_cache:
        write_atomic(job.feature_cache, lambda p: p.write_text(json.dumps(out["features"])), "")
    if tag_limits is not None and tagger is not None:
        from moodtune.audio.musicnn.tagger import tag_waveforms

        try:
            y16, _sr = conform(decoded, tag_limits)
            del decoded
            out["tags"] = tag_waveforms([y16], tagger)[0]  # this file's patches alone in the pass
        except InvalidAudio as exc:
            out["problem"] = str(exc)
            return out
        except Exception as exc:
            out["problem"] = f"{job.path}: tagging failed ({type(exc).__name__}: {exc})"
            return out
        lap("tags")
        if job.tag_cache:
            write_atomic(job.tag_cache, lambda p: np.save(p, out["tags"]), ".npy")
    return out


def _analyse_files(
    jobs: list[_Job],
    features: AudioFeatureSettings,
    limits: AudioDecodeSettings,
    tagger: AudioTaggerSettings | None,
) -> list[dict]:
    return [analyse_file(job, features, limits, tagger) for job in jobs]


def cache_root(settings) -> Path:
    """Where the features' and tags' caches live (``audio.cache_dir``): by default
    ``$XDG_CACHE_HOME/moodtune/analysis``, outside the clone, so another clone or data dir
    analyses nothing twice (entries are keyed by file content and the configuration that made
    them); a relative setting is under the data dir (the tests: one cache per data dir)."""
    configured = settings.audio.cache_dir
    if configured is None:
        return user_cache("analysis")
    path = Path(configured)
    return path if path.is_absolute() else settings.data_path(*path.parts)


def analyse(
    settings, items: Mapping[str, str], *, progress: Callable[[str, int, int], None] | None = None
) -> Analysis:
    """Features (+ tags) of ``{id: path}``, cached under :func:`cache_root`."""
    from moodtune.workers import spawn_pool, worker_count

    start = time.perf_counter()
    a = settings.audio
    features, limits = a.features, a.decode
    tagger = a.tagger if a.tagger.enabled else None
    root = cache_root(settings)
    feature_dir, key = root / "feature_cache", feature_key(features, limits)
    tag_dir = None
    if tagger is not None:
        from moodtune.audio.musicnn.tagger import tagger_key

        tag_dir = root / "tag_cache" / tagger_key(tagger, limits)

    pairs = [(str(k), str(v)) for k, v in items.items()]
    feats: dict[str, dict] = {}
    tags: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    jobs: list[_Job] = []
    for track_id, path in pairs:
        try:
            digest = file_hash(path)  # once, for both caches
        except OSError as exc:
            failed[track_id] = f"{path}: cannot be read ({exc.strerror or exc})"
            continue
        f_path = _cache_file(feature_dir, key, digest)
        t_path = tag_dir / digest[:2] / f"{digest}.npy" if tag_dir else None
        cached_f = read_json(f_path)
        cached_t = read_npy(t_path) if t_path else None
        if cached_f is not None:
            feats[track_id] = cached_f
        if cached_t is not None:
            tags[track_id] = cached_t
        need_f, need_t = cached_f is None, tagger is not None and cached_t is None
        if need_f or need_t:
            jobs.append(_Job(track_id, path, str(f_path), str(t_path) if t_path else None, need_f, need_t))
    feature_hits = len(feats)
    tag_hits = len(tags)

    total, done = len(pairs), len(pairs) - len(jobs)
    if progress:
        progress("features and tags", done, total)
    workers = worker_count(max(features.n_jobs, tagger.workers if tagger else 1), len(jobs))
    cpu: dict[str, float] = {}
    pool = spawn_pool(workers) if workers > 1 and len(jobs) > 1 else None
    try:
        if pool:  # one file per task: the queue stays balanced and a worker holds one file at a time
            n = len(jobs)
            stream = pool.map(analyse_file, jobs, [features] * n, [limits] * n, [tagger] * n)
        else:
            stream = (analyse_file(job, features, limits, tagger) for job in jobs)
        for job, result in zip(jobs, stream, strict=True):
            for part, seconds in result["cpu"].items():
                cpu[part] = cpu.get(part, 0.0) + seconds
            if result["features"] is not None:
                feats[job.track_id] = result["features"]
            if result["tags"] is not None:
                tags[job.track_id] = result["tags"]
            if result["problem"]:
                failed[job.track_id] = result["problem"]
            done += 1
            if progress and (done % 10 == 0 or done == total):
                progress("features and tags", done, total)
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)

    names = feature_names(features)
    order = [
        tid for tid, _ in pairs if tid in feats and tid not in failed and (tagger is None or tid in tags)
    ]
    frame = pd.DataFrame(
        np.array([[feats[tid][n] for n in names] for tid in order], dtype=np.float64).reshape(
            len(order), len(names)
        ),
        index=pd.Index(order, name="track_id"),
        columns=names,
    )
    computed_f = sum(1 for j in jobs if j.features and j.track_id in feats)
    stats = {
        "cache_hits": feature_hits,
        "computed": computed_f,
        "feature_seconds": round(cpu.get("features", 0.0), 2),
        "decode_seconds": round(cpu.get("decode", 0.0), 2),
        "workers": workers,
        "seconds": round(time.perf_counter() - start, 2),
    }
    if tagger is not None:
        from moodtune.audio.musicnn.vocab import TAGGER_COLUMNS

        frame = frame.join(
            pd.DataFrame(
                np.array([tags[tid] for tid in order], dtype=np.float64).reshape(
                    len(order), len(TAGGER_COLUMNS)
                ),
                index=frame.index,
                columns=list(TAGGER_COLUMNS),
            )
        )
        stats.update(
            {
                "tag_cache_hits": tag_hits,
                "tags_computed": sum(1 for j in jobs if j.tags and j.track_id in tags),
                "tag_seconds": round(cpu.get("tags", 0.0), 2),
            }
        )
    return Analysis(frame, failed, stats)
