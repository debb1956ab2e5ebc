"""Which music the service recommends from (``audio.catalog.source``), and why.

* ``folder``: the listener's own music (``audio.music_dir``), titles and artists from the files'
  tags (file name where a file has none), unreadable files listed with their reason;
* ``debian``: real, freely licensed music from Debian packages (:mod:`moodtune.audio.debian_music`);
* ``demo``: the synthesised clips (tests; machines where apt cannot fetch anything);
* ``auto`` (the default): ``folder`` when ``music_dir`` is set, Emotify's tracks when
  ``emotify_dir`` is, else ``debian``, else ``demo``, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from moodtune.audio import debian_music
from moodtune.audio.datasets import demo_clips, load_clips, load_folder
from moodtune.errors import ConfigError

CREDIT_COLUMNS = ("package", "version", "licence", "licence_path", "duration")


@dataclass
class CatalogChoice:
    tracks: pd.DataFrame  # track_id, path, title, artist, genre, source + the credit columns
    source: str  # folder | emotify | debian | demo
    reason: str  # one line: which catalog and why
    bad: list[dict] = field(default_factory=list)  # files left out, with the reason
    packages: list[dict] = field(default_factory=list)  # Debian packages: name, version, tracks, licences

    def summary(self) -> str:
        return f"catalog: {len(self.tracks)} tracks, {self.source} ({self.reason})"


def _with_tags(tracks: pd.DataFrame, bad: list[dict]) -> pd.DataFrame:
    """A folder's tracks with title, artist and duration from their tags (mutagen)."""
    tracks = _credited(tracks)
    keep = []
    for i, row in tracks.iterrows():
        try:
            tags = debian_music.read_tags(row["path"])
        except (OSError, ValueError) as exc:
            bad.append({"path": row["path"], "problem": f"tags: {exc}"})
            continue
        tracks.at[i, "title"] = tags["title"] or row["title"]
        tracks.at[i, "artist"] = tags["artist"] or row["artist"]
        tracks.at[i, "duration"] = round(tags["duration"], 2)
        keep.append(i)
    return tracks.loc[keep].reset_index(drop=True)


def _credited(tracks: pd.DataFrame) -> pd.DataFrame:
    tracks = tracks.copy()
    for column in CREDIT_COLUMNS:
        if column not in tracks:
            tracks[column] = "" if column != "duration" else float("nan")
    return tracks


def choose_catalog(
    settings,
    log: Callable[[str], None] = lambda _m: None,
    packages: list[debian_music.MusicPackage] | None = None,
) -> CatalogChoice:
    """The catalog's tracks as ``audio.catalog.source`` asks (see the module docstring)."""
    a = settings.audio
    source = a.catalog.source
    if source == "folder" or (source == "auto" and a.music_dir):
        if not a.music_dir:
            raise ConfigError(
                "audio.catalog.source is 'folder' but audio.music_dir is not set; "
                "set it (make up MUSIC_DIR=/path/to/music)"
            )
        clips = load_folder(
            settings.path(a.music_dir),
            a.decode,
            source="folder",
            n_jobs=a.features.n_jobs,
        )
        bad = list(clips.bad)
        tracks = _with_tags(clips.clips, bad)
        return CatalogChoice(tracks, "folder", f"your music in {settings.path(a.music_dir)}", bad)
    if source == "auto" and a.emotify_dir:
        clips = load_clips(settings, log)
        return CatalogChoice(
            _credited(clips.clips), "emotify", f"Emotify's tracks in {a.emotify_dir}", list(clips.bad)
        )
    why_not = ""
    if source in ("auto", "debian"):
        music = debian_music.assemble(settings, log, packages)
        if not music.unavailable:
            names = len(music.packages)
            return CatalogChoice(
                music.tracks,
                "debian",
                f"real music from {names} Debian packages, cached in {debian_music.cache_dir(settings)}",
                [{"problem": p} for p in music.problems],
                music.packages,
            )
        if source == "debian":
            raise ConfigError(
                f"audio.catalog.source is 'debian' but no Debian music could be had: {music.unavailable}"
            )
        why_not = f"no real music could be fetched: {music.unavailable}; "
    clips = demo_clips(settings, log)
    reason = (
        "audio.catalog.source: demo" if source == "demo" else f"{why_not}the synthesised demo clips instead"
    )
    return CatalogChoice(_credited(clips.clips), "demo", reason, list(clips.bad))


__all__ = ["CREDIT_COLUMNS", "CatalogChoice", "choose_catalog"]
