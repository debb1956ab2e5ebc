"""The catalog: every known track as the champion models hear and read it.

One row per track of ``audio_clips`` (demo clips, Emotify, a folder of the user's music) with

* the **audio profile**: the champion audio model's probabilities of the six GEMS emotions and
  the four genres (the ten song features the policy ranks on), the predicted ``genre`` and
  top ``emotion``, and the valence-arousal point of the profile mapped into DLUT;
* the **text profile**, where the track has texts (``track_text_emotions``): its normalised
  DLUT vector (columns ``text.<code>``), the top code and the keywords behind it;
* what the dataset says (``label_genre``, title, artist, source) and where its audio lives
  on the server (``path``; served by track id only, never by a path a client names).

Stored as ``<data_dir>/<service.catalog_dir>/catalog.parquet`` plus ``catalog.json`` (the model
versions it was built from, counts, the text granularity). The service loads it with
:meth:`Catalog.load`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import numpy as np
import pandas as pd

from moodtune import emotions
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput, ModelNotFound
from moodtune.portable import from_portable, to_portable

if TYPE_CHECKING:
    from moodtune.settings import Settings

SONG_COLUMNS: tuple[str, ...] = tuple(GEMS6) + tuple(GENRES)  # = moodtune.policy.features.SONG_COLUMNS
TABLE_FILE = "catalog.parquet"
META_FILE = "catalog.json"
TEXT_PREFIX = "text."
CREDIT_TEXT: tuple[str, ...] = ("package", "version", "licence", "licence_path")


def catalog_dir(settings: Settings) -> Path:
    """Where the catalog lives: ``service.catalog_dir`` under the data dir (or absolute)."""
    configured = Path(settings.service.catalog_dir)
    return configured if configured.is_absolute() else settings.data_path(*configured.parts)


def gems_to_dlut(probs: np.ndarray) -> np.ndarray:
    """Rows of GEMS-6 probabilities as fine DLUT strengths (``emotions.mapping("gems6")``)."""
    table = emotions.mapping("gems6")
    weights = np.zeros((len(GEMS6), len(emotions.DLUT_CODES)))
    for i, label in enumerate(GEMS6):
        for code, w in table[label].items():
            weights[i, emotions.DLUT_CODES.index(code)] = w
    return np.asarray(probs, dtype=float) @ weights


def _gems_to_va(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valence and arousal of each row of GEMS-6 probabilities (mapped into fine DLUT)."""
    dlut = gems_to_dlut(probs)
    totals = dlut.sum(axis=1, keepdims=True)
    share = np.divide(dlut, totals, out=np.zeros_like(dlut), where=totals > 0)
    valence = np.array([c.valence for c in emotions.DLUT_CATEGORIES])
    arousal = np.array([c.arousal for c in emotions.DLUT_CATEGORIES])
    return share @ valence, share @ arousal


