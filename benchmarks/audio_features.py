"""Audio feature extraction: our one-STFT, parallel extractor vs the seed's per-feature calls.

In one run, on the same synthesised demo clips:

* reference - seed A's way (``moodtune.audio.reference``): decode, pre-emphasis, then one
  librosa call per feature on the waveform (each spectral call computes its own STFT), clip
  after clip in one process;
* ours, serial - ``moodtune.audio.features`` in one process (one STFT per clip);
* ours, parallel - the batch extractor the ``audio_features`` asset uses (``--jobs`` worker
  processes; the pool is started before timing, as it stays up across a materialization).

Both compute the same shared features; they must agree within ``TOLERANCE`` (the worst
absolute difference over the clips, as a share of the feature's scale: its spread across the
clips or its mean magnitude, whichever is larger). Prints clips/s of each and the ratios;
exits 1 if the features disagree. Every run uses one BLAS thread per process, so the
reference is not slowed by thread oversubscription.

    .venv/bin/python benchmarks/audio_features.py [--clips 48] [--seconds 10] [--jobs 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from moodtune.audio.datasets import load_folder, write_demo
from moodtune.audio.features import extract_batch, extract_features
from moodtune.audio.reference import SHARED_FEATURES, compare, reference_features
from moodtune.settings import get_settings

TOLERANCE = 1e-3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48, help="number of clips (a multiple of 24 is exact)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the parallel run")
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds; the best of each is kept")
    args = parser.parse_args(argv)

    features, limits = get_settings().audio.features, get_settings().audio.decode
    with tempfile.TemporaryDirectory() as tmp:
        per_cell = max(1, -(-args.clips // 24))
        folder = write_demo(
            Path(tmp) / "clips",
            n_per_cell=per_cell,
            seconds=args.seconds,
            sample_rate=limits.sample_rate,
            seed=0,
            n_jobs=args.jobs,
        )
        clips = load_folder(folder, limits, source="demo").clips.head(args.clips)
        paths = dict(zip(clips["track_id"], clips["path"], strict=True))
        print(
            f"{len(paths)} synthesised clips of {args.seconds:g} s at {limits.sample_rate} Hz; "
            f"{args.jobs} worker processes for the parallel run; best of {args.repeat} interleaved rounds"
        )

        first = next(iter(paths.values()))
        with threadpool_limits(1):  # warm-up: imports, numba JIT, caches
            reference_features(first, features, limits)
        extract_features(first, features, limits)
        extract_batch(
            dict(list(paths.items())[: 2 * args.jobs]),
            features,
            limits,
            n_jobs=args.jobs,
            show_progress=False,
        )

        # interleaved rounds, best of each: other load on the machine hits all three alike.
        # Wall clock is what a run takes here and now; CPU time is the work per clip, which
        # other processes on the machine do not inflate.
        t_ref = t_serial = t_par = c_ref = c_serial = c_par = float("inf")
        load = os.getloadavg()[0]
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            with threadpool_limits(1):
                reference = {t: reference_features(p, features, limits) for t, p in paths.items()}
            t_ref, c_ref = min(t_ref, time.perf_counter() - t0), min(c_ref, time.process_time() - c0)

            t0, c0 = time.perf_counter(), time.process_time()
            serial = {t: extract_features(p, features, limits) for t, p in paths.items()}
            t_serial, c_serial = (
                min(t_serial, time.perf_counter() - t0),
                min(c_serial, time.process_time() - c0),
            )

            t0 = time.perf_counter()
            batch = extract_batch(paths, features, limits, n_jobs=args.jobs, show_progress=False)  # no cache
            t_par, c_par = min(t_par, time.perf_counter() - t0), min(c_par, batch.cpu_seconds)
        load = max(load, os.getloadavg()[0])

    if batch.failed:
        print(f"failed clips: {batch.failed}")
        return 1
    parallel = {t: row.to_dict() for t, row in batch.features.iterrows()}
    worst = compare(parallel, reference)
    worst_serial = compare(serial, reference)
    name, err = max(worst.items(), key=lambda kv: kv[1])
    n = len(paths)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores, load average {load:.1f} during the run (other processes share the cores)")
    print(f"{'':46} {'wall clips/s':>12} {'ratio':>6}  {'CPU ms/clip':>11} {'ratio':>6}")
    rows = [
        ("reference (per-feature librosa calls, serial)", t_ref, c_ref),
        ("ours, serial (one STFT per clip)", t_serial, c_serial),
        (f"ours, parallel ({args.jobs} processes)", t_par, c_par),
    ]
    for label, wall, cpu in rows:
        print(f"{label:46} {n / wall:12.2f} {t_ref / wall:5.1f}x  {1000 * cpu / n:11.1f} {c_ref / cpu:5.1f}x")
    ok = err <= TOLERANCE and max(worst_serial.values()) <= TOLERANCE
    print(
        f"agreement on {len(SHARED_FEATURES)} shared features: worst {name} differs by {err:.2e} of its "
        f"scale (tolerance {TOLERANCE:g}) -> {'OK' if ok else 'DISAGREE'}"
    )
    used = min(args.jobs, cores)
    print(
        f"speed ratio (ours parallel / reference): {t_ref / t_par:.1f}x wall clock here; "
        f"{c_ref / c_serial:.1f}x less CPU per clip, so {c_ref / c_serial * used:.1f}x expected with "
        f"{used} idle cores"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
