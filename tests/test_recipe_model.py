"""docs/architecture.md's recipe "Add a model family", followed once: a copy of the repository
(its tracked files) gains a toy family, ``moodtune-toy`` (the stress level nearest a recording's
heart rate), in the recipe's four places and nowhere else: its domain package, one spec line, its
settings section (params.yaml), its DVC stage. In the copy, on a copy of the built test stack,
the stage's command trains, registers and gates it (the gate's check passes, MLflow holds the
champion), the stage tests, the import contracts and the model set's type test pass, and the
service imports and serves it beside the others."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from recipe import append, changed, copy_env, copy_tracked, edit

pytestmark = [pytest.mark.service, pytest.mark.slow]

# 1. the domain package: its settings section, its model, train-and-register and loader
INIT = '"""A toy model family: the stress level nearest a recording\'s value of one HRV metric."""\n'
CONFIG = '''"""The ``toy:`` section of params.yaml."""

from __future__ import annotations

from pydantic import Field

from moodtune.section import Section


class ToySettings(Section):
    metric: str  # the hrv_metrics column it reads
    floor: float = Field(ge=0, le=1)  # the gate's floor on accuracy
    margin: float = Field(ge=0)  # the gate's margin over the champion
'''
MODEL = '''"""Each level's median of one HRV metric; a recording gets the level whose median is nearest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from moodtune import registry


class NearestLevel:
    def __init__(self, metric: str, medians: dict[str, float]):
        self.metric, self.medians = metric, medians
        self.version: str | None = None

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        levels = np.array(list(self.medians), dtype=object)
        values = table[self.metric].to_numpy(dtype=float)[:, None]
        return levels[np.abs(values - np.array(list(self.medians.values()))).argmin(axis=1)]

    def evaluate(self, table: pd.DataFrame) -> registry.Evaluation:
        hits = (self.predict(table) == table["level"].to_numpy()).astype(float)
        return registry.Evaluation({"accuracy": float(hits.mean())}, hits)
'''
TRAIN = '''"""Fit the medians, score them on the recordings they were fitted on (a toy), register and gate."""

from __future__ import annotations

import pandas as pd

from moodtune import registry
from moodtune.families import TOY
from moodtune.toy.config import ToySettings
from moodtune.toy.model import NearestLevel
from moodtune.toy.package import log_model


def train_and_register(settings, hrv_metrics: pd.DataFrame, log=lambda _m: None) -> registry.ModelReport:
    toy = settings.section(ToySettings)
    table = hrv_metrics.dropna(subset=[toy.metric])
    model = NearestLevel(toy.metric, table.groupby("level")[toy.metric].median().to_dict())
    gate = registry.register_and_gate(
        registry.Candidate(
            name=TOY,
            model_uri=log_model(model),
            evaluation=model.evaluate(table),
            metric="accuracy",
            floors={"accuracy": toy.floor},
            margin=toy.margin,
            rescore=lambda champion: champion.evaluate(table),
        ),
        settings,
        log=log,
    )
    return registry.ModelReport(
        gate, {"name": gate.name, "version": gate.version}, {"medians": model.medians}
    )
'''
PACKAGE = '''"""``moodtune-toy`` as an MLflow model (moodtune.registry.packaging): its medians as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from moodtune.registry import packaging
from moodtune.toy.model import NearestLevel

FILE = "medians.json"


@runtime_checkable
class ServedToy(Protocol):
    metric: str

    def predict(self, table: pd.DataFrame) -> np.ndarray: ...


def log_model(model: NearestLevel) -> str:
    def save(directory: Path) -> None:
        (directory / FILE).write_text(json.dumps({"metric": model.metric, "medians": model.medians}))

    return packaging.log_model(__name__, save, requirements=("mlflow", "numpy", "pandas"))


def load_model_dir(path: Path, settings: Any) -> ServedToy:
    saved = json.loads((Path(path) / FILE).read_text())
    return NearestLevel(saved["metric"], saved["medians"])


def predict(model: Any, model_input: Any, config: Any, settings: Any) -> pd.DataFrame:
    return pd.DataFrame({"level": model.predict(pd.DataFrame(model_input))})
'''
# 2. one spec line in MODELS, and its name constant
NAME = 'TOY = "moodtune-toy"\n'
NAMES_END = "\n\n@dataclass(frozen=True)\nclass ModelSpec:"
SPEC = (
    '        ModelSpec(TOY, "toy", "moodtune.toy.package", "A toy: the stress level nearest a heart rate.", '
    'asset="toy_model", attr="toy", served="ServedToy", trainer="moodtune.toy.train:train_and_register", '
    'inputs=("hrv_metrics",), kind="python", settings="moodtune.toy.config:ToySettings"),\n'
)
MODELS_END = "    )\n}\n"
# 3. its settings section's values
PARAMS = "toy:                          # moodtune/toy/config.py (ToySettings)\n  metric: HR\n  floor: 0.4\n  margin: 0.02\n"
# 4. its DVC stage
STAGE = """  toy:
    cmd: dagster asset materialize -m definitions --select 'group:toy'
    deps:
      - moodtune/toy
      - moodtune/registry
      - assets/training.py
      - assets/emit.py
      - data/assets/hrv_metrics
    params:
      - toy
    outs:
      - data/assets/toy_model
"""
PLACES = {  # the domain package (its section's class included), the spec, params.yaml, dvc.yaml
    "moodtune/toy/__init__.py",
    "moodtune/toy/config.py",
    "moodtune/toy/model.py",
    "moodtune/toy/package.py",
    "moodtune/toy/train.py",
    "moodtune/families.py",
    "params.yaml",
    "dvc.yaml",
}


