"""``moodtune-policy`` as an MLflow model (:mod:`moodtune.registry.packaging`): the candidate
songs of one playlist in (one row each, with the same listener context), ranked tracks out.

The SB3 model is saved as its zip beside ``meta.json`` (the ranker's kind and the versions of
the models it was trained against).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from moodtune.errors import InvalidInput, ModelNotFound
from moodtune.policy.features import SONG_COLUMNS, ListenerContext
from moodtune.policy.ranking import PolicyRanker
from moodtune.registry import packaging

if TYPE_CHECKING:
    from moodtune.settings import Settings

INPUT_COLUMNS = ("track_id",) + SONG_COLUMNS + ("age", "gender", "mood")
POLICY_FILE, META_FILE = "policy.zip", "meta.json"
REQUIREMENTS = ("stable-baselines3", "gymnasium", "torch", "numpy", "pandas", "mlflow")


@runtime_checkable
class ServedPolicy(Protocol):
    """What the service calls on the policy (its fast path reads ``model``'s network)."""

    @property
    def kind(self) -> str: ...
    @property
    def model(self) -> Any: ...

    def scores(self, playlist_features: np.ndarray, listener: ListenerContext) -> np.ndarray: ...


def load_ranker(policy_zip: str | Path, meta: dict) -> PolicyRanker:
    """The ranker in an SB3 zip; :class:`ModelNotFound` (saying how to rebuild it) when the zip
    is not a policy this version can run, e.g. one trained before the candidate-aware network."""
    from stable_baselines3 import A2C

    try:
        model = A2C.load(str(policy_zip), device="cpu")
    except Exception as exc:  # a zip SB3 cannot rebuild (another layout, a missing class)
        raise _outdated(
            policy_zip, f"stable-baselines3 cannot load it ({type(exc).__name__}: {exc})"
        ) from exc
    if meta.get("kind") == "session":
        problem = _session_layout_problem(model)
        if problem:
            raise _outdated(policy_zip, problem)
    return PolicyRanker(model, kind=meta["kind"])  # an older meta.json also holds a "temperature": unused


def _session_layout_problem(model) -> str | None:
    """Why ``model`` is not the candidate-aware session policy of this version, else ``None``."""
    from moodtune.policy import observation as ob
    from moodtune.policy.network import CandidatePolicy

    policy = model.policy
    if not isinstance(policy, CandidatePolicy):
        return (
            f"its network is {type(policy).__name__}, not the candidate-aware CandidatePolicy "
            "(a policy trained before issue 21)"
        )
    expected = ob.space(policy.max_slots).shape
    if tuple(model.observation_space.shape) != tuple(expected):
        return (
            f"it reads observations of shape {model.observation_space.shape}, this version gives {expected}"
        )
    return None


def _outdated(policy_zip, problem: str) -> ModelNotFound:
    from moodtune.registry.names import POLICY, how_to_build

    return ModelNotFound(
        f"the policy model {Path(policy_zip).name} cannot be used: {problem}; rebuild the policy: "
        f"{how_to_build(POLICY)}"
    )


def input_example(song_features: np.ndarray, track_ids, listener: ListenerContext) -> pd.DataFrame:
    df = pd.DataFrame(song_features, columns=list(SONG_COLUMNS))
    df.insert(0, "track_id", [str(t) for t in track_ids])
    df["age"], df["gender"], df["mood"] = listener.age, listener.gender, float(listener.mood)
    return df


def write_meta(path: Path, kind: str, extra: dict | None = None) -> Path:
    path.write_text(json.dumps({"kind": kind, **(extra or {})}))
    return path


def log_model(model, kind: str, meta: dict | None = None, example: pd.DataFrame | None = None) -> str:
    """Log an SB3 model as the policy in the active MLflow run; returns its model URI."""

    def save(directory: Path) -> None:
        model.save(directory / POLICY_FILE)
        write_meta(directory / META_FILE, kind, meta)

    return packaging.log_model(
        __name__, save, requirements=REQUIREMENTS, input_example=example, name="policy"
    )


def load_model_dir(path: Path, settings: Settings) -> ServedPolicy:
    """The :class:`PolicyRanker` :func:`log_model` saved in ``path``."""
    path = Path(path)
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    if not (path / POLICY_FILE).is_file():
        raise ModelNotFound(f"the policy model in {path} has no {POLICY_FILE}")
    return load_ranker(path / POLICY_FILE, meta)


def predict(ranker: Any, model_input: Any, config: Mapping[str, Any], settings: Any) -> pd.DataFrame:
    """Rows = the candidate songs of one playlist, each with the same listener context."""
    missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
    if missing:
        raise InvalidInput(f"policy input is missing columns {missing}")
    first = model_input.iloc[0]
    listener = ListenerContext.parse(first["age"], first["gender"], first["mood"])
    playlist = model_input.set_index("track_id")[list(SONG_COLUMNS)]
    return pd.DataFrame([r.__dict__ for r in ranker.rank(playlist, listener)])
