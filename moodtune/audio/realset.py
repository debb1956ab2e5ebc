"""The real-music validation set: game soundtracks from Debian packages, labelled by package.

``realset.yaml`` (beside this module) names each package, its genre, the reason for that
label and which side of the split it is on. :func:`assemble` fetches each package once
(``apt-get download`` + ``dpkg -x`` into the cache), cuts clips of ``clip_seconds`` from evenly
spaced points of each track (``audio.real_set.clips_per_track``; mixing stems where a song is
kept in parts) and writes them as WAV files, so every later step reads small files and caches their features by content.
Nothing here is committed; where apt is unavailable the set is empty and says why.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

from moodtune.audio.cachefile import user_cache
from moodtune.emotions import GENRES
from moodtune.errors import ConfigError

SPEC = Path(__file__).with_name("realset.yaml")
COLUMNS = ["track_id", "path", "genre", "package", "side", "title", "source"]


@dataclass(frozen=True)
class RealPackage:
    name: str
    genre: str
    side: str  # "train" or "heldout"
    files: str
    reason: str
    licence: str
    archive: str | None = None
    stems: tuple[str, ...] = ()
    clips_per_track: int = 1  # assemble() sets audio.real_set.clips_per_track


def packages(spec: Path = SPEC) -> list[RealPackage]:
    """The packages of the set, as written down in ``realset.yaml``."""
    raw = yaml.safe_load(spec.read_text())["packages"]
    out = []
    for name, p in raw.items():
        pkg = RealPackage(
            name=name,
            genre=p["genre"],
            side=p["side"],
            files=p["files"],
            reason=" ".join(p["reason"].split()),
            licence=p["licence"],
            archive=p.get("archive"),
            stems=tuple(p.get("stems", ())),
        )
        if pkg.genre not in GENRES or pkg.side not in ("train", "heldout"):
            raise ConfigError(f"{spec}: {name} has genre {pkg.genre!r} / side {pkg.side!r}")
        out.append(pkg)
    return out


def track_of(clip_ids) -> list[str]:
    """The track each clip id belongs to: ``<prefix>:<package>:<title>:<k>`` less its ``:<k>``
    (an id without a colon is its own track)."""
    return [str(c).rsplit(":", 1)[0] for c in clip_ids]


def labels_table(spec: Path = SPEC) -> pd.DataFrame:
    """package -> genre -> side -> reason (for docs, MLflow and the asset's metadata)."""
    return pd.DataFrame(
        [
            {"package": p.name, "genre": p.genre, "side": p.side, "licence": p.licence, "reason": p.reason}
            for p in packages(spec)
        ]
    )


@dataclass
class RealSet:
    clips: pd.DataFrame  # COLUMNS
    unavailable: str | None = None  # why there is no set, when there is none
    problems: list[str] = field(default_factory=list)  # packages or tracks skipped, with the reason


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/moodtune/debian`` (``~/.cache``): outside the clone, shared by clones."""
    return user_cache("debian")


def package_cache(settings) -> Path:
    """Where Debian packages are fetched to: ``audio.catalog.cache_dir``, else :func:`default_cache`."""
    configured = settings.audio.catalog.cache_dir
    return settings.path(configured) if configured else default_cache()


def apt_unavailable() -> str | None:
    """Why apt cannot fetch packages here (None when it can)."""
    missing = [tool for tool in ("apt-get", "dpkg") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found: no Debian packaging tools" if missing else None


def fetch(package: str, cache: Path) -> Path:
    """The package's files, extracted under ``cache/packages/<name>`` (downloaded once). Safe to
    call from several processes at once (the catalog and the real set share packages): one
    fetches, the others wait on the package's lock and read what it extracted."""
    target = cache / "packages" / package
    done = target / ".extracted"
    if done.exists():
        return target
    locks = cache / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _download_and_extract(package, cache, target)
    return target


def fetch_all(packages: list[str], cache: Path, workers: int = 4) -> dict[str, Path | Exception]:
    """:func:`fetch` of every package, ``workers`` at a time (a fresh machine waits on the network
    and on ``dpkg -x``, not on Python); each package's path, or the error that stopped it."""

    def one(name: str) -> Path | Exception:
        try:
            return fetch(name, cache)
        except (OSError, subprocess.SubprocessError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(packages, pool.map(one, packages), strict=True))


def _download_and_extract(package: str, cache: Path, target: Path) -> None:
    debs = cache / "debs" / package  # one folder per package: parallel downloads never share a file
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        run = subprocess.run(
            ["apt-get", "download", package], cwd=debs, capture_output=True, text=True, timeout=900
        )
        if run.returncode != 0 and os.geteuid() == 0:  # a fresh machine may have no package lists yet
            with open(cache / "locks" / "apt-get-update.lock", "w") as lock:  # one update at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=900)
            run = subprocess.run(
                ["apt-get", "download", package], cwd=debs, capture_output=True, text=True, timeout=900
            )
        found = sorted(debs.glob(f"{package}_*.deb"))
        if run.returncode != 0 or not found:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise OSError(f"apt-get download {package} failed: {tail[0]} (run apt-get update once?)")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(found[-1]), str(target)], check=True, capture_output=True, timeout=900)
    (target / ".extracted").touch()
    for deb in found:  # the extracted tree is what later steps read: the archive is not kept
        deb.unlink(missing_ok=True)