def add_toy(repo: Path) -> None:
    """The recipe's edits, as text."""
    toy = repo / "moodtune" / "toy"
    toy.mkdir()
    for name, text in {
        "__init__.py": INIT,
        "config.py": CONFIG,
        "model.py": MODEL,
        "package.py": PACKAGE,
        "train.py": TRAIN,
    }.items():
        (toy / name).write_text(text, encoding="utf-8")
    families = repo / "moodtune" / "families.py"
    edit(families, NAMES_END, NAME + NAMES_END)
    edit(families, MODELS_END, SPEC + MODELS_END)
    append(repo / "params.yaml", PARAMS)
    append(repo / "dvc.yaml", STAGE)


@pytest.fixture(scope="module")
def service_stack(_built_stack, tmp_path_factory):
    """A copy of the built stack (the toy registers its champion there) and the environment of
    a service on it; the service itself is started from the repository's copy."""
    from conftest import _service_on, copy_stack

    return _service_on(
        copy_stack(_built_stack, tmp_path_factory.mktemp("toy_stack")), tmp_path_factory.mktemp("toy_service")
    )


def _run(args: list[str], repo: Path, env: dict) -> None:
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{shlex.join(args)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def test_a_model_family_added_in_four_places_trains_gates_and_serves(service_stack, tmp_path):
    import dagster as dg
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
    from mlflow import MlflowClient

    from assets.emit import gate_check_spec
    from bento.testing import ServiceProcess, import_models

    repo = tmp_path / "repo"
    tracked = copy_tracked(repo)
    add_toy(repo)
    assert changed(repo, tracked) == PLACES
    home = tmp_path / "dagster"
    home.mkdir()
    env = {
        **copy_env(service_stack["env"], repo),
        "DAGSTER_HOME": str(home),
        "MOODTUNE_DAGSTER__EXECUTOR": "in_process",  # one step: no step processes to start
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # the stage's `dagster`, as make's PATH
    }

    # its DVC stage's command trains, registers and gates it on the stack's hrv_metrics
    stage = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["toy"]
    _run(shlex.split(stage["cmd"]), repo, env)
    check = dg.DagsterInstance.from_config(str(home)).get_latest_asset_check_evaluation_record(
        gate_check_spec("toy_model").key
    )
    assert check is not None and check.status == AssetCheckExecutionRecordStatus.SUCCEEDED
    evaluation = check.event.dagster_event.event_specific_data
    assert evaluation.passed and evaluation.metadata["version"].value == "1"
    uri = service_stack["settings"].tracking_uri
    champion = MlflowClient(uri, registry_uri=uri).get_model_version_by_alias("moodtune-toy", "champion")
    assert str(champion.version) == "1"
    # ruff (make lint's first two) passes on the toy's code as written
    ruff = Path(sys.executable).parent / "ruff"
    _run([str(ruff), "format", "--check", "moodtune/toy"], repo, env)
    _run([str(ruff), "check", "moodtune/toy"], repo, env)
    # dvc.yaml's stage tests pass with the toy's stage (the DVC round trip is not the toy's), and so
    # do the import contracts (lint-imports) and the model set's types, with no line of their own
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
          "tests/test_dvc_stages.py", "tests/test_import_contracts.py", "tests/test_registry.py",
          "-k", "(test_dvc_stages and not dvcignore) or layered or family or contract_is_kept "
          "or served_protocol"], repo, env)  # fmt: skip

    # the service imports its champion and serves it beside every other model
    import_models(env, cwd=repo)
    with ServiceProcess(env, tmp_path / "toy.log", cwd=repo) as service:
        models = httpx.post(f"{service.url}/models", json={}, timeout=60).json()["models"]
    assert models["moodtune-toy"]["version"] == "1", models
    assert models["moodtune-toy"]["source"].startswith("bentoml:moodtune-toy:"), models
    # ModelSet.toy (the spec's attr) is the loaded toy
    probe = (
        "from moodtune.serving.models import registry_model_set; from moodtune.settings import load_settings;"
        "m = registry_model_set(load_settings()).toy; print(type(m).__name__, m.version, m.metric)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo, env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["NearestLevel", "1", "HR"], done.stderr[-4000:]
