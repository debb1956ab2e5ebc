"""Real music from Debian packages: the default catalog, every track credited.

The packages are those of the real-music validation set (``realset.yaml``, each labelled with a
genre) plus ``catalog.yaml``. :func:`assemble` fetches each package once into a cache outside the
clone (``apt-get download`` + ``dpkg -x``, :func:`moodtune.audio.realset.fetch`), lists its music
files, and reads for each track

* title, artist and duration from the file's own tags (mutagen); Frets on Fire songs from their
  ``song.ini`` (their guitar and band stems are mixed into one FLAC file, once);
* the package's version from its ``changelog.Debian.gz``;
* the licence from the package's ``copyright`` file: the last DEP-5 stanza whose ``Files``
  pattern matches the file (patterns name source paths, so a pattern matches the end of the
  installed path); the package's declared licence where the file is not machine-readable.

Files shorter than ``audio.catalog.min_track_seconds`` (jingles, stingers) are left out; a file
that cannot be read is listed with its reason and the rest go on.
"""

from __future__ import annotations

import configparser
import fnmatch
import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

from moodtune.audio import realset
from moodtune.emotions import GENRES, genre_from_tag
from moodtune.errors import ConfigError

SPEC = Path(__file__).with_name("catalog.yaml")
SOURCE = "debian"
TRACK_COLUMNS = [
    "track_id",
    "path",
    "title",
    "artist",
    "genre",
    "source",
    "package",
    "version",
    "licence",
    "licence_path",
    "duration",
]


@dataclass(frozen=True)
class MusicPackage:
    name: str
    files: tuple[str, ...]
    genre: str | None = None  # every file's genre, where the package's own metadata says so
    artist: str | None = None  # where a file's tags name nobody
    licence: str | None = None  # declared; the copyright file decides where it is machine-readable
    archive: str | None = None
    stems: tuple[str, ...] = ()


def music_packages(spec: Path = SPEC, realset_spec: Path = realset.SPEC) -> list[MusicPackage]:
    """The real set's packages (with their genres) and then ``catalog.yaml``'s."""
    out = [
        MusicPackage(p.name, (p.files,), p.genre, None, p.licence, p.archive, p.stems)
        for p in realset.packages(realset_spec)
    ]
    for name, p in (yaml.safe_load(spec.read_text())["packages"] or {}).items():
        genre = p.get("genre")
        if genre is not None and genre not in GENRES:
            raise ConfigError(f"{spec}: {name} has genre {genre!r}; expected one of {list(GENRES)} or none")
        files = p["files"] if isinstance(p["files"], list) else [p["files"]]
        out.append(
            MusicPackage(
                name,
                tuple(files),
                genre,
                p.get("artist"),
                p.get("licence"),
                p.get("archive"),
                tuple(p.get("stems", ())),
            )
        )
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{spec}: a package is listed twice (also in {realset_spec.name}?)")
    return out


def cache_dir(settings) -> Path:
    return realset.package_cache(settings)


# --- the copyright file (DEP-5) ------------------------------------------------------------------


@dataclass(frozen=True)
class Stanza:
    patterns: tuple[str, ...]
    licence: str
    holders: str


