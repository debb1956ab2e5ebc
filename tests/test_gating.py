"""The gate's asset checks (assets/gating.py): a real gate on a real SQLite MLflow store,
materialized in-process by Dagster; the check is red for a refused challenger, with the
verdict, both scores and a link to the MLflow run."""

import dagster as dg
import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
from test_gate import Constant  # the test model and its loader (test_gate:load_constant)

from assets.gating import GATED_ASSETS, dagster_metadata, gate_check, gate_verdict
from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.registry.names import MODEL_NAMES, MODELS, ModelSpec

NAME = "moodtune-gating-test"
ITEMS = np.random.default_rng(0).normal(0.0, 1.0, 120)


@pytest.fixture(autouse=True)
def test_model(monkeypatch):
    monkeypatch.setitem(MODELS, NAME, ModelSpec(NAME, "test", "test_gate:load_constant"))


def _evaluation(value: float) -> registry.Evaluation:
    items = ITEMS - ITEMS.mean() + value
    return registry.Evaluation({"reward": float(items.mean())}, items)


class ToyConfig(dg.Config):
    value: float


@dg.asset
def toy_model(context, config: ToyConfig, mlflow: MlflowResource, settings: SettingsResource) -> dict:
    """A training asset as the real ones are: gate in an MLflow run, the report as metadata."""
    import mlflow as mlf

    with mlflow.run(context):
        info = mlf.pyfunc.log_model(
            name="model", python_model=Constant(config.value), pip_requirements=["mlflow"]
        )
        report = registry.register_and_gate(
            registry.Candidate(
                name=NAME,
                model_uri=info.model_uri,
                evaluation=_evaluation(config.value),
                metric="reward",
                floors={"reward": 0.0},
                margin=0.02,
                rescore=lambda champ: _evaluation(champ.value),
            ),
            settings.get(),
        )
    context.add_output_metadata(report.metadata())
    return {"version": report.version}


CHECK = gate_check("toy_model")


def _run(instance, resources, value: float):
    return dg.materialize(
        [toy_model, CHECK],
        instance=instance,
        resources=resources,
        run_config={"ops": {"toy_model": {"config": {"value": value}}}},
        raise_on_error=False,
    )


def _evaluation_of(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def _resources(severity: str | None = None) -> dict:
    res = SettingsResource(
        overrides_yaml=f"dagster: {{gate_check_severity: {severity}}}\n" if severity else ""
    )
    return {"settings": res, "mlflow": MlflowResource(settings=res)}


def test_the_check_is_red_for_a_refused_challenger_with_the_verdict(settings):
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources()
    first = _evaluation_of(_run(instance, resources, 1.0))
    assert first.passed and first.description.startswith("promoted")
    refused = _evaluation_of(_run(instance, resources, 0.5))  # worse than the champion: refused
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.ERROR
    meta = refused.metadata
    assert meta["promoted"].value is False and meta["version"].value == "2"
    assert meta["candidate_score"].value == pytest.approx(0.5, abs=1e-4)
    assert meta["champion_score"].value == pytest.approx(1.0, abs=1e-4)
    assert meta["champion_version"].value == "1" and meta["gate_metric"].value == "reward"
    assert "refused" in refused.description or "does not" in refused.description
    # links both ways: the check and the materialization open the MLflow run ...
    run_id = meta["mlflow_run_id"].value
    url = meta["mlflow_run_url"]
    assert isinstance(url, dg.UrlMetadataValue) and url.url.endswith(f"/runs/{run_id}")
    assert url.url.startswith(settings.mlflow.ui_url.rstrip("/") + "/#/experiments/")
    materialized = instance.get_latest_materialization_event(dg.AssetKey("toy_model")).asset_materialization
    assert isinstance(materialized.metadata["mlflow_run_url"], dg.UrlMetadataValue)
    # ... and the run is tagged with the Dagster run that made it
    tags = mlflow.MlflowClient(settings.tracking_uri).get_run(run_id).data.tags
    assert tags["dagster.asset"] == "toy_model" and tags["dagster.run_url"].endswith(tags["dagster.run_id"])


def test_the_severity_comes_from_params(settings):
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources("WARN")
    assert _evaluation_of(_run(instance, resources, 1.0)).passed
    refused = _evaluation_of(_run(instance, resources, 0.2))
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.WARN


def test_a_materialization_without_a_verdict_fails_the_check():
    assert gate_verdict({"rows": dg.MetadataValue.int(3)}) is None
    verdict = gate_verdict(
        {"promoted": dg.MetadataValue.bool(True), "candidate_score": dg.MetadataValue.float(0.9), "rows": 3}
    )
    assert verdict == {"promoted": True, "candidate_score": 0.9}


def test_plain_metadata_becomes_dagster_metadata():
    meta = dagster_metadata(
        {
            "score": 0.123456789,
            "n": 7,
            "ok": True,
            "nan": float("nan"),
            "reason": "x",
            "report_url": "http://example.test/r",
            "none": None,
            "table": {"a": 1},
        }
    )
    assert isinstance(meta["score"], dg.FloatMetadataValue) and meta["score"].value == 0.1235
    assert isinstance(meta["n"], dg.IntMetadataValue) and isinstance(meta["ok"], dg.BoolMetadataValue)
    assert meta["nan"].value == "nan" and meta["none"].value == ""
    assert isinstance(meta["report_url"], dg.UrlMetadataValue) and isinstance(
        meta["table"], dg.JsonMetadataValue
    )


def test_the_experiment_link_opens_the_training_runs(settings):
    from moodtune.registry import mlflow_experiment_url

    url = mlflow_experiment_url(settings)
    experiment = registry.configure(settings).get_experiment_by_name(settings.mlflow.experiment)
    assert url == (
        f"{settings.mlflow.ui_url.rstrip('/')}/#/experiments/{experiment.experiment_id}"
        "?workflowType=machine_learning"
    )


# --- every model family's gate, derived from its spec (registry.MODELS) -----------------------------


@pytest.fixture(scope="module")
def asset_graph():
    from definitions import build_definitions
    from moodtune.settings import load_settings

    return build_definitions(load_settings()).resolve_asset_graph()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_is_gated_by_its_spec_s_assets_each_with_its_check(name, asset_graph):
    """The spec's training asset is in the spec's group; it and every asset that also gates the
    model (retrained_policy for the policy) are in GATED_ASSETS and carry the gate's check."""
    spec = MODELS[name]
    assert spec.asset and spec.gated_by[0] == spec.asset
    assert asset_graph.get(dg.AssetKey(spec.asset)).group_name == spec.group
    checks = {key.name for key in asset_graph.asset_check_keys}
    keys = set(asset_graph.get_all_asset_keys())
    for asset in spec.gated_by:
        assert asset in GATED_ASSETS and dg.AssetKey(asset) in keys, asset
        assert f"{asset}_challenger_promoted" in checks


def test_gated_assets_are_exactly_the_specs_assets():
    assert sorted(GATED_ASSETS) == sorted(a for n in MODEL_NAMES for a in MODELS[n].gated_by)
    assert MODELS[registry.POLICY].also_gated_by == ("retrained_policy",)
