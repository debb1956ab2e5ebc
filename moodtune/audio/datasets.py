"""Where clips come from: Emotify, any folder of audio files, or the synthesised demo set.

Every loader returns a :class:`ClipSet`: one row per usable clip with ``track_id, path
(absolute), title, artist, genre, source`` and the six GEMS-6 labels (0/1; NaN when the clip
is unlabelled), plus the files that were rejected and why. Every listed audio file is
decoded once here, so a bad file is reported (not silently dropped) before features are made.

Emotify layout (``audio.emotify_dir``)::

    data.csv            one row per listener annotation: track id, genre, the nine GEMS marks
                        (amazement ... sadness, 0/1), mood, liked, disliked, age, gender,
                        mother tongue
    classical/1.mp3     the audio, by genre folder; a track's file is <genre>/<n>.<ext>, where
    rock/1.mp3 ...      n is its rank within its genre (Emotify's own numbering, 1..100) or,
                        failing that, its global track id; ext is mp3, wav, flac or ogg

A track's label for an emotion is the share of its listeners who marked it, thresholded at
``audio.label_threshold``; the shares are kept as ``share_<gems9 emotion>`` columns.

A folder (``audio.music_dir``) is read recursively; if it holds a ``labels.csv`` (``file``
relative to the folder, optional title, artist, genre and GEMS-6 columns), its labels are
used. The demo set is written as such a folder (``<data>/audio/clips``), so it is read back
through the same loader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from moodtune.audio.config import AudioDecodeSettings
from moodtune.audio.decode import AUDIO_EXTENSIONS, decode, is_audio_path
from moodtune.emotions import GEMS6, GEMS9, GENRES
from moodtune.errors import ConfigError, InvalidAudio

CLIP_COLUMNS: tuple[str, ...] = ("track_id", "path", "title", "artist", "genre", "source", *GEMS6)
LABELS_FILE = "labels.csv"
MANIFEST_FILE = "manifest.json"
EMOTIFY_CSV = "data.csv"


@dataclass
class ClipSet:
    clips: pd.DataFrame
    bad: list[dict[str, str]] = field(default_factory=list)  # {"path", "problem"}
    ignored: list[str] = field(default_factory=list)  # files without an audio extension
    sources: list[str] = field(default_factory=list)


def _validate(paths: list[Path], limits: AudioDecodeSettings, n_jobs: int = 1) -> dict[str, str]:
    """{path: problem} for every file that cannot be used (decoded at its own rate)."""

    def check(p: Path) -> tuple[str, str | None]:
        try:
            decode(p, limits, resample=False)
            return str(p), None
        except InvalidAudio as exc:
            return str(p), str(exc)

    if n_jobs > 1 and len(paths) > 32:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky")(delayed(check)(p) for p in paths)
    else:
        results = [check(p) for p in paths]
    return {p: problem for p, problem in results if problem is not None}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in CLIP_COLUMNS:
        if col not in df:
            df[col] = np.nan
    for e in GEMS6:
        df[e] = pd.to_numeric(df[e], errors="coerce").astype(float)
    extra = [c for c in df.columns if c not in CLIP_COLUMNS]
    return df[list(CLIP_COLUMNS) + extra].reset_index(drop=True)


def load_folder(
    folder: str | Path, limits: AudioDecodeSettings, *, source: str = "folder", n_jobs: int = 1
) -> ClipSet:
    """Every audio file under ``folder`` (recursively), with labels from its ``labels.csv``."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ConfigError(f"audio folder {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    audio = [p for p in files if is_audio_path(p)]
    audio_set = set(audio)
    ignored = [
        str(p.relative_to(folder))
        for p in files
        if p not in audio_set and p.name not in (LABELS_FILE, MANIFEST_FILE)
    ]
    labels: dict[str, dict] = {}
    if (folder / LABELS_FILE).exists():
        table = pd.read_csv(folder / LABELS_FILE, dtype={"file": str, "track_id": str})
        if "file" not in table:
            raise ConfigError(f"{folder / LABELS_FILE} needs a 'file' column (path relative to the folder)")
        labels = {str(r["file"]): r for r in table.to_dict("records")}
    problems = _validate(audio, limits, n_jobs)
    rows = []
    for p in audio:
        if str(p) in problems:
            continue
        rel = p.relative_to(folder).as_posix()
        lab = {k: v for k, v in labels.get(rel, {}).items() if not _missing(v)}
        genre = str(lab["genre"]).strip().lower() if "genre" in lab else np.nan
        if isinstance(genre, str) and genre not in GENRES:
            raise ConfigError(
                f"{folder / LABELS_FILE}: {rel} has unknown genre {genre!r}; expected one of {list(GENRES)}"
            )
        row = {
            "track_id": str(lab.get("track_id") or f"{source}-{rel}"),
            "path": str(p),
            "title": str(lab.get("title") or p.stem),
            "artist": str(lab.get("artist", "")),
            "genre": genre,
            "source": source,
        }
        for e in GEMS6:
            row[e] = lab.get(e, np.nan)
        rows.append(row)
    bad = [{"path": p, "problem": problem} for p, problem in problems.items()]
    return ClipSet(_frame(rows), bad, ignored, [source])


def _norm_column(name: str) -> str:
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def read_emotify_annotations(emotify_dir: str | Path) -> pd.DataFrame:
    """Emotify's ``data.csv``, one row per listener annotation, with normalised column names
    (``track_id, genre, amazement .. sadness, mood, liked, disliked, age, gender,
    mother_tongue``)."""
    path = Path(emotify_dir) / EMOTIFY_CSV
    if not path.exists():
        raise ConfigError(
            f"Emotify annotations {path} not found; audio.emotify_dir must hold data.csv "
            "and the genre folders"
        )
    df = pd.read_csv(path, skipinitialspace=True)
    df.columns = [_norm_column(c) for c in df.columns]
    missing = [c for c in ("track_id", "genre", *GEMS9) if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{path} lacks columns {', '.join(missing)}; expected Emotify's header "
            "(track id, genre, amazement, ..., sadness, mood, liked, disliked, age, "
            "gender, mother tongue)"
        )
    df["track_id"] = pd.to_numeric(df["track_id"], errors="raise").astype(int)
    df["genre"] = df["genre"].astype(str).str.strip().str.lower()
    for e in GEMS9:
        df[e] = pd.to_numeric(df[e], errors="coerce").fillna(0).clip(0, 1)
    unknown = sorted(set(df["genre"]) - set(GENRES))
    if unknown:
        raise ConfigError(f"{path}: unknown genres {unknown}; expected {list(GENRES)}")
    return df


def emotify_labels(annotations: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per track: genre, number of listeners, the share of listeners who marked each GEMS-9
    emotion (``share_<emotion>``) and the GEMS-6 labels (share >= ``threshold``)."""
    grouped = annotations.groupby("track_id")
    per_track = pd.DataFrame(
        {
            "genre": grouped["genre"].agg(lambda s: s.mode().iloc[0]),
            "n_listeners": grouped.size(),
        }
    )
    for e in GEMS9:
        per_track[f"share_{e}"] = grouped[e].mean()
    for e in GEMS6:
        per_track[e] = (per_track[f"share_{e}"] >= threshold).astype(float)
    per_track["rank_in_genre"] = per_track.groupby("genre").cumcount() + 1
    return per_track.reset_index()


def _emotify_file(root: Path, genre: str, rank: int, track_id: int) -> Path | None:
    for stem in dict.fromkeys((rank, track_id)):
        for ext in AUDIO_EXTENSIONS:
            p = root / genre / f"{stem}{ext}"
            if p.exists():
                return p
    return None


def load_emotify(
    emotify_dir: str | Path, threshold: float, limits: AudioDecodeSettings, n_jobs: int = 1
) -> ClipSet:
    """Emotify's tracks with their listener-share labels (see the module docstring)."""
    root = Path(emotify_dir).resolve()
    labels = emotify_labels(read_emotify_annotations(root), threshold).sort_values("track_id")
    found: dict[int, Path] = {}
    bad: list[dict[str, str]] = []
    for r in labels.itertuples():
        p = _emotify_file(root, r.genre, int(r.rank_in_genre), int(r.track_id))
        if p is None:
            bad.append(
                {
                    "path": str(root / r.genre / f"{r.rank_in_genre}.mp3"),
                    "problem": f"Emotify track {r.track_id}: audio file not found "
                    f"(looked for {r.genre}/{r.rank_in_genre}.* and {r.genre}/{r.track_id}.*)",
                }
            )
        else:
            found[int(r.track_id)] = p
    problems = _validate(list(found.values()), limits, n_jobs)
    bad += [{"path": p, "problem": problem} for p, problem in problems.items()]
    rows = []
    for r in labels.to_dict("records"):
        p = found.get(int(r["track_id"]))
        if p is None or str(p) in problems:
            continue
        rows.append(
            {
                "track_id": f"emotify-{r['track_id']}",
                "path": str(p),
                "title": f"Emotify {r['genre']} {r['rank_in_genre']}",
                "artist": "",
                "genre": r["genre"],
                "source": "emotify",
                **{e: r[e] for e in GEMS6},
                **{f"share_{e}": r[f"share_{e}"] for e in GEMS9},
                "n_listeners": r["n_listeners"],
            }
        )
    return ClipSet(_frame(rows), bad, [], ["emotify"])


# --- the demo set -------------------------------------------------------------------------


def _synth_one(track: dict, folder: str, seconds: float, sr: int, seed: int) -> str:
    import soundfile as sf

    from moodtune.audio.synth import synthesise

    y, _ = synthesise(track, seconds, sr, seed)
    target = Path(folder) / track["genre"] / f"{track['track_id']}.flac"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.flac")
    sf.write(tmp, y, sr, subtype="PCM_16")
    tmp.replace(target)
    return target.relative_to(folder).as_posix()


def write_demo(
    folder: str | Path,
    *,
    n_per_cell: int,
    seconds: float,
    sample_rate: int,
    seed: int,
    n_jobs: int = 1,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Synthesise the demo clips for ``demo_catalog(n_per_cell, seed)`` into ``folder``
    (``<genre>/<track_id>.flac`` + ``labels.csv``). Skipped when the folder already holds this
    exact set (same manifest, every file present)."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from moodtune.audio.synth import GENERATOR_VERSION
    from moodtune.data.demo_catalog import demo_catalog

    folder = Path(folder)
    manifest = {
        "generator": GENERATOR_VERSION,
        "n_per_cell": n_per_cell,
        "seconds": seconds,
        "sample_rate": sample_rate,
        "seed": seed,
    }
    catalog = demo_catalog(n_per_cell, seed)
    files = [f"{g}/{t}.flac" for g, t in zip(catalog["genre"], catalog["track_id"], strict=True)]
    mpath = folder / MANIFEST_FILE
    if (
        mpath.exists()
        and json.loads(mpath.read_text()) == manifest
        and (folder / LABELS_FILE).exists()
        and all((folder / f).exists() for f in files)
    ):
        if log:
            log(f"demo clips up to date in {folder} ({len(files)} clips)")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if mpath.exists():
        mpath.unlink()
    for stale in folder.glob("*/*.flac"):  # an old set (other size or seed) is replaced whole
        stale.unlink()
    tracks = catalog.to_dict("records")
    if log:
        log(f"synthesising {len(tracks)} demo clips of {seconds:g} s into {folder}")
    if n_jobs > 1 and len(tracks) > 16:
        written = list(
            tqdm(
                Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
                    delayed(_synth_one)(t, str(folder), seconds, sample_rate, seed) for t in tracks
                ),
                total=len(tracks),
                desc="demo clips",
                unit="clip",
            )
        )
    else:
        written = [
            _synth_one(t, str(folder), seconds, sample_rate, seed)
            for t in tqdm(tracks, desc="demo clips", unit="clip")
        ]
    table = catalog[["track_id", "title", "artist", "genre", *GEMS6]].copy()
    table.insert(1, "file", written)
    table.to_csv(folder / LABELS_FILE, index=False)
    mpath.write_text(json.dumps(manifest, indent=2))
    return folder


def demo_clips(settings, log: Callable[[str], None] | None = None) -> ClipSet:
    """The synthesised demo set (written once under ``<data>/audio/clips``): tests, and machines
    where no real music can be had."""
    a = settings.audio
    folder = write_demo(
        settings.data_path("audio", "clips"),
        n_per_cell=a.clips_per_cell,
        seconds=a.clip_seconds,
        sample_rate=a.decode.sample_rate,
        seed=settings.project.seed,
        n_jobs=a.features.n_jobs,
        log=log,
    )
    return load_folder(folder, a.decode, source="demo", n_jobs=a.features.n_jobs)


def load_clips(settings, log: Callable[[str], None] | None = None) -> ClipSet:
    """The clips the settings ask for: Emotify and/or a music folder, else the demo set."""
    a = settings.audio
    limits = a.decode
    n_jobs = a.features.n_jobs
    parts: list[ClipSet] = []
    if a.emotify_dir:
        parts.append(load_emotify(settings.path(a.emotify_dir), a.label_threshold, limits, n_jobs))
    if a.music_dir:
        parts.append(load_folder(settings.path(a.music_dir), limits, source="folder", n_jobs=n_jobs))
    if not parts:
        parts.append(demo_clips(settings, log))
    clips = pd.concat([p.clips for p in parts], ignore_index=True) if len(parts) > 1 else parts[0].clips
    dupes = clips["track_id"][clips["track_id"].duplicated()].tolist()
    if dupes:
        raise ConfigError(f"duplicate track ids across audio sources: {dupes[:5]}")
    return ClipSet(
        clips,
        [b for p in parts for b in p.bad],
        [i for p in parts for i in p.ignored],
        [s for p in parts for s in p.sources],
    )
