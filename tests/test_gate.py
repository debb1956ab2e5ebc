"""The shared gate (register -> re-score champion -> decide) on a real SQLite MLflow store."""

import json
from pathlib import Path

import numpy as np
import pytest

from moodtune import registry
from moodtune.registry import packaging
from moodtune.registry.names import MODELS, ModelSpec

NAME = "moodtune-gate-test"


# This module is also the test model family's package module (moodtune.registry.packaging):
# log_model, load_model_dir and predict of a model that answers one constant.


class Constant:
    def __init__(self, value: float):
        self.value = value


def log_model(value: float) -> str:
    """Log a :class:`Constant` in the active MLflow run; returns its model URI."""
    return packaging.log_model(
        __name__, lambda d: (d / "value.json").write_text(json.dumps(value)), requirements=["mlflow"]
    )


def load_model_dir(path: Path, settings) -> Constant:
    return Constant(json.loads((path / "value.json").read_text()))


def predict(model: Constant, model_input, config, settings) -> list[float]:
    return [model.value] * len(model_input)


@pytest.fixture(autouse=True)
def test_model(monkeypatch):
    monkeypatch.setitem(MODELS, NAME, ModelSpec(NAME, "test", "test_gate"))


ITEMS = np.random.default_rng(0).normal(0.0, 1.0, 200)


def per_item(value: float) -> np.ndarray:
    """Per-item scores whose mean is ``value`` (the same noise for every model: a paired set)."""
    return ITEMS - ITEMS.mean() + value


def candidate(value: float, *, noise: float = 0.0, rescore=None, vetoes=()):
    model_uri = log_model(value)
    items = per_item(value) + np.random.default_rng(1).normal(0, noise, len(ITEMS))
    return registry.Candidate(
        name=NAME,
        model_uri=model_uri,
        evaluation=registry.Evaluation({"reward": float(items.mean())}, items),
        metric="reward",
        floors={"reward": 0.0},
        margin=0.02,
        rescore=rescore
        or (lambda champ: registry.Evaluation({"reward": champ.value}, per_item(champ.value))),
        vetoes=vetoes,
    )


def gate(settings, value, **kw):
    with registry.start_run(f"train-{value}", settings=settings):
        return registry.register_and_gate(candidate(value, **kw), settings)


def test_first_version_is_promoted_then_a_clear_win_replaces_it(settings):
    first = gate(settings, 1.0)
    assert first.promoted and first.decision.champion_version is None
    second = gate(settings, 1.5)
    assert second.promoted, second.reason
    lo, hi = second.decision.difference_ci
    assert 0.02 <= lo <= 0.5 <= hi + 1e-9
    assert registry.load(NAME, None, settings).value == 1.5
    tags = registry.configure(settings).get_model_version(NAME, second.version).tags
    assert tags["gate.decision"] == "promoted" and "gate.difference_ci" in tags


def test_a_win_inside_the_noise_is_not_promoted(settings):
    gate(settings, 1.0)
    # mean difference 0.03 beats the 0.02 margin as a point, but the paired noise (sd 0.5 over
    # 200 items) puts the interval's lower end far below the margin
    noisy = gate(settings, 1.03, noise=0.5)
    assert noisy.decision.champion_score == pytest.approx(1.0)
    assert noisy.decision.difference_ci[0] < 0.02
    assert not noisy.promoted and "does not clear" in noisy.reason
    assert str(registry.champion(NAME, settings).version) == "1"
    assert str(registry.get_alias(NAME, "challenger", settings).version) == noisy.version


def test_a_champion_that_cannot_be_rescored_is_reported(settings):
    gate(settings, 1.0)

    def broken(champ):
        raise RuntimeError("features changed")

    report = gate(settings, 1.5, rescore=broken)
    assert report.decision.rescore_error == "RuntimeError: features changed"
    assert "not re-scored" in report.reason and report.decision.difference_ci is None
    assert report.metadata()["rescore_error"] == "RuntimeError: features changed"


def test_a_veto_refuses_a_winner(settings):
    gate(settings, 1.0)
    report = gate(settings, 2.0, vetoes=[lambda champ: f"off-policy estimate below v{champ.value:g}'s"])
    assert not report.promoted and report.reason.startswith("refused: off-policy estimate")


def test_below_the_floor_is_refused_even_without_champion(settings):
    report = gate(settings, -1.0)
    assert not report.promoted and "below floors" in report.reason
    assert registry.champion(NAME, settings) is None


def test_paired_bootstrap_needs_equal_arrays():
    with pytest.raises(ValueError, match="equal"):
        registry.paired_bootstrap_ci([1, 2, 3], [1, 2], samples=100, confidence=0.9)


def test_the_ui_sees_a_training_experiment_and_the_verdict(settings):
    report = gate(settings, 1.0)
    client = registry.configure(settings)
    experiment = client.get_experiment_by_name(settings.mlflow.experiment)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "training runs" in experiment.tags["mlflow.note.content"]
    version = client.get_model_version(NAME, report.version)
    assert version.description.startswith("Gate: PROMOTED. reward 1")
    with registry.start_run(
        "x",
        settings=settings,
        tags={"dagster.run_id": "abc", "dagster.asset": "a"},
        description="what this run is",
    ) as run:
        pass
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["dagster.run_url"] == f"{settings.dagster.webserver_url}/runs/abc"
    assert tags["mlflow.note.content"] == "what this run is" and tags["mlflow.source.name"] == "dagster:a"
    assert registry.mlflow_run_url(run.info.run_id, settings).endswith(f"/runs/{run.info.run_id}")
