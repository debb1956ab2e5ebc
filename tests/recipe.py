"""A recipe test's copy of the repository (tests/test_recipe_*.py): its tracked files in a temp
dir, edited as a person following docs/architecture.md's recipe would, then run from there."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_tracked(repo: Path) -> list[str]:
    """Copy the repository's tracked files into ``repo``; returns their names."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    names = [n for n in listed.decode().split("\0") if n and (ROOT / n).is_file()]
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    return names


def changed(repo: Path, tracked: list[str]) -> set[str]:
    """The files of ``repo`` that differ from this repository's: edited or new."""
    edited = {n for n in tracked if (repo / n).read_bytes() != (ROOT / n).read_bytes()}
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    return edited | (files - set(tracked))


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` (which must hold it) with ``new``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def copy_env(env: Mapping[str, str], repo: Path) -> dict[str, str]:
    """``env`` for processes that run the copy's code (started with ``cwd=repo``); the service
    loads its models once (no polling)."""
    return {**env, "PYTHONPATH": str(repo), "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "0"}