def _paragraphs(text: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        out.append(current)
    return out


def parse_copyright(text: str) -> tuple[str | None, list[Stanza]]:
    """The header's licence and the ``Files`` stanzas of a machine-readable copyright file
    (``(None, [])`` for one that is not)."""
    paragraphs = _paragraphs(text)
    if not paragraphs or "format" not in paragraphs[0]:
        return None, []
    header = paragraphs[0].get("license", "").split("\n")[0].strip() or None
    stanzas = [
        Stanza(tuple(p["files"].split()), p.get("license", "").split("\n")[0].strip(), p.get("copyright", ""))
        for p in paragraphs[1:]
        if "files" in p
    ]
    return header, stanzas


def _matches(pattern: str, path: str) -> bool:
    parts = path.split("/")
    pieces = pattern.strip("/").split("/")
    # a pattern names a source path; an installed file keeps only its end (data/music/* ~ music/x.ogg)
    candidates = ["/".join(pieces[i:]) for i in range(len(pieces)) if len(pieces) - i >= min(2, len(pieces))]
    return any(fnmatch.fnmatchcase("/".join(parts[j:]), c) for c in candidates for j in range(len(parts)))


def licence_of(stanzas: list[Stanza], path: str) -> Stanza | None:
    """The stanza that covers ``path`` (the last that matches, as DEP-5 says)."""
    found = None
    for stanza in stanzas:
        if stanza.licence and any(_matches(p, path) for p in stanza.patterns):
            found = stanza
    return found


_YEARS = re.compile(r"^[\d\s,\-–]+")
_EMAIL = re.compile(r"<[^>]*>|\([^)]*@[^)]*\)|https?://\S+")


def first_holder(holders: str) -> str:
    """The first copyright holder of a stanza, years and addresses dropped."""
    for line in holders.splitlines():
        name = _EMAIL.sub(
            "", _YEARS.sub("", line.replace("Copyright", "").replace("(C)", "").replace("©", ""))
        ).strip(" ,.")
        if name:
            return name
    return ""


def package_version(root: Path, name: str) -> str:
    """The package version from its ``changelog.Debian.gz`` (first line: ``name (version) …``)."""
    changelog = root / "usr" / "share" / "doc" / name / "changelog.Debian.gz"
    try:
        with gzip.open(changelog, "rt", encoding="utf-8", errors="replace") as fh:
            match = re.match(r"\S+ \(([^)]+)\)", fh.readline())
    except OSError:
        return ""
    return match.group(1) if match else ""


# --- the tracks ---------------------------------------------------------------------------------


def read_tags(path: Path) -> dict:
    """Title, artist, genre tag and duration (s) of an audio file (mutagen); ``ValueError`` when
    mutagen cannot read it."""
    import mutagen

    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise ValueError(f"unreadable tags: {exc}") from exc
    if audio is None or audio.info is None:
        raise ValueError("not an audio format mutagen knows")
    tags = audio.tags or {}

    def first(*keys: str) -> str:
        for key in keys:
            try:
                values = tags.get(key) if hasattr(tags, "get") else None
            except (KeyError, ValueError):
                values = None
            if values:
                value = values[0] if isinstance(values, list) else values
                text = str(getattr(value, "text", [value])[0] if hasattr(value, "text") else value).strip()
                if text:
                    return text
        return ""

    return {
        "title": first("title", "TIT2", "\xa9nam"),
        "artist": first("artist", "TPE1", "\xa9ART", "composer", "TCOM"),
        "genre_tag": first("genre", "TCON", "\xa9gen"),
        "duration": float(audio.info.length or 0.0),
    }


def _pretty(stem: str) -> str:
    """A title from a file name: separators to spaces, words capitalised where all lower case."""
    if stem.isdigit():
        return f"Track {stem}"
    text = re.sub(r"[_\-]+", " ", stem).strip()
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return text[:1].upper() + text[1:] if text else stem


def mix_stems(parts: list[Path], target: Path) -> Path:
    """The stems of one song summed into a FLAC file (peak-normalised), written once."""
    if target.exists():
        return target
    arrays, rate = [], None
    for part in parts:
        data, sr = sf.read(str(part), dtype="float32", always_2d=True)
        rate = rate or sr
        if sr != rate:
            raise ValueError(f"{part.name} is at {sr} Hz, the other stems at {rate} Hz")
        arrays.append(data)
    channels = max(a.shape[1] for a in arrays)
    mixed = np.zeros((max(len(a) for a in arrays), channels), dtype=np.float32)
    for a in arrays:
        mixed[: len(a)] += a if a.shape[1] == channels else np.repeat(a, channels, axis=1)
    peak = float(np.abs(mixed).max()) or 1.0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.flac")
    sf.write(str(tmp), mixed / max(peak, 1.0), rate, format="FLAC")
    tmp.replace(target)
    return target


def _song_ini(folder: Path) -> dict[str, str]:
    ini = folder / "song.ini"
    if not ini.exists():
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(ini, encoding="utf-8")
    return dict(parser["song"]) if parser.has_section("song") else {}


@dataclass
class MusicSet:
    tracks: pd.DataFrame  # TRACK_COLUMNS
    unavailable: str | None = None  # why there is none, when there is none
    problems: list[str] = field(default_factory=list)  # packages or files left out, with the reason
    packages: list[dict] = field(default_factory=list)  # per package: name, version, tracks, licences


def _track_id(package: str, root: Path, path: Path, seen: set[str]) -> str:
    stem = path.parent.name if path.name in ("song.ogg", "mixed.flac") else path.stem
    key = f"{SOURCE}:{package}:{stem}"
    if key in seen:
        key = f"{SOURCE}:{package}:{path.parent.name}/{stem}"
    seen.add(key)
    return key


def package_tracks(
    pkg: MusicPackage, root: Path, cache: Path, min_seconds: float, limit: int, problems: list[str]
) -> list[dict]:
    """The credited tracks of one extracted package."""
    version = package_version(root, pkg.name)
    copyright_path = root / "usr" / "share" / "doc" / pkg.name / "copyright"
    header: str | None = None
    stanzas: list[Stanza] = []
    if copyright_path.is_file():
        header, stanzas = parse_copyright(copyright_path.read_text(encoding="utf-8", errors="replace"))
    files = [
        f for pattern in pkg.files for f in realset.package_files(pkg.name, root, cache, pattern, pkg.archive)
    ]
    rows: list[dict] = []
    seen: set[str] = set()
    for path in sorted(dict.fromkeys(files)):
        try:
            ini = _song_ini(path.parent) if pkg.stems else {}
            audio = (
                mix_stems(
                    [path.with_name(s) for s in pkg.stems if path.with_name(s).exists()],
                    cache / "mixed" / pkg.name / path.parent.name / "mixed.flac",
                )
                if pkg.stems
                else path
            )
            tags = read_tags(audio)
            if tags["duration"] < min_seconds:
                continue
            rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            stanza = licence_of(stanzas, rel)
            licence = (stanza.licence if stanza else header) or pkg.licence or ""
            if not licence:
                problems.append(f"{pkg.name}/{path.name}: no licence in the copyright file; left out")
                continue
            artist = (
                ini.get("artist")
                or tags["artist"]
                or pkg.artist
                or (first_holder(stanza.holders) if stanza else "")
            )
            rows.append(
                {
                    "track_id": _track_id(pkg.name, root, audio, seen),
                    "path": str(audio),
                    "title": ini.get("name")
                    or tags["title"]
                    or _pretty(path.parent.name if pkg.stems else path.stem),
                    "artist": artist,
                    "genre": pkg.genre or genre_from_tag(tags["genre_tag"]),
                    "source": SOURCE,
                    "package": pkg.name,
                    "version": version,
                    "licence": licence,
                    "licence_path": str(copyright_path) if copyright_path.is_file() else "",
                    "duration": round(tags["duration"], 2),
                }
            )
        except (OSError, ValueError, RuntimeError, sf.LibsndfileError) as exc:
            problems.append(f"{pkg.name}/{path.name}: {exc}")
        if len(rows) >= limit:
            break
    return rows


def assemble(
    settings, log: Callable[[str], None] = lambda _m: None, packages: list[MusicPackage] | None = None
) -> MusicSet:
    """Fetch (once), list and credit the tracks of ``packages`` (default: :func:`music_packages`);
    empty, with the reason, where apt is unavailable or no package could be fetched."""
    c = settings.audio.catalog
    reason = realset.apt_unavailable()
    if reason:
        return MusicSet(pd.DataFrame(columns=TRACK_COLUMNS), reason)
    cache = cache_dir(settings)
    rows, problems, summary = [], [], []
    if packages is None:
        packages = music_packages()
        if c.packages is not None:
            unknown = sorted(set(c.packages) - {p.name for p in packages})
            if unknown:
                raise ConfigError(
                    f"audio.catalog.packages names {unknown}, which neither realset.yaml nor "
                    f"catalog.yaml lists; add them to {SPEC}"
                )
            packages = [p for p in packages if p.name in c.packages]
    fetched = realset.fetch_all([pkg.name for pkg in packages], cache, c.fetch_workers)
    for pkg in packages:
        root = fetched[pkg.name]
        if isinstance(root, Exception):
            problems.append(f"{pkg.name}: {root}")
            log(f"catalog: {pkg.name} skipped ({root})")
            continue
        found = package_tracks(pkg, root, cache, c.min_track_seconds, c.max_tracks_per_package, problems)
        rows += found
        summary.append(
            {
                "package": pkg.name,
                "version": found[0]["version"] if found else package_version(root, pkg.name),
                "tracks": len(found),
                "genre": pkg.genre or "",
                "licences": ", ".join(sorted({r["licence"] for r in found})),
            }
        )
        log(f"catalog: {pkg.name}: {len(found)} tracks")
    tracks = pd.DataFrame(rows, columns=TRACK_COLUMNS)
    unavailable = None if len(tracks) else "no package could be fetched: " + "; ".join(problems[:5])
    return MusicSet(tracks, unavailable, problems, summary)


__all__ = [
    "MusicPackage",
    "MusicSet",
    "TRACK_COLUMNS",
    "assemble",
    "cache_dir",
    "first_holder",
    "licence_of",
    "music_packages",
    "package_tracks",
    "package_version",
    "parse_copyright",
    "read_tags",
]
