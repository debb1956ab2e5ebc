"""The policy as an MLflow pyfunc: candidates + listener context in, ranked tracks out."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from moodtune.errors import InvalidInput, ModelNotFound
from moodtune.policy.features import SONG_COLUMNS, ListenerContext
from moodtune.policy.ranking import PolicyRanker
from moodtune.registry.requirements import pinned

INPUT_COLUMNS = ("track_id",) + SONG_COLUMNS + ("age", "gender", "mood")


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


class PolicyPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]  # mlflow.pyfunc reads as a LazyLoader
    """Rows = the candidate songs of one playlist, each with the same listener context."""

    def load_context(self, context):
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.ranker = load_ranker(context.artifacts["policy"], meta)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
        if missing:
            raise InvalidInput(f"policy input is missing columns {missing}")
        first = model_input.iloc[0]
        listener = ListenerContext.parse(first["age"], first["gender"], first["mood"])
        playlist = model_input.set_index("track_id")[list(SONG_COLUMNS)]
        ranked = self.ranker.rank(playlist, listener)
        return pd.DataFrame([r.__dict__ for r in ranked])


def input_example(song_features: np.ndarray, track_ids, listener: ListenerContext) -> pd.DataFrame:
    df = pd.DataFrame(song_features, columns=list(SONG_COLUMNS))
    df.insert(0, "track_id", [str(t) for t in track_ids])
    df["age"], df["gender"], df["mood"] = listener.age, listener.gender, float(listener.mood)
    return df


def write_meta(path: Path, kind: str, extra: dict | None = None) -> Path:
    path.write_text(json.dumps({"kind": kind, **(extra or {})}))
    return path


def log_policy_model(model, kind: str, meta: dict | None = None, example: pd.DataFrame | None = None) -> str:
    """Log an SB3 model as the policy pyfunc in the active MLflow run; returns its model URI."""
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = Path(tmp) / "policy.zip"
        model.save(zip_path)
        meta_path = write_meta(Path(tmp) / "meta.json", kind, meta)
        info = mlflow.pyfunc.log_model(
            name="policy",
            python_model=PolicyPyfunc(),
            input_example=example,
            artifacts={"policy": str(zip_path), "meta": str(meta_path)},
            pip_requirements=pinned("stable-baselines3", "gymnasium", "torch", "numpy", "pandas", "mlflow"),
        )
    return info.model_uri


def load_model_dir(path: Path, settings=None) -> PolicyRanker:
    """The :class:`PolicyRanker` in a logged policy model directory (the registry's loader)."""
    artifacts = Path(path) / "artifacts"
    meta = json.loads((artifacts / "meta.json").read_text(encoding="utf-8"))
    zips = sorted(artifacts.glob("*.zip"))
    if not zips:
        raise ModelNotFound(f"the policy model in {path} has no SB3 zip in its artifacts")
    return load_ranker(zips[0], meta)
