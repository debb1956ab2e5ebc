"""A track's emotion from its name, lyrics and comments (seed B), in parallel batches.

With ``L_c`` the likes of comment ``c`` and ``ΣL`` their sum (natural log):

* name:     ``w_n = log(ΣL · 20 + 2)``
* lyrics:   ``w_l = log(ΣL · 10 + 2)``
* comment:  ``w_c = log(L_c + 1)``  (a comment nobody liked has weight 0)

The track's emotion is ``Σ w_i · E(text_i)`` over its texts' *raw* emotions, normalised (L1)
only at the end, so an emotional text outweighs a dry one. A track none of whose texts has an
emotion word is reported as "no emotion found" (``found`` false), never given a zero vector.
"""

from __future__ import annotations

import gc
import math
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from moodtune import emotions
from moodtune.text.analysis import TextAnalyzer
from moodtune.text.stack import Stack
from moodtune.workers import worker_count

TOP_TRACK_KEYWORDS = 5


@dataclass(frozen=True)
class TrackText:
    track_id: str
    name: str
    lyric: str = ""
    comments: tuple[str, ...] = ()
    likes: tuple[int, ...] = ()


def like_weights(likes: Sequence[float]) -> tuple[float, float, np.ndarray]:
    """Seed B's weights ``(name, lyrics, per comment)`` from the comments' like counts
    (negative counts are read as 0)."""
    arr = np.clip(np.asarray(likes, dtype=float), 0, None)
    total = float(arr.sum())
    return math.log(total * 20 + 2), math.log(total * 10 + 2), np.log(arr + 1)


def track_emotion(
    analyzer: TextAnalyzer, track: TrackText
) -> tuple[list[float] | None, list[tuple[str, float]], tuple[float, float] | None]:
    """The raw (unnormalised) weighted emotion of one track, its strongest keywords
    ``[(word, weighted contribution)]`` (only words on the side of the track's polarity: a joyful
    track is not explained by 妒忌), and its valence-arousal point (the like-weighted mean of its
    texts', by evidence weight; ``None`` without rules); ``(None, [], None)`` when no text
    carries emotion."""
    if len(track.likes) != len(track.comments):
        raise ValueError(
            f"track {track.track_id}: {len(track.comments)} comments but {len(track.likes)} like counts"
        )
    w_name, w_lyric, w_comments = like_weights(track.likes)
    texts = [
        (track.name, w_name),
        (track.lyric, w_lyric),
        *zip(track.comments, w_comments.tolist(), strict=True),
    ]
    total: list[float] | None = None
    words: dict[str, float] = {}
    sv = sa = sw = 0.0
    for text, weight in texts:
        if not text or weight <= 0:
            continue
        values, used, _, (tv, ta, tw) = analyzer.raw_va(text)
        if values is None:
            continue
        if total is None:
            total = [0.0] * len(values)
        for i, v in enumerate(values):
            if v:
                total[i] += weight * v
        for word, contribution in used:
            words[word] = words.get(word, 0.0) + weight * contribution
        sv, sa, sw = sv + weight * tv, sa + weight * ta, sw + weight * tw
    if total is not None and analyzer.stack is not None:
        side = _polarity(total, analyzer.codes)
        if side:
            words = {w: c for w, c in words.items() if _word_side(analyzer, w) in (side, 0)}
    top = sorted(words.items(), key=lambda kv: kv[1], reverse=True)[:TOP_TRACK_KEYWORDS]
    return total, top, ((sv / sw, sa / sw) if sw > 0 else None)


def _polarity(values: Sequence[float], codes: Sequence[str]) -> int:
    score = sum(v * emotions.polarity_of(c) for c, v in zip(codes, values, strict=True))
    return 0 if abs(score) < 1e-12 else (1 if score > 0 else -1)


def _word_side(analyzer: TextAnalyzer, word: str) -> int:
    sides = analyzer.__dict__.setdefault("_word_sides", {})  # per analyzer: a word's side never changes
    side = sides.get(word)
    if side is None:
        stack = cast(Stack, analyzer.stack)  # called where the rules run
        prof = stack.profiles.get(word) or stack.negated.get(word) or ()
        side = sides[word] = _polarity([s for _, s in prof], [analyzer.codes[i] for i, _ in prof])
    return side


