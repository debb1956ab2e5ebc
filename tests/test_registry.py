"""The registry gate against a real SQLite-backed MLflow store in a temp dir; the model specs
(registry.MODELS) from which the rest of the project derives its list of models."""

import ast
import importlib
import re
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pytest

from moodtune import registry
from moodtune.errors import ModelNotFound
from moodtune.registry.names import SERVED_ATTRS, TRAINING_ASSETS

NAME = "moodtune-test"


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float):
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _new_version(settings, value: float):
    with registry.start_run(f"train-{value}", settings=settings):
        # requirements given: MLflow would infer them in a subprocess (moodtune/registry/requirements.py)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Constant(value), pip_requirements=["mlflow"]
        )
        return registry.register(info.model_uri, NAME, settings=settings)


FLOORS = {"auc": 0.6}


def test_no_champion_is_normal(settings):
    assert registry.champion(NAME, settings) is None
    with pytest.raises(ModelNotFound, match="no champion .*materialize"):
        registry.champion_uri(NAME, settings)


def test_gate_sequence(settings):
    v1 = _new_version(settings, 1.0)
    d1 = registry.promote(NAME, v1.version, {"auc": 0.80}, FLOORS, 0.01, metric="auc", settings=settings)
    assert d1.promoted and d1.champion_version is None
    assert registry.champion(NAME, settings).version == v1.version

    # worse challenger: not promoted, stays challenger, champion unchanged
    v2 = _new_version(settings, 2.0)
    d2 = registry.promote(NAME, v2.version, {"auc": 0.75}, FLOORS, 0.01, metric="auc", settings=settings)
    assert not d2.promoted
    assert d2.champion_score == pytest.approx(0.80)
    assert registry.champion(NAME, settings).version == v1.version
    assert registry.get_alias(NAME, "challenger", settings).version == v2.version

    # better by less than the margin: not promoted
    v3 = _new_version(settings, 3.0)
    d3 = registry.promote(NAME, v3.version, {"auc": 0.805}, FLOORS, 0.01, metric="auc", settings=settings)
    assert not d3.promoted and "does not beat" in d3.reason

    # better by the margin: promoted, and the served model is the new one
    v4 = _new_version(settings, 4.0)
    d4 = registry.promote(NAME, v4.version, {"auc": 0.9}, FLOORS, 0.01, metric="auc", settings=settings)
    assert d4.promoted and d4.champion_version == str(v1.version)
    assert registry.champion(NAME, settings).version == v4.version
    model = mlflow.pyfunc.load_model(registry.champion_uri(NAME, settings))
    assert list(model.predict([[0], [0]])) == [4.0, 4.0]

    # the decision is recorded on the version and on the run
    client = registry.configure(settings)
    tags = client.get_model_version(NAME, v2.version).tags
    assert tags["gate.decision"] == "rejected"
    run = client.get_run(v4.run_id)
    assert run.data.tags["gate.decision"] == "promoted"
    assert run.data.metrics["gate.champion_score"] == pytest.approx(0.80)


def test_below_floor_never_promoted_even_first(settings):
    v1 = _new_version(settings, 1.0)
    d = registry.promote(NAME, v1.version, {"auc": 0.55}, FLOORS, 0.0, metric="auc", settings=settings)
    assert not d.promoted and "below floors" in d.reason
    assert registry.champion(NAME, settings) is None


def test_missing_floor_metric_fails_the_floor(settings):
    v1 = _new_version(settings, 1.0)
    d = registry.promote(
        NAME, v1.version, {"auc": 0.9}, {"auc": 0.5, "f1": 0.5}, 0.0, metric="auc", settings=settings
    )
    assert not d.promoted and "f1 missing" in d.reason


def test_champion_rescored_on_same_data(settings):
    v1 = _new_version(settings, 1.0)
    registry.promote(NAME, v1.version, 0.7, {}, 0.0, settings=settings)
    v2 = _new_version(settings, 2.0)
    # recorded champion score (0.7) would lose; the champion re-measured on the same data wins
    d = registry.promote(NAME, v2.version, 0.75, {}, 0.0, champion_score=0.8, settings=settings)
    assert not d.promoted and d.champion_score == pytest.approx(0.8)


def _configure_in_child(db: str, out) -> None:
    import os

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{db}"
    from moodtune import registry as reg
    from moodtune.settings import load_settings

    out.put(
        reg.configure(load_settings()).get_experiment_by_name(load_settings().mlflow.experiment).experiment_id
    )


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    """The first use of a new SQLite store creates its tables; without the lock in
    ``configure`` two Dagster steps doing it at once failed ("duplicate column name").

    Plain processes, each joined with a deadline and killed past it: a ``Pool`` hung the suite once
    in ``terminate()`` (a worker blocked on the task queue's lock after another had died)."""
    import multiprocessing
    import queue

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_configure_in_child, args=(str(tmp_path / "mlflow.db"), out)) for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    ids = []
    try:
        for _ in procs:
            ids.append(out.get(timeout=120))
    except queue.Empty:
        pass
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
    assert [p.exitcode for p in procs] == [0] * 4, [p.exitcode for p in procs]
    assert len(ids) == 4 and len(set(ids)) == 1  # one experiment, created once