def package_files(name: str, root: Path, cache: Path, pattern: str, archive: str | None = None) -> list[Path]:
    """The files of an extracted package matching ``pattern`` (``**`` crosses folders); with
    ``archive`` (a zip such as a .pk3 inside the package), its members, extracted once."""
    if archive is None:
        return sorted(p for p in root.glob(pattern) if p.is_file())
    out = cache / "archives" / name
    with zipfile.ZipFile(next(root.glob(archive))) as zf:
        for member in zf.namelist():
            if fnmatch.fnmatch(member, pattern) and not (out / member).exists():
                zf.extract(member, out)
    return sorted(p for p in out.glob(pattern) if p.is_file())


def _tracks(pkg: RealPackage, root: Path, cache: Path) -> list[Path]:
    return package_files(pkg.name, root, cache, pkg.files, pkg.archive)


def _read_segment(path: Path, start_fraction: float, seconds: float) -> tuple[np.ndarray, int]:
    with sf.SoundFile(str(path)) as f:
        sr, n = f.samplerate, f.frames
        length = min(n, int(seconds * sr))
        f.seek(max(0, int((n - length) * start_fraction)))
        data = f.read(length, dtype="float32", always_2d=True)
    return data.mean(axis=1), sr


def cut_clips(
    pkg: RealPackage, track: Path, out_dir: Path, seconds: float, prefix: str = "real"
) -> list[tuple[str, Path]]:
    """Clips of ``seconds`` from evenly spaced points of ``track`` (stems mixed), as WAV files,
    with ids ``<prefix>:<package>:<title>:<k>``."""
    title = track.parent.name if pkg.stems else track.stem
    made = []
    for k in range(pkg.clips_per_track):
        target = out_dir / pkg.name / f"{title}_{k}.wav"
        if not target.exists():
            fraction = (k + 1) / (pkg.clips_per_track + 1)
            parts = [track.with_name(s) for s in pkg.stems] if pkg.stems else [track]
            segments = [_read_segment(p, fraction, seconds) for p in parts if p.exists()]
            sr = segments[0][1]
            y = np.zeros(max(len(s) for s, _ in segments), dtype=np.float32)
            for s, _ in segments:
                y[: len(s)] += s
            peak = float(np.abs(y).max())
            if peak > 1.0:
                y /= peak
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp.wav")
            sf.write(str(tmp), y, sr, subtype="PCM_16")
            tmp.replace(target)
        made.append((f"{prefix}:{pkg.name}:{title}:{k}", target))
    return made


def assemble(settings, log: Callable[[str], None] = lambda _m: None, spec: Path = SPEC) -> RealSet:
    """Fetch, cut and list the set (cached: a second call reads what the first wrote)."""
    r = settings.audio.real_set
    if not r.enabled:
        return RealSet(pd.DataFrame(columns=COLUMNS), "disabled (audio.real_set.enabled: false)")
    reason = apt_unavailable()
    if reason:
        return RealSet(pd.DataFrame(columns=COLUMNS), reason)
    # the packages are shared with the catalog's (moodtune.audio.debian_music): fetched once per machine
    cache = Path(r.cache_dir) if r.cache_dir else package_cache(settings)
    out_dir = cache / "clips" / f"{r.clip_seconds:g}s_x{r.clips_per_track}"
    rows, problems = [], []
    for pkg in packages(spec):
        pkg = replace(pkg, clips_per_track=r.clips_per_track)
        try:
            root = fetch(pkg.name, cache)
            tracks = _tracks(pkg, root, cache)[: r.max_tracks_per_package]
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, StopIteration) as exc:
            problems.append(f"{pkg.name}: {exc}")
            log(f"real set: {pkg.name} skipped ({exc})")
            continue
        for track in tracks:
            try:
                for track_id, path in cut_clips(pkg, track, out_dir, r.clip_seconds):
                    rows.append(
                        {
                            "track_id": track_id,
                            "path": str(path),
                            "genre": pkg.genre,
                            "package": pkg.name,
                            "side": pkg.side,
                            "title": track_id.split(":")[2],
                            "source": "real",
                        }
                    )
            except (OSError, RuntimeError, ValueError, IndexError) as exc:  # sf errors are RuntimeError
                problems.append(f"{pkg.name}/{track.name}: {exc}")
        log(f"real set: {pkg.name} ({pkg.genre}, {pkg.side}): {len(tracks)} tracks")
    clips = pd.DataFrame(rows, columns=COLUMNS)
    return RealSet(
        clips, None if len(clips) else "no package could be fetched: " + "; ".join(problems), problems
    )
