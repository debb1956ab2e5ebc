"""The library benchmark (issue #27): a listener's folder of real 30 s tracks through the
``audio_library`` asset's path, against the straightforward per-file path, in one run.

The folder: ``--tracks`` N files of 30 s cut from the real Debian-package music the catalog
already fetched (``~/.cache/moodtune/debian``, ``moodtune.audio.debian_music``; nothing is
downloaded: only extracted packages are read), each a different 30 s window of a track, written
as Ogg Vorbis at the track's own rate and channels (a library's files are compressed), cached
under ``~/.cache/moodtune/library_bench`` and linked into a scratch folder.

* ours - what one ``audio_library`` partition runs, in a fresh process (as Dagster's step
  subprocess): the settings of params.yaml (scratch data dir, so every cache starts empty;
  ``library_shards: 1`` so the one shard holds the N files), the champion audio model from the
  registry, then ``moodtune.audio.library.analyse_shard`` with its worker processes;
* reference - the straightforward per-file path in one process: per file
  ``extract_features(path, ...)`` (its own decode), ``tagger.tag(path, ...)`` (its own decode) and the
  champion's ``predict_proba`` on that row; no workers, no caches.

Both must give the same table (features within 1e-3 of each column's scale, as
benchmarks/audio_features.py; tags within 1e-4; probabilities within 1e-4); exits 1 otherwise.
Prints tracks/s of each and the ratio, the projection for a 10,000-track library (16 shards:
each shard's process start, imports and model load, plus the tracks at the measured rate), the
peak RSS of every process of each run (psutil, sampled every 50 ms, and getrusage's exact
peaks), and the load average beside every figure.

    .venv/bin/python benchmarks/library.py [--tracks 32] [--skip-reference]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

LIBRARY_TRACKS = 10_000
TRACK_SECONDS = 30.0
FEATURE_TOLERANCE = 1e-3  # of a column's scale, as benchmarks/audio_features.py
TAG_TOLERANCE = 1e-4


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


# --- the folder ---------------------------------------------------------------------------------


class NoMusic(RuntimeError):
    """Nothing to cut the library from (no extracted Debian package here): the run is skipped."""


def real_tracks(settings) -> list[tuple[str, float]]:
    """(path, seconds) of the catalog's real tracks of at least 60 s, from extracted packages only."""
    from moodtune.audio import debian_music

    cache = debian_music.cache_dir(settings)
    rows, problems = [], []
    for pkg in debian_music.music_packages():
        root = cache / "packages" / pkg.name
        if (root / ".extracted").exists():
            rows += debian_music.package_tracks(pkg, root, cache, 2 * TRACK_SECONDS, 10_000, problems)
    return sorted((r["path"], float(r["duration"])) for r in rows)