# --- the model specs -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", registry.MODEL_NAMES)
def test_each_model_spec_declares_its_family(name):
    spec = registry.MODELS[name]
    package = importlib.import_module(spec.package)
    for function in ("log_model", "load_model_dir", "predict"):  # moodtune.registry.packaging
        assert callable(getattr(package, function, None)), f"{spec.package} lacks {function}"
    served = getattr(package, spec.served)
    assert served._is_protocol and served._is_runtime_protocol, spec.served  # the loader checks it
    assert spec.description and spec.asset in TRAINING_ASSETS and SERVED_ATTRS[spec.attr] == name
    assert spec.attr.isidentifier() and f"group:{spec.group}'" in registry.how_to_build(name)


def test_the_service_names_are_unique_and_the_model_set_answers_each():
    from moodtune.serving.models import LoadedModel, ModelSet

    assert len(SERVED_ATTRS) == len(registry.MODEL_NAMES) == len(set(TRAINING_ASSETS))
    now = datetime.now(UTC)
    objects = {name: object() for name in registry.MODEL_NAMES}
    ms = ModelSet({n: LoadedModel(n, o, "1", "test", now) for n, o in objects.items()}, None, now)
    for name, spec in registry.MODELS.items():
        assert getattr(ms, spec.attr) is objects[name] is ms.obj(name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ms.nothing  # noqa: B018


def test_model_names_are_declared_only_in_the_families_module():
    """No quoted model name in the project's code but the one list (tests may assert on them)."""
    names = (*registry.MODEL_NAMES, registry.CATALOG)
    quoted = re.compile("[\"']({})[\"']".format("|".join(map(re.escape, names))))
    spelled = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in [
            ROOT / "definitions.py",
            *(
                p
                for folder in ("moodtune", "assets", "bento", "jobs", "scripts", "benchmarks")
                for p in sorted((ROOT / folder).rglob("*.py"))
            ),
        ]
        if path != ROOT / "moodtune" / "families.py"
        for m in quoted.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not spelled


def test_the_model_set_types_each_model_by_its_served_protocol():
    """``ModelSet.<attr>`` is typed (for mypy) as the spec's Protocol, imported from its package
    (optional for a new family)."""
    tree = ast.parse((ROOT / "moodtune" / "serving" / "models.py").read_text(encoding="utf-8"))
    imported = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    model_set = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelSet")
    typed = {
        n.target.id: n.annotation.id
        for block in model_set.body
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for n in block.body
        if isinstance(n, ast.AnnAssign)
    }
    # the line is optional for a new family (mypy then sees Any); a line present names its spec's
    # Protocol, and the first five families have theirs
    assert typed.items() <= {spec.attr: spec.served for spec in registry.MODELS.values()}.items()
    assert {"audio", "hrv", "policy", "text", "face"} <= typed.keys()
    served = {spec.attr: spec for spec in registry.MODELS.values()}
    assert all(imported[typed[attr]] == served[attr].package for attr in typed)


def test_a_model_of_another_layout_is_refused_with_how_to_rebuild(tmp_path, settings):
    """A model directory not written by moodtune.registry.packaging (e.g. registered by an older
    moodtune) is ModelNotFound saying how to rebuild it, not an error from deep inside a loader."""
    mlflow.pyfunc.save_model(str(tmp_path / "old"), python_model=Constant(1.0), pip_requirements=["mlflow"])
    with pytest.raises(ModelNotFound, match=r"older version of moodtune\); rebuild it: .*group:audio"):
        registry.load_dir(registry.AUDIO, tmp_path / "old", None, settings)


def test_a_packaged_model_loads_through_the_registry_and_as_an_mlflow_pyfunc(settings, monkeypatch):
    """One mechanism: the registry's loader and ``mlflow.pyfunc.load_model`` both read the object
    through the package module's ``load_model_dir`` (here the test family of test_gate)."""
    import test_gate

    monkeypatch.setitem(registry.MODELS, NAME, registry.ModelSpec(NAME, "test", "test_gate"))
    with registry.start_run("packaged", settings=settings):
        mv = registry.register(test_gate.log_model(2.5), NAME, settings=settings)
    loaded = registry.load(NAME, mv.version, settings)
    assert isinstance(loaded, test_gate.Constant) and loaded.value == 2.5
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}/{mv.version}")
    assert list(pyfunc.predict([[0], [0], [0]])) == [2.5, 2.5, 2.5]