def annotate_batch(
    analyzer: TextAnalyzer, tracks: Sequence[TrackText]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Raw strengths ``(n, n_codes)`` (NaN rows: no emotion), keyword strings per track and
    valence-arousal points ``(n, 2)`` (NaN: none)."""
    out = np.full((len(tracks), len(analyzer.codes)), np.nan)
    va = np.full((len(tracks), 2), np.nan)
    keywords: list[str] = []
    for row, track in enumerate(tracks):
        values, top, point = track_emotion(analyzer, track)
        if values is not None:
            out[row] = values
        if point is not None:
            va[row] = point
        keywords.append(" ".join(f"{w}:{c:.3g}" for w, c in top))
    return out, keywords, va


# --- parallel execution ------------------------------------------------------------------
_WORKER: TextAnalyzer | None = None


def _init_worker(lexicon, options) -> None:
    global _WORKER
    # Forked workers inherit the parent's analyzer (no second jieba load); spawned ones build it.
    if _WORKER is None or _WORKER.lexicon is not lexicon or _WORKER.options != options:
        _WORKER = TextAnalyzer(lexicon, options)


def _worker_batch(tracks: Sequence[TrackText]) -> tuple[np.ndarray, list[str], np.ndarray]:
    assert _WORKER is not None
    return annotate_batch(_WORKER, tracks)


def default_workers(workers: int = 0) -> int:
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _batches(tracks: Iterable[TrackText], size: int) -> Iterable[list[TrackText]]:
    batch: list[TrackText] = []
    for t in tracks:
        batch.append(t)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def annotate_tracks(
    analyzer: TextAnalyzer,
    tracks: Iterable[TrackText],
    *,
    total: int | None = None,
    batch_size: int = 256,
    workers: int = 0,
    progress: Callable[[int, int | None], None] | None = None,
    show_progress: bool = False,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Annotate tracks in batches, across ``workers`` processes (0: every core): this one and
    ``workers - 1`` forked ones.

    Returns the raw strengths ``(n, n_codes)`` in input order (NaN rows: no emotion found),
    each track's strongest keywords and its valence-arousal point ``(n, 2)`` (NaN without
    rules). ``progress(done, total)`` is called after each batch; a tqdm bar is shown when
    ``show_progress``.
    """
    from tqdm import tqdm

    workers = default_workers(workers)
    batches = _batches(tracks, batch_size)
    bar = tqdm(total=total, unit="track", desc="track emotions", disable=not show_progress)
    results: list[np.ndarray] = []
    points: list[np.ndarray] = []
    keywords: list[str] = []
    done = 0

    def collect(result: tuple[np.ndarray, list[str], np.ndarray]) -> None:
        nonlocal done
        values, kws, va = result
        results.append(values)
        points.append(va)
        keywords.extend(kws)
        done += len(kws)
        bar.update(len(kws))
        if progress is not None:
            progress(done, total)

    if worker_count(workers) == 1 or (total is not None and total <= batch_size):
        for batch in batches:
            collect(annotate_batch(analyzer, batch))
    else:
        global _WORKER
        _WORKER = analyzer  # inherited by forked workers
        fork = "fork" in mp.get_all_start_methods()
        ctx = mp.get_context("fork" if fork else "spawn")
        if fork:
            # keep the collector from touching (and so copying) the inherited dictionaries
            gc.freeze()
        try:
            # this process is one of the workers: it reads every workers-th batch itself while
            # workers - 1 forked ones read the others (one fewer process copying pages of the
            # dictionaries it touches); results are collected in input order
            with ProcessPoolExecutor(
                max_workers=workers - 1,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(analyzer.lexicon, analyzer.options),
            ) as pool:
                pending: deque = deque()

                def drain(limit: int) -> None:
                    while pending and (
                        len(pending) > limit or not isinstance(pending[0], Future) or pending[0].done()
                    ):
                        head = pending.popleft()
                        collect(head.result() if isinstance(head, Future) else head)

                for i, batch in enumerate(batches):
                    if i % workers == 0:
                        pending.append(annotate_batch(analyzer, batch))
                    else:
                        pending.append(pool.submit(_worker_batch, batch))
                    drain(2 * workers)  # at most 2 batches in flight per worker: memory stays bounded
                drain(0)
        finally:
            if fork:
                gc.unfreeze()
    bar.close()
    n_codes = len(analyzer.codes)
    values = np.vstack(results) if results else np.zeros((0, n_codes))
    va = np.vstack(points) if points else np.zeros((0, 2))
    return values, keywords, va


def normalise_rows(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L1-normalise each track's raw strengths; ``(normalised (zeros where none), found)``."""
    totals = np.nansum(raw, axis=1) if raw.size else np.zeros(len(raw))
    found = ~np.isnan(raw).any(axis=1) & (totals > 0) if raw.size else np.zeros(len(raw), bool)
    out = np.zeros_like(raw, dtype=float)
    out[found] = raw[found] / totals[found, None]
    return out, found


def tracks_from_frame(df: pd.DataFrame) -> Iterable[TrackText]:
    """:class:`TrackText` objects from a ``track_texts`` table (lazily)."""
    for tid, name, lyric, comments, likes in zip(
        df["track_id"], df["name"], df["lyric"], df["comments"], df["comment_likes"], strict=True
    ):
        yield TrackText(str(tid), name or "", lyric or "", tuple(comments), tuple(int(x) for x in likes))


def text_emotion_table(
    df: pd.DataFrame,
    raw: np.ndarray,
    keywords: list[str],
    codes: Sequence[str],
    granularity: str,
    va: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``track_text_emotions`` table: ids, names, ``found``, the raw strength, one
    normalised column per code, keywords, ``valence``/``arousal`` when ``va`` is given and
    has a point (the rules), and ground-truth columns of demo data."""
    normalised, found = normalise_rows(raw)
    out = pd.DataFrame(
        {
            "track_id": df["track_id"].astype(str).to_numpy(),
            "name": df["name"].to_numpy(),
            "artists": df["artists"].to_numpy(),
            "popularity": df["popularity"].to_numpy(dtype=float),
            "found": found,
            "strength": np.where(found, np.nansum(raw, axis=1) if raw.size else 0.0, 0.0),
        }
    )
    for j, code in enumerate(codes):
        out[code] = normalised[:, j]
    out["keywords"] = keywords
    if va is not None and len(va) and not np.isnan(va[found]).all():
        out["valence"] = np.where(found, va[:, 0], np.nan)
        out["arousal"] = np.where(found, va[:, 1], np.nan)
    for extra in ("primary_emotion", "genre"):
        if extra in df.columns:
            out[extra] = df[extra].to_numpy()
    out.attrs["granularity"] = granularity
    return out
