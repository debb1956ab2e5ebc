"""The musicnn tagger: our one-pass batched tagger vs a straightforward reference, in one run.

On the same synthesised 30 s clips (44.1 kHz WAV files):

* reference - one clip at a time; MTT and MSD each load and resample the file (librosa, as
  musicnn does) and compute their own mel; patches run through the network's plain channels-first
  layout (``Musicnn.plain``: conv, ReLU, batch norm, max over frequency, as TensorFlow runs it),
  one clip per forward pass;
* ours, one process - ``moodtune.audio.musicnn.tagger.tag_batch``: decode once, one mel for both
  models, the patches of several clips in one forward pass, the fused front end
  (``Musicnn.forward``: max over frequency before bias, ReLU and batch norm; the filters
  training left dead skipped, their constant feature filled in), ``--threads`` torch threads;
* ours, N processes - the same, files split across ``--workers`` processes of one thread each;
* ours, sampled - as the best of the two above but only ``--patches`` evenly spaced 3 s patches
  per clip (``audio.tagger.patches_per_clip``): fewer network passes, different numbers
  (labelled apart; docs/audio.md says what it does to genre accuracy).

Every patch: ours must agree with the reference (tags within 1e-4). Prints clips/s, the ratios,
the projection for a 10,000-track library, the load average and the peak RSS of a worker;
exits 1 if they disagree.

    .venv/bin/python benchmarks/audio_tagger.py [--clips 8] [--seconds 30] [--threads 2] [--workers 2] [--patches 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from moodtune.audio.musicnn import tagger
from moodtune.settings import get_settings


def _clips(folder: Path, n: int, seconds: float) -> dict[str, str]:
    rng = np.random.default_rng(0)
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    out = {}
    for i in range(n):
        freqs = 110.0 * 2 ** (rng.integers(0, 36, size=4) / 12)
        y = sum(np.sin(2 * np.pi * f * t) for f in freqs) * (
            0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
        )
        y += 0.3 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0.9)
        path = folder / f"clip{i}.wav"
        sf.write(path, (0.4 * y / np.abs(y).max()).astype(np.float32), sr)
        out[f"c{i}"] = str(path)
    return out


def reference(paths: dict[str, str]) -> np.ndarray:
    import librosa

    rows = []
    for path in paths.values():
        row = []
        for model in tagger.MODELS:
            y, _ = librosa.load(path, sr=tagger.SAMPLE_RATE, duration=30.0)
            batch = tagger.patches(tagger.log_mel(y))
            net = tagger.network(model)
            with torch.inference_mode():
                tags, emb = net.plain(torch.from_numpy(batch))
            row.append((tags.numpy().mean(axis=0), emb.numpy().mean(axis=0)))
        (mt, me), (st, se) = row
        rows.append(np.concatenate([mt, st, me, se]))
    return np.array(rows)


def _tagger(**changes):
    """params.yaml's ``audio.tagger`` with some values changed."""
    return get_settings().audio.tagger.model_copy(update=changes)


def _worker(args) -> tuple[np.ndarray, int]:
    items, threads, keep = args
    torch.set_num_threads(threads)
    config = _tagger(threads=threads, patches_per_clip=keep, workers=1)
    result = tagger.tag_batch(items, config, get_settings().audio.decode)
    return result.features.loc[list(items)].to_numpy(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patches", type=int, default=3, help="patches per clip for the sampled run")
    a = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _clips(Path(tmp), a.clips, a.seconds)
        torch.set_num_threads(a.threads)
        for model in tagger.MODELS:  # load the weights before timing (both ways use them)
            tagger.network(model)
        reference({"warm": next(iter(paths.values()))})
        t0 = time.perf_counter()
        ref = reference(paths)
        t_ref = time.perf_counter() - t0

        config = _tagger(threads=a.threads, workers=1, patches_per_clip=0)
        limits = get_settings().audio.decode
        t0 = time.perf_counter()
        ours = tagger.tag_batch(paths, config, limits).features.loc[list(paths)].to_numpy()
        t_ours = time.perf_counter() - t0
        rss_one = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        keys = list(paths)
        shards = [{k: paths[k] for k in keys[i :: a.workers]} for i in range(a.workers)]

        def pooled_run(pool, keep):
            t0 = time.perf_counter()
            parts = list(pool.map(_worker, [(s, 1, keep) for s in shards]))
            seconds = time.perf_counter() - t0
            rows = np.zeros_like(ours)
            for shard, (part, _rss) in zip(shards, parts, strict=True):
                rows[[keys.index(k) for k in shard]] = part
            return rows, seconds, max(r for _rows, r in parts) / 1024

        with ProcessPoolExecutor(a.workers) as pool:
            list(pool.map(_worker, [({"w": paths[keys[0]]}, 1, 0)] * a.workers))  # start and warm the workers
            pooled, t_pool, rss_worker = pooled_run(pool, 0)
            sampled_pool, t_sampled_pool, _ = pooled_run(pool, a.patches)
        t0 = time.perf_counter()
        sampled = (
            tagger.tag_batch(paths, _tagger(threads=a.threads, patches_per_clip=a.patches, workers=1), limits)
            .features.loc[list(paths)]
            .to_numpy()
        )
        t_sampled = time.perf_counter() - t0

    diff_tags = float(np.abs(ref[:, :100] - ours[:, :100]).max())
    diff_pool = float(np.abs(pooled - ours).max())
    diff_sampled = float(np.abs(sampled_pool - sampled).max())
    drift = float(np.abs(sampled[:, :100] - ours[:, :100]).max())
    n, patches = a.clips, int(a.seconds // tagger.PATCH_SECONDS)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"musicnn tagger, {n} clips of {a.seconds:g} s (MTT + MSD, tags + embeddings), torch threads {a.threads}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(f"every patch ({patches} per clip):")
    print(f"  reference (clip by clip, a mel per model, plain layout)  {n / t_ref:6.3f} clips/s")
    print(
        f"  ours, one process, {a.threads} threads                    {n / t_ours:6.3f} clips/s  ({t_ref / t_ours:.2f}x)"
    )
    print(
        f"  ours, {a.workers} processes x 1 thread                     {n / t_pool:6.3f} clips/s  ({t_ref / t_pool:.2f}x)"
    )
    best = min(t_ours, t_pool) / n
    print(f"  projection for 10,000 tracks of {a.seconds:g} s: {best * 10_000 / 60:.0f} min (best of ours)")
    print(
        f"sampled: {a.patches} evenly spaced patches per clip (audio.tagger.patches_per_clip: {a.patches}; other numbers):"
    )
    print(
        f"  ours, one process, {a.threads} threads                    {n / t_sampled:6.3f} clips/s  "
        f"({t_ref / t_sampled:.2f}x the every-patch reference)"
    )
    print(
        f"  ours, {a.workers} processes x 1 thread                     {n / t_sampled_pool:6.3f} clips/s  "
        f"({t_ref / t_sampled_pool:.2f}x)"
    )
    best_s = min(t_sampled, t_sampled_pool) / n
    print(f"  projection for 10,000 tracks of {a.seconds:g} s: {best_s * 10_000 / 60:.0f} min (best of ours)")
    print(f"  max |every patch - sampled| over tags {drift:.3f} (what sampling changes)")
    print(f"peak RSS: one process {rss_one:.0f} MB, a worker {rss_worker:.0f} MB")
    print(
        f"max |reference - ours| over tags {diff_tags:.2e}; one process vs workers {diff_pool:.2e} "
        f"(sampled {diff_sampled:.2e})"
    )
    return 0 if diff_tags < 1e-4 and diff_pool < 1e-4 and diff_sampled < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