def make_library(n: int, store: Path, folder: Path, settings) -> list[Path]:
    """N distinct 30 s Ogg Vorbis files (made once into ``store``), linked into ``folder``."""
    import soundfile as sf

    store.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    tracks = None
    out = []
    for i in range(n):
        target = store / f"track_{i:05d}.ogg"
        if not target.exists():
            if tracks is None:
                tracks = real_tracks(settings)
                if not tracks:
                    raise NoMusic(
                        "no real music in the Debian package cache: run `make up` (or build the "
                        "audio_real_set asset) once so the catalog's packages are fetched"
                    )
            path, seconds = tracks[i % len(tracks)]
            windows = max(1, int((seconds - 5) // TRACK_SECONDS))
            start = 5.0 + TRACK_SECONDS * ((i // len(tracks)) % windows)  # a different window each round
            with sf.SoundFile(path) as f:
                f.seek(int(start * f.samplerate))
                y = f.read(int(TRACK_SECONDS * f.samplerate), dtype="float32", always_2d=True)
                sr = f.samplerate
            tmp = target.with_suffix(".tmp.ogg")
            sf.write(tmp, y, sr, format="OGG", subtype="VORBIS")
            tmp.replace(target)
        link = folder / target.name
        link.symlink_to(target)
        out.append(link)
    return out


# --- the runs, each in a fresh process ------------------------------------------------------------


def _settings(folder: str, data_dir: str):
    from moodtune.settings import load_settings

    return load_settings(
        overrides={
            "project": {"data_dir": data_dir},
            "audio": {"music_dir": folder, "library_shards": 1, "cache_dir": "audio"},
        }
    )  # the scratch dir's: empty


def _champion(settings):
    from moodtune import registry
    from moodtune.errors import ModelNotFound

    try:
        return registry.load(registry.AUDIO, None, settings)
    except ModelNotFound:
        return None


def _cpu() -> float:
    """CPU seconds of this process and its children (the workers: running ones from psutil, reaped
    ones from getrusage), user + system."""
    import psutil

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            live += times.user + times.system
        except psutil.Error:
            pass
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + live


def _ours(folder: str, data_dir: str, queue) -> None:
    t0 = time.perf_counter()
    from moodtune.audio.library import analyse_shard

    settings = _settings(folder, data_dir)
    model = _champion(settings)
    t_ready, c_ready = time.perf_counter() - t0, _cpu()
    marks = []  # (seconds since the start, files done): analyse reports every 10 files
    result = analyse_shard(
        settings,
        folder,
        "shard-000",
        model=model,
        progress=lambda _part, done, _total: marks.append(
            (time.perf_counter() - t0 - t_ready, done, _cpu() - c_ready)
        ),
    )
    queue.put(
        {
            "table": result.table,
            "bad": result.bad,
            "ready": t_ready,
            "analyse": time.perf_counter() - t0 - t_ready,
            "model": model is not None,
            "stats": result.stats,
            "marks": marks,
            "cpu_ready": c_ready,
            "cpu": _cpu() - c_ready,
            "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        }
    )


def _reference(folder: str, data_dir: str, queue) -> None:
    t0 = time.perf_counter()
    import pandas as pd

    from moodtune.audio.features import extract_features
    from moodtune.audio.library import library_files
    from moodtune.audio.musicnn import tagger
    from moodtune.emotions import GEMS6, to_dlut
    from moodtune.errors import InvalidAudio

    settings = _settings(folder, data_dir)
    model = _champion(settings)
    a = settings.audio
    t_ready, c_ready = time.perf_counter() - t0, _cpu()
    rows, bad, marks = {}, [], []
    for done, path in enumerate(library_files(folder)):
        if done % 10 == 0:
            marks.append((time.perf_counter() - t0 - t_ready, done, _cpu() - c_ready))
        rel = path.relative_to(folder).as_posix()
        try:
            row = pd.DataFrame(
                [{**extract_features(path, a.features, a.decode), **tagger.tag(path, a.tagger, a.decode)}],
                index=[rel],
            )
        except InvalidAudio as exc:
            bad.append({"file": rel, "problem": str(exc)})
            continue
        if model is not None:
            proba = model.predict_proba(row)
            v, a = to_dlut(
                "gems6", dict(zip(GEMS6, proba[list(GEMS6)].to_numpy(dtype=float)[0], strict=True))
            ).valence_arousal()
            row = row.join(proba.add_prefix("p.")).assign(valence=v, arousal=a)
        rows[rel] = row
    marks.append((time.perf_counter() - t0 - t_ready, done + 1, _cpu() - c_ready))
    table = pd.concat(rows.values()) if rows else pd.DataFrame()
    queue.put(
        {
            "table": table,
            "bad": bad,
            "ready": t_ready,
            "analyse": time.perf_counter() - t0 - t_ready,
            "model": model is not None,
            "stats": {},
            "marks": marks,
            "cpu_ready": c_ready,
            "cpu": _cpu() - c_ready,
            "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        }
    )


def _role(proc) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:
        return "?"
    if "loky" in cmd:
        return "loky worker"
    if "spawn_main" in cmd or "multiprocessing" in cmd:
        return "spawned worker"
    return "other"


def run(target, folder: Path, data_dir: Path) -> dict:
    """``target`` in a fresh spawned process; peak RSS of it and every descendant (sampled)."""
    import psutil

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    load_before = load()
    t0 = time.perf_counter()
    proc = ctx.Process(target=target, args=(str(folder), str(data_dir), queue))
    proc.start()
    peaks: dict[int, list] = {}
    stop = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in family:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                entry = peaks.setdefault(p.pid, [0, "analysis process" if p.pid == proc.pid else _role(p)])
                entry[0] = max(entry[0], rss)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = queue.get()
    proc.join()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    out.update(
        wall=wall,
        load_before=load_before,
        load_after=load(),
        peaks=sorted(peaks.values(), reverse=True),
        exitcode=proc.exitcode,
    )
    return out


# --- the report ---------------------------------------------------------------------------------


def agreement(ours, ref) -> dict[str, float]:
    """Worst differences: features as a share of each column's scale, tags and probabilities absolute."""
    from moodtune.audio.musicnn.vocab import TAGGER_COLUMNS

    common = ours.index.intersection(ref.index)
    a, b = ours.loc[common], ref.loc[common, ours.columns]
    tagged = [c for c in ours.columns if c in set(TAGGER_COLUMNS)]
    proba = [c for c in ours.columns if c.startswith("p.") or c in ("valence", "arousal")]
    hand = [c for c in ours.columns if c not in set(tagged) | set(proba)]
    x, y = a[hand].to_numpy(float), b[hand].to_numpy(float)
    scale = np.maximum(np.maximum(x.std(axis=0), np.abs(x).mean(axis=0)), 1e-12)
    return {
        "features": float((np.abs(x - y) / scale).max()) if hand else 0.0,
        "tags": float(np.abs(a[tagged].to_numpy(float) - b[tagged].to_numpy(float)).max()) if tagged else 0.0,
        "proba": float(np.abs(a[proba].to_numpy(float) - b[proba].to_numpy(float)).max()) if proba else 0.0,
        "rows": len(common),
        "ours_rows": len(ours),
        "ref_rows": len(ref),
    }


def steady(marks: list[tuple], n: int, total: float, at: int) -> tuple[float, float]:
    """(per track after the first 10 files, the run's fixed cost), of wall seconds (``at`` 0) or
    CPU seconds (``at`` 2): the first files pay the workers' start (imports, numba, the
    networks), once per shard; the rest is the rate."""
    first = next((m for m in marks if m[1] >= 10), None)
    if first is None or n - first[1] < 5:
        return total / n, 0.0
    per = (total - first[at]) / (n - first[1])
    return per, max(0.0, total - n * per)


def describe(label: str, r: dict, n: int, shards: int) -> float:
    per, fixed = steady(r["marks"], n, r["analyse"], 0)
    projection = shards * (r["ready"] + fixed) + LIBRARY_TRACKS * per
    print(
        f"{label}: {n} tracks in {r['analyse']:.1f} s = {n / r['analyse']:.2f} tracks/s, {1 / per:.2f} tracks/s after "
        f"the first 10 (load {r['load_before']} -> {r['load_after']}); process start + imports + model "
        f"{r['ready']:.1f} s, workers' start ~{fixed:.1f} s; whole process {r['wall']:.1f} s"
    )
    print(
        f"  projection for {LIBRARY_TRACKS:,} tracks of {TRACK_SECONDS:g} s, wall clock here: {projection / 60:.1f} min "
        f"({shards} shards x {r['ready'] + fixed:.1f} s start + {LIBRARY_TRACKS:,} x {per:.3f} s)"
    )
    cores = min(len(os.sched_getaffinity(0)), int(r["stats"].get("workers", 1)))  # the cores the run can use
    cpu_per, cpu_fixed = steady(r["marks"], n, r["cpu"], 2)
    idle = (shards * (r["cpu_ready"] + cpu_fixed) + LIBRARY_TRACKS * cpu_per) / cores
    print(
        f"  CPU: {cpu_per:.3f} s per track after the first 10 (all processes), {r['cpu_ready'] + cpu_fixed:.1f} s per "
        f"shard's start: {idle / 60:.1f} min for {LIBRARY_TRACKS:,} tracks on {cores} idle core(s) (the CPU-bound "
        "projection: other load inflates CPU time far less than wall time)"
    )
    r["idle"] = idle
    st = r["stats"]
    if "decode_seconds" in st:
        print(
            f"  CPU per track by part (summed over the workers, first files included): decode "
            f"{st['decode_seconds'] / n:.3f} s, hand features {st['feature_seconds'] / n:.3f} s, tagger "
            f"{st.get('tag_seconds', 0) / n:.3f} s"
        )
    workers = [p for p in r["peaks"] if p[1] != "analysis process" and p[0] > 0]
    main = [p for p in r["peaks"] if p[1] == "analysis process"]
    print(
        f"  peak RSS: analysis process {main[0][0] / 2**20 if main else 0:.0f} MB (getrusage "
        f"{r['self_kb'] / 1024:.0f} MB); {len(workers)} worker processes: "
        + (", ".join(f"{rss / 2**20:.0f} MB ({role})" for rss, role in workers) or "none")
        + f"; largest reaped child (getrusage) {r['children_kb'] / 1024:.0f} MB"
    )
    return projection


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tracks", type=int, default=32, help="tracks in the folder (each a distinct 30 s window)"
    )
    parser.add_argument(
        "--skip-reference", action="store_true", help="time ours only (no ratio, no agreement)"
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=Path.home() / ".cache" / "moodtune" / "library_bench",
        help="where the cut tracks are kept between runs",
    )
    a = parser.parse_args(argv)

    from moodtune.settings import get_settings

    settings = get_settings()
    shards = settings.audio.library_shards
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "library"
        t0 = time.perf_counter()
        try:
            files = make_library(a.tracks, a.store, folder, settings)
        except NoMusic as exc:
            print(f"skipped: {exc}")
            return 0
        print(
            f"library: {len(files)} real 30 s tracks (Ogg Vorbis, cut from the catalog's Debian packages) in "
            f"{time.perf_counter() - t0:.1f} s; {len(os.sched_getaffinity(0))} cores, load {load()}"
        )
        a_s, t_s = settings.audio, settings.audio.tagger
        print(
            f"settings (params.yaml): sample_rate {a_s.decode.sample_rate}, features.n_jobs {a_s.features.n_jobs}, "
            f"tagger workers {t_s.workers} x {t_s.threads} thread, patches_per_clip {t_s.patches_per_clip}, "
            f"batch_patches {t_s.batch_patches}; a 10,000-track library in {shards} shards"
        )
        ours = run(_ours, folder, Path(tmp) / "data_ours")
        if not ours["model"]:
            print(
                "  (no champion audio model in the registry: features and tags only; `make build` registers one)"
            )
        p_ours = describe("ours (analyse_shard, the asset's path)", ours, len(files), shards)
        ok = ours["exitcode"] == 0 and not ours["bad"]
        if not a.skip_reference:
            ref = run(_reference, folder, Path(tmp) / "data_ref")
            p_ref = describe(
                "reference (per file: features, tags, predict; one process)", ref, len(files), shards
            )
            agree = agreement(ours["table"], ref["table"])
            cpu_ours, cpu_ref = (steady(r["marks"], len(files), r["cpu"], 2)[0] for r in (ours, ref))
            print(
                f"ratio ours / reference: {ref['analyse'] / ours['analyse']:.2f}x the tracks/s, "
                f"{cpu_ours / cpu_ref:.2f}x the CPU per track after the first 10, projection "
                f"{p_ours / 60:.1f} vs {p_ref / 60:.1f} min (load {load()})"
            )
            fine = (
                agree["features"] <= FEATURE_TOLERANCE
                and agree["tags"] <= TAG_TOLERANCE
                and agree["proba"] <= TAG_TOLERANCE
                and agree["ours_rows"] == agree["ref_rows"] == agree["rows"]
            )
            print(
                f"agreement over {agree['rows']} tracks: features {agree['features']:.1e} of scale (tolerance "
                f"{FEATURE_TOLERANCE:g}), tags {agree['tags']:.1e}, probabilities {agree['proba']:.1e} "
                f"(tolerance {TAG_TOLERANCE:g}) -> {'OK' if fine else 'DISAGREE'}"
            )
            ok = ok and fine
        print(
            f"targets: projection {p_ours / 60:.1f} min here, {ours['idle'] / 60:.1f} min on idle cores (<= 30), "
            f"peak RSS per process "
            f"{max(p[0] for p in ours['peaks']) / 2**20:.0f} MB (<= 1,200)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
