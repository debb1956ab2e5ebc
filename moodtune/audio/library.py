"""A listener's music folder at library scale: files split into stable shards, each shard
analysed on its own (a partition of the ``audio_library`` asset), cached by content.

A file's shard is fixed by its path relative to the folder (a hash), so adding files never
moves the others; re-analysing a shard reads every unchanged file back from the content-hash
caches (:mod:`moodtune.audio.analysis`). A bad file is listed with its reason and never stops
the shard. Predictions come from the champion audio model when there is one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from moodtune.audio.analysis import analyse
from moodtune.audio.decode import is_audio_path
from moodtune.emotions import GEMS6, to_dlut
from moodtune.errors import ConfigError


def shard_of(relative_path: str, shards: int) -> str:
    digest = hashlib.sha1(relative_path.encode()).hexdigest()
    return f"shard-{int(digest[:8], 16) % shards:03d}"


def library_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if is_audio_path(p))


def shards(folder: str | Path, n_shards: int) -> dict[str, list[str]]:
    """``{shard key: [relative paths]}`` of the audio files under ``folder`` (only non-empty shards)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"audio.music_dir {folder} is not a folder: set it in params.yaml or "
            "MOODTUNE_AUDIO__MUSIC_DIR (every machine that runs a shard must see it at that path)"
        )
    if n_shards < 1:
        raise ConfigError(f"audio.library_shards must be at least 1, got {n_shards}")
    out: dict[str, list[str]] = {}
    for p in library_files(folder):
        rel = p.relative_to(folder).as_posix()
        out.setdefault(shard_of(rel, n_shards), []).append(rel)
    return dict(sorted(out.items()))


@dataclass
class ShardResult:
    key: str
    table: pd.DataFrame  # index: relative path; features + tags (+ p.<label> and valence, arousal)
    bad: list[dict] = field(default_factory=list)  # {"file", "problem"}
    stats: dict = field(default_factory=dict)


def analyse_shard(
    settings,
    folder: str | Path,
    key: str,
    *,
    model=None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ShardResult:
    """Features, tags and (with ``model``) genre + emotion of every file of shard ``key``."""
    folder = Path(folder)
    table = shards(folder, settings.audio.library_shards)
    if key not in table:
        raise ConfigError(
            f"{key!r} is not a shard of {folder} with files in it (audio.library_shards="
            f"{settings.audio.library_shards}; the shards now: {', '.join(table) or 'none'}): "
            "the folder or the shard count changed since the partitions were listed; "
            "materialize audio_library_shards again"
        )
    files = table[key]
    result = analyse(settings, {rel: str(folder / rel) for rel in files}, progress=progress)
    table = result.features
    bad = [{"file": rel, "problem": problem} for rel, problem in sorted(result.failed.items())]
    if model is not None and len(table):
        proba = model.predict_proba(table)
        # the one emotion space: GEMS-6 -> DLUT -> each category's valence-arousal point
        va = [
            to_dlut("gems6", dict(zip(GEMS6, row, strict=True))).valence_arousal()
            for row in proba[list(GEMS6)].to_numpy(dtype=float)
        ]
        table = table.join(proba.add_prefix("p.")).assign(
            valence=[v for v, _ in va], arousal=[a for _, a in va]
        )
    table.index.name = "file"
    return ShardResult(key, table, bad, {"files": len(files), **result.stats})