def build_catalog(
    clips: pd.DataFrame,
    predicted: pd.DataFrame,
    text_emotions: pd.DataFrame | None,
    *,
    model_versions: Mapping[str, str],
    text_granularity: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The catalog table and its metadata.

    ``clips``: ``audio_clips`` (track_id, path, title, artist, genre, source, ...);
    ``predicted``: the champion audio model's output indexed by track id, columns
    :data:`SONG_COLUMNS`; ``text_emotions``: ``track_text_emotions`` (track_id, found, one
    column per DLUT code, keywords) or ``None``. A clip the model has no prediction for is
    an error naming it (nothing is dropped silently).
    """
    missing_cols = [c for c in SONG_COLUMNS if c not in predicted.columns]
    if missing_cols:
        raise InvalidInput(f"the audio model's output lacks the columns {missing_cols}")
    clips = clips.drop_duplicates("track_id").copy()
    clips["track_id"] = clips["track_id"].astype(str)
    predicted = predicted.copy()
    predicted.index = predicted.index.astype(str)
    absent = [t for t in clips["track_id"] if t not in predicted.index]
    if absent:
        listed = ", ".join(absent[:5]) + (" …" if len(absent) > 5 else "")
        raise InvalidInput(f"{len(absent)} clips have no audio prediction ({listed}); rebuild audio_features")

    profile = predicted.loc[clips["track_id"], list(SONG_COLUMNS)].to_numpy(dtype=float)
    if not np.all(np.isfinite(profile)):
        raise InvalidInput("the audio model returned NaN or infinite probabilities")
    table = pd.DataFrame(
        {
            "track_id": clips["track_id"].to_numpy(),
            "title": clips.get("title", clips["track_id"]).fillna("").astype(str).to_numpy(),
            "artist": clips.get("artist", pd.Series([""] * len(clips))).fillna("").astype(str).to_numpy(),
            "source": clips.get("source", pd.Series(["unknown"] * len(clips)))
            .fillna("")
            .astype(str)
            .to_numpy(),
            "path": clips.get("path", pd.Series([""] * len(clips))).fillna("").astype(str).to_numpy(),
            "label_genre": clips.get("genre", pd.Series([None] * len(clips))).astype(object).to_numpy(),
        }
    )
    # the credit of a real track (Debian packages: moodtune.audio.debian_music; a folder's tags)
    for column in CREDIT_TEXT:
        table[column] = clips[column].fillna("").astype(str).to_numpy() if column in clips else ""
    table["duration"] = (
        pd.to_numeric(clips["duration"], errors="coerce").to_numpy(dtype=float)
        if "duration" in clips
        else np.nan
    )
    for j, column in enumerate(SONG_COLUMNS):
        table[column] = profile[:, j]
    gems = profile[:, : len(GEMS6)]
    genres = profile[:, len(GEMS6) :]
    table["emotion"] = np.asarray(GEMS6)[gems.argmax(axis=1)]
    table["genre"] = np.asarray(GENRES)[genres.argmax(axis=1)]
    table["valence"], table["arousal"] = _gems_to_va(gems)

    text_codes: list[str] = []
    granularity = text_granularity
    with_text = 0
    if text_emotions is not None and len(text_emotions):
        granularity = granularity or text_emotions.attrs.get("granularity")
        codes_fine = [c for c in emotions.DLUT_CODES if c in text_emotions.columns]
        codes_coarse = [c for c in emotions.DLUT_GROUP_CODES if c in text_emotions.columns]
        if granularity is None:
            granularity = "fine" if len(codes_fine) == len(emotions.DLUT_CODES) else "coarse"
        text_codes = list(emotions.codes_of(cast(emotions.Granularity, granularity)))  # it checks the value
        have = codes_fine if granularity == "fine" else codes_coarse
        if len(have) != len(text_codes):
            raise InvalidInput(
                f"track_text_emotions lacks {granularity} columns {sorted(set(text_codes) - set(have))}"
            )
        text = text_emotions.copy()
        text["track_id"] = text["track_id"].astype(str)
        text = text.drop_duplicates("track_id").set_index("track_id")
        found = text["found"].astype(bool) if "found" in text.columns else text[text_codes].sum(axis=1) > 0
        text = text[found.reindex(text.index).fillna(False).to_numpy()]
        joined = text.reindex(table["track_id"])
        has_text = joined[text_codes].notna().all(axis=1).to_numpy()
        values = joined[text_codes].fillna(0.0).to_numpy(dtype=float)
        for j, code in enumerate(text_codes):
            table[f"{TEXT_PREFIX}{code}"] = values[:, j]
        table["has_text"] = has_text
        tops = np.asarray(text_codes, dtype=object)[values.argmax(axis=1)]
        table["text_emotion"] = np.where(has_text, tops, None)
        keywords = joined["keywords"] if "keywords" in joined.columns else pd.Series([""] * len(joined))
        table["text_keywords"] = [
            (_keyword_text(k) if h else "") for k, h in zip(keywords, has_text, strict=True)
        ]
        with_text = int(has_text.sum())
    else:
        table["has_text"] = False
        table["text_emotion"] = None
        table["text_keywords"] = ""

    meta = {
        # what the table holds, not when it was built (the same build gives the same bytes: DVC);
        # the service swaps the catalog when this changes
        "fingerprint": fingerprint(table),
        "tracks": len(table),
        "tracks_with_text": with_text,
        "text_granularity": granularity,
        "text_codes": text_codes,
        "song_columns": list(SONG_COLUMNS),
        "model_versions": {str(k): str(v) for k, v in model_versions.items()},
        "genres": table["genre"].value_counts().to_dict(),
        "emotions": table["emotion"].value_counts().to_dict(),
    }
    return table, meta


def fingerprint(table: pd.DataFrame) -> str:
    """A digest of what a catalog table holds (its audio paths aside: they depend on the clone)."""
    hashed = pd.util.hash_pandas_object(
        table.drop(columns=["path"], errors="ignore").astype(str), index=False
    )
    return f"{int(hashed.sum()) % (1 << 64):016x}"


def label_agreement(table: pd.DataFrame) -> float:
    """Share of labelled tracks whose predicted genre is their label's (NaN without labels)."""
    labelled = table.dropna(subset=["label_genre"])
    return float((labelled["genre"] == labelled["label_genre"]).mean()) if len(labelled) else float("nan")


def _keyword_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return " ".join(str(v) for v in value)
    return str(value)


def save_catalog(table: pd.DataFrame, meta: Mapping[str, Any], directory: Path) -> Path:
    """Write ``catalog.parquet`` and ``catalog.json`` (atomically: a reader never sees half)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp_table = directory / f".{TABLE_FILE}.tmp"
    tmp_meta = directory / f".{META_FILE}.tmp"
    # the audio files' paths relative to the data dir (the catalog folder's parent): a clone
    # elsewhere writes the same bytes (DVC), and loads them under its own data dir
    out = to_portable(table, directory.resolve().parent).copy()
    out["label_genre"] = out["label_genre"].astype("string")
    out["text_emotion"] = out["text_emotion"].astype("string")
    out.to_parquet(tmp_table, index=False)
    tmp_meta.write_text(json.dumps(dict(meta), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp_table.replace(directory / TABLE_FILE)
    tmp_meta.replace(directory / META_FILE)
    return directory / TABLE_FILE


@dataclass(frozen=True)
class Catalog:
    """The catalog as the service uses it: a table indexed by track id, the song-feature matrix
    in :data:`SONG_COLUMNS` order, and a JSON-ready profile per track (built once)."""

    table: pd.DataFrame
    meta: dict[str, Any]
    features: np.ndarray
    positions: dict[str, int]
    profiles: list[dict[str, Any]]
    directory: Path | None = None
    _paths: tuple[str, ...] = field(default=(), repr=False)
    # built once, reused by every request: the features as logged with a recommendation (to
    # 1e-6) and their JSON text, and each profile's JSON text (the answer's biggest part)
    logged_features: tuple[dict[str, float], ...] = field(default=(), repr=False)
    features_json: tuple[str, ...] = field(default=(), repr=False)
    profiles_json: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_table(
        cls, table: pd.DataFrame, meta: Mapping[str, Any], directory: Path | None = None
    ) -> Catalog:
        table = table.reset_index(drop=True).copy()
        table["track_id"] = table["track_id"].astype(str)
        if table["track_id"].duplicated().any():
            raise InvalidInput("the catalog lists a track twice; rebuild it")
        features = table[list(SONG_COLUMNS)].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(features)):
            raise InvalidInput("the catalog holds NaN or infinite song features; rebuild it")
        positions = {t: i for i, t in enumerate(table["track_id"])}
        text_codes = list(meta.get("text_codes") or [])
        profiles = [_profile(row, text_codes) for row in table.to_dict("records")]
        paths = tuple(str(p or "") for p in table.get("path", pd.Series([""] * len(table))))
        logged = tuple(logged_features(row) for row in features)
        return cls(
            table.set_index("track_id", drop=False),
            dict(meta),
            features,
            positions,
            profiles,
            directory,
            paths,
            logged,
            tuple(json.dumps(f) for f in logged),
            tuple(profile_json(p) for p in profiles),
        )

    @classmethod
    def load(cls, directory: Path, data_dir: Path | None = None) -> Catalog:
        """Read ``catalog.parquet`` + ``catalog.json``; :class:`ModelNotFound` saying how to build it.

        The audio paths are stored relative to the data dir; ``data_dir`` (default: the folder
        above ``directory``, where :func:`catalog_dir` puts it) resolves them."""
        directory = Path(directory)
        table_path, meta_path = directory / TABLE_FILE, directory / META_FILE
        if not table_path.is_file() or not meta_path.is_file():
            raise ModelNotFound(
                f"no catalog in {directory}; build it with "
                "`dagster asset materialize -m definitions --select 'group:catalog'` or `make up`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["built_at"] = datetime.fromtimestamp(
            table_path.stat().st_mtime, UTC
        ).isoformat()  # not stored: DVC
        table = from_portable(pd.read_parquet(table_path), Path(data_dir or directory.resolve().parent))
        return cls.from_table(table, meta, directory)

    def __len__(self) -> int:
        return len(self.positions)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.positions

    @property
    def model_versions(self) -> dict[str, str]:
        return dict(self.meta.get("model_versions") or {})

    def rows(self, track_ids: Sequence[str]) -> list[int]:
        """Row positions of ``track_ids``; :class:`InvalidInput` naming unknown or repeated ids."""
        unknown = [t for t in track_ids if t not in self.positions]
        if unknown:
            listed = ", ".join(repr(t) for t in unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise InvalidInput(
                f"{len(unknown)} track id(s) are not in the catalog: {listed}; "
                "pick ids from the catalog (`moodtune catalog`, GET /ui/api/catalog) or upload the audio files instead"
            )
        seen: set[str] = set()
        dupes = []
        for t in track_ids:
            if t in seen:
                dupes.append(t)
            seen.add(t)
        if dupes:
            raise InvalidInput(f"the playlist lists {dupes[0]!r} more than once; give each track once")
        return [self.positions[t] for t in track_ids]

    def playlist(self, track_ids: Sequence[str]) -> pd.DataFrame:
        """The songs' ten features, indexed by track id (what the policy ranks)."""
        rows = self.rows(track_ids)
        return pd.DataFrame(
            self.features[rows], index=pd.Index(list(track_ids), name="track_id"), columns=list(SONG_COLUMNS)
        )

    def profile(self, track_id: str) -> dict[str, Any]:
        return self.profiles[self.positions[track_id]]

    def audio_path(self, track_id: str) -> Path | None:
        """The server-side audio file of a catalog track (``None`` when it has none on disk)."""
        i = self.positions.get(track_id)
        if i is None or not self._paths[i]:
            return None
        path = Path(self._paths[i])
        return path if path.is_file() else None

    def emotion_vectors(self, granularity: str) -> np.ndarray:
        """Each track's emotion at ``granularity`` (fine 21 / coarse 7): its texts' vector where it
        has texts read at that granularity, else its audio profile in DLUT (GEMS-6 mapped)."""
        audio = gems_to_dlut(self.table[list(GEMS6)].to_numpy(dtype=float))
        vectors = audio if granularity == "fine" else emotions.fine_to_coarse(audio)
        codes = emotions.codes_of(cast(emotions.Granularity, granularity))  # it checks the value
        text_columns = [f"{TEXT_PREFIX}{c}" for c in codes]
        if self.meta.get("text_granularity") == granularity and all(c in self.table for c in text_columns):
            has_text = self.table["has_text"].to_numpy(dtype=bool)
            vectors = np.where(has_text[:, None], self.table[text_columns].to_numpy(dtype=float), vectors)
        return vectors

    def licence_path(self, package: str) -> Path | None:
        """The copyright file of a package the catalog's tracks come from (``None`` if none)."""
        if "package" not in self.table or "licence_path" not in self.table:
            return None
        rows = self.table[self.table["package"] == package]
        paths = [Path(p) for p in rows["licence_path"] if p]
        return paths[0] if paths and paths[0].is_file() else None

    def listing(self, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Compact rows for choosing songs: id, title, artist, genre, emotion, text emotion."""
        stop = None if limit is None else offset + limit
        return [
            {
                "track_id": p["track_id"],
                "title": p["title"],
                "artist": p["artist"],
                "genre": p["genre"],
                "emotion": p["emotion"],
                "text_emotion": (p["text"] or {}).get("top"),
                "package": p["package"],
                "licence": p["licence"],
                "licence_url": p["licence_url"],
                "duration": p["duration"],
                "source": p["source"],
                "playable": bool(self._paths[self.positions[p["track_id"]]]),
            }
            for p in self.profiles[offset:stop]
        ]

    def search(self, query: str = "") -> list[dict[str, Any]]:
        """:meth:`listing`'s rows with ``query`` in any of their values (case-insensitive; every
        row when it is empty): part of an id, a title, an artist, a package, a genre, an emotion."""
        query = query.strip().casefold()
        rows = self.listing()
        return (
            [r for r in rows if query in " ".join(str(v) for v in r.values()).casefold()] if query else rows
        )


def logged_features(values: Sequence[float]) -> dict[str, float]:
    """A song's ten features as a recommendation event logs them (rounded to 1e-6)."""
    return dict(zip(SONG_COLUMNS, np.round(np.asarray(values, dtype=float), 6).tolist(), strict=True))


def profile_json(profile: Mapping[str, Any]) -> str:
    """A profile as the service's answers carry it (compact JSON, UTF-8 text kept)."""
    return json.dumps(profile, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _profile(row: Mapping[str, Any], text_codes: Sequence[str]) -> dict[str, Any]:
    """A track's JSON-ready profile (returned with every recommendation of it)."""
    text = None
    if bool(row.get("has_text")):
        vector = {c: round(float(row[f"{TEXT_PREFIX}{c}"]), 4) for c in text_codes}
        top = row.get("text_emotion")
        text = {
            "emotion": vector,
            "top": top,
            "top_name": _code_name(top),
            "keywords": [w.split(":")[0] for w in str(row.get("text_keywords") or "").split() if w][:10],
        }
    label = row.get("label_genre")
    duration = row.get("duration")
    package = str(row.get("package") or "")
    return {
        "track_id": str(row["track_id"]),
        "title": str(row.get("title") or ""),
        "artist": str(row.get("artist") or ""),
        "source": str(row.get("source") or ""),
        # the credit: where a real track comes from, under which licence (text at licence_url)
        "package": package,
        "version": str(row.get("version") or ""),
        "licence": str(row.get("licence") or ""),
        "licence_url": f"/ui/licence/{package}" if package and row.get("licence_path") else None,
        "duration": None
        if duration is None or not np.isfinite(float(duration))
        else round(float(duration), 1),
        "audio_url": f"/ui/audio/{quote(str(row['track_id']), safe='')}" if row.get("path") else None,
        "genre": str(row["genre"]),
        "emotion": str(row["emotion"]),
        "emotions": {e: round(float(row[e]), 4) for e in GEMS6},
        "genres": {g: round(float(row[g]), 4) for g in GENRES},
        "valence": round(float(row["valence"]), 4),
        "arousal": round(float(row["arousal"]), 4),
        "label_genre": None
        if label is None or (isinstance(label, float) and math.isnan(label)) or pd.isna(label)
        else str(label),
        "text": text,
    }


def _code_name(code: Any) -> str | None:
    return emotions.display_name(code) if isinstance(code, str) else None


def song_profile(track_id: str, probabilities: Mapping[str, float], title: str = "") -> dict[str, Any]:
    """The same profile for an uploaded song (no catalog row): from the audio model's output."""
    gems = np.array([[float(probabilities[e]) for e in GEMS6]])
    valence, arousal = _gems_to_va(gems)
    genre = max(GENRES, key=lambda g: float(probabilities[g]))
    emotion = max(GEMS6, key=lambda e: float(probabilities[e]))
    return {
        "track_id": track_id,
        "title": title,
        "artist": "",
        "source": "upload",
        "genre": genre,
        "emotion": emotion,
        "emotions": {e: round(float(probabilities[e]), 4) for e in GEMS6},
        "genres": {g: round(float(probabilities[g]), 4) for g in GENRES},
        "valence": round(float(valence[0]), 4),
        "arousal": round(float(arousal[0]), 4),
        "label_genre": None,
        "text": None,
    }


def describe_built(settings: Settings) -> str:
    """One line: which catalog is built, and why (``python -m moodtune.serving.catalog``; make up)."""
    meta_path = catalog_dir(settings) / META_FILE
    if not meta_path.is_file():
        return f"no catalog in {meta_path.parent}; build it with make up"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return meta.get("built_from") or f"catalog: {meta.get('tracks')} tracks ({meta.get('sources', {})})"


if __name__ == "__main__":
    from moodtune.settings import get_settings

    print(describe_built(get_settings()))
