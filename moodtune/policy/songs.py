"""What each catalog song truly is to the simulated listeners.

The simulator needs each song's *true* emotion and genre (the listener responds to them) beside
what the audio model *hears* (what the policy sees). A song with labels (the demo clips,
Emotify's tracks) is its labels. A real song carries no emotion labels, so its truth is the
champion's GEMS-6 profile plus a fixed, seeded per-song offset (``policy.real_truth_noise`` per
emotion, clipped to 0..1), and its genre is its package's label where it has one, else the genre
the model hears. What this implies: on real songs the policy sees the profile and the listener
answers to profile + offset, so the model's error on real music is modelled as noise of a chosen
size, not measured; a policy that does well there does well if the audio model hears real music
about that well (issue 28 measures it). docs/policy.md#the-songs-truth-and-the-two-catalogs.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6, GENRES


def song_truth(tracks: pd.DataFrame, heard: pd.DataFrame, seed: int, noise: float) -> pd.DataFrame:
    """``track_id``, ``genre`` and GEMS-6 marks of every track in ``heard`` (the champion's
    output indexed by track id): a track's labels where ``tracks`` has all of them, else its
    heard profile plus a fixed per-song offset and its label genre (else the heard one)."""
    ids = heard.index.astype(str)
    rows = (
        tracks.assign(track_id=tracks["track_id"].astype(str))
        .drop_duplicates("track_id")
        .set_index("track_id")
    )
    rows = rows.reindex(ids)
    probs = heard[list(GEMS6)].to_numpy(dtype=float)
    offset = np.array([song_offset(t, seed, noise) for t in ids]).reshape(probs.shape)
    marks = np.clip(probs + offset, 0.0, 1.0)
    labels = _labels(rows)
    if labels is not None:
        labelled = np.isfinite(labels).all(axis=1)
        marks[labelled] = labels[labelled]
    heard_genre = np.asarray(GENRES)[heard[list(GENRES)].to_numpy(dtype=float).argmax(axis=1)]
    label = rows["genre"].astype(object) if "genre" in rows else pd.Series([None] * len(rows), index=ids)
    genre = [
        lab if isinstance(lab, str) and lab in GENRES else h
        for lab, h in zip(label, heard_genre, strict=True)
    ]
    truth = pd.DataFrame(marks, columns=list(GEMS6))
    truth.insert(0, "genre", genre)
    truth.insert(0, "track_id", list(ids))
    return truth


def song_offset(track_id: str, seed: int, noise: float) -> np.ndarray:
    """The fixed GEMS-6 offset of one song: drawn from its own stream (``seed`` and its id), so a
    song's truth does not depend on the order of the catalog or on which other songs it holds."""
    stream = np.random.default_rng([seed, zlib.crc32(str(track_id).encode("utf-8"))])
    return stream.normal(0.0, noise, size=len(GEMS6))


def labelled_share(tracks: pd.DataFrame) -> float:
    """The share of ``tracks`` whose truth is their labels (1.0 on the demo, 0.0 on real music)."""
    labels = _labels(tracks)
    return 0.0 if labels is None or not len(labels) else float(np.isfinite(labels).all(axis=1).mean())


def _labels(tracks: pd.DataFrame) -> np.ndarray | None:
    """The tracks' GEMS-6 label columns as floats (NaN where a mark is missing), or None without them."""
    if not set(GEMS6) <= set(tracks.columns):
        return None
    return tracks[list(GEMS6)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


__all__ = ["labelled_share", "song_offset", "song_truth"]
