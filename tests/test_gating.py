"""The gate's asset checks (assets/emit.py): a real gate on a real SQLite MLflow store,
materialized in-process by Dagster; the check, declared on the asset and evaluated with its
materialization from the same report, is red for a refused challenger, with the verdict, both
scores and a link to the MLflow run. And a training asset built from a spec alone
(assets/training.py)."""

import inspect

import dagster as dg
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from test_gate import log_model  # the test model family (its package module: test_gate)

from assets.emit import dagster_metadata, emit, gate_check_spec
from assets.resources import MlflowResource, SettingsResource
from assets.training import trainer_of, training_asset
from moodtune import registry
from moodtune.registry.names import GATED_ASSETS, MODEL_NAMES, MODELS, ModelSpec

NAME = "moodtune-gating-test"
ITEMS = np.random.default_rng(0).normal(0.0, 1.0, 120)


@pytest.fixture(autouse=True)
def test_model(monkeypatch):
    monkeypatch.setitem(MODELS, NAME, ModelSpec(NAME, "test", "test_gate"))


def _evaluation(value: float) -> registry.Evaluation:
    items = ITEMS - ITEMS.mean() + value
    return registry.Evaluation({"reward": float(items.mean())}, items)


def train_toy(settings, value: float, log=lambda _m: None) -> registry.ModelReport:
    """A domain's train-and-register: log, register and gate a constant model (in the active run)."""
    gate = registry.register_and_gate(
        registry.Candidate(
            name=NAME,
            model_uri=log_model(value),
            evaluation=_evaluation(value),
            metric="reward",
            floors={"reward": 0.0},
            margin=0.02,
            rescore=lambda champ: _evaluation(champ.value),
        ),
        settings,
        log=log,
    )
    table = pd.DataFrame({"item": [0, 1], "reward": [value, value]})
    return registry.ModelReport(
        gate, {"version": gate.version}, {"value": value, "items": table}, extra={"value": value}
    )


class ToyConfig(dg.Config):
    value: float


@dg.asset(check_specs=[gate_check_spec("toy_model")])
def toy_model(context, config: ToyConfig, mlflow: MlflowResource, settings: SettingsResource):
    """A gated asset written by hand (as retrained_policy is): gate in an MLflow run, then emit."""
    s = settings.get()
    with mlflow.run(context, link=False):
        report = train_toy(s, config.value)
    yield from emit(context, report, s)


def _run(instance, resources, value: float):
    return dg.materialize(
        [toy_model],
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
    refused_run = _run(instance, resources, 0.5)  # worse than the champion: refused
    refused = _evaluation_of(refused_run)
    assert refused_run.success  # the model was registered (a challenger): the check says it was refused
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.ERROR
    meta = refused.metadata
    assert meta["promoted"].value is False and meta["version"].value == "2"
    assert meta["candidate_score"].value == pytest.approx(0.5, abs=1e-4)
    assert meta["champion_score"].value == pytest.approx(1.0, abs=1e-4)
    assert meta["champion_version"].value == "1" and meta["gate_metric"].value == "reward"
    assert "refused" in refused.description or "does not" in refused.description
    # the check judges the materialization of its own run, not the latest one found by name
    (materialization,) = refused_run.asset_materializations_for_node("toy_model")
    assert refused.target_materialization_data.run_id == refused_run.run_id
    assert materialization.metadata["version"].value == "2" and refused_run.output_for_node("toy_model") == {
        "version": "2"
    }
    # links both ways: the check and the materialization open the MLflow run ...
    run_id = meta["mlflow_run_id"].value
    url = meta["mlflow_run_url"]
    assert isinstance(url, dg.UrlMetadataValue) and url.url.endswith(f"/runs/{run_id}")
    assert url.url.startswith(settings.mlflow.ui_url.rstrip("/") + "/#/experiments/")
    assert materialization.metadata["mlflow_run_id"].value == run_id
    assert isinstance(materialization.metadata["mlflow_run_url"], dg.UrlMetadataValue)
    # ... the report's own metadata is there, its table as markdown ...
    assert materialization.metadata["value"].value == 0.5
    assert isinstance(materialization.metadata["items"], dg.MarkdownMetadataValue)
    assert materialization.metadata["items"].value.split("\n")[0].split() == ["|", "item", "|", "reward", "|"]
    # ... and the run is tagged with the Dagster run that made it
    tags = mlflow.MlflowClient(settings.tracking_uri).get_run(run_id).data.tags
    assert tags["dagster.asset"] == "toy_model" and tags["dagster.run_url"].endswith(tags["dagster.run_id"])


def test_the_severity_comes_from_params(settings):
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources("WARN")
    assert _evaluation_of(_run(instance, resources, 1.0)).passed
    refused = _evaluation_of(_run(instance, resources, 0.2))
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.WARN


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
            "rows": np.int64(3),
            "mean": np.float64(0.5),
            "md": registry.Markdown("| a |\n|---|\n| 1 |"),
            "frame": pd.DataFrame({"a": [1]}),
        }
    )
    assert isinstance(meta["score"], dg.FloatMetadataValue) and meta["score"].value == 0.1235
    assert isinstance(meta["n"], dg.IntMetadataValue) and isinstance(meta["ok"], dg.BoolMetadataValue)
    assert meta["nan"].value == "nan" and meta["none"].value == ""
    assert isinstance(meta["report_url"], dg.UrlMetadataValue) and isinstance(
        meta["table"], dg.JsonMetadataValue
    )
    assert meta["rows"] == dg.MetadataValue.int(3) and meta["mean"] == dg.MetadataValue.float(0.5)
    assert meta["md"] == dg.MetadataValue.md("| a |\n|---|\n| 1 |")
    assert meta["frame"] == dg.MetadataValue.md(pd.DataFrame({"a": [1]}).to_markdown(index=False))


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
        # declared on the asset itself: evaluated with its materialization, in the same step
        declared = asset_graph.assets_def_for_key(dg.AssetKey(asset)).check_keys
        assert dg.AssetCheckKey(dg.AssetKey(asset), f"{asset}_challenger_promoted") in declared
    # the training asset is the one its spec builds: its inputs, kind and description
    node = asset_graph.get(dg.AssetKey(spec.asset))
    assert {k.to_user_string() for k in node.parent_keys} == set(spec.inputs)
    assets_def = asset_graph.assets_def_for_key(dg.AssetKey(spec.asset))
    assert assets_def.op.tags["dagster/compute_kind"] == spec.kind
    assert (assets_def.op.tags.get("dagster/priority") is not None) == spec.critical_path
    assert assets_def.descriptions_by_key[dg.AssetKey(spec.asset)].split()[:4] == spec.doc.split()[:4]
    # its trainer takes the settings, the inputs in the spec's order and ``log``
    inspect.signature(trainer_of(spec)).bind("settings", *spec.inputs, log=print)


def test_gated_assets_are_exactly_the_specs_assets():
    assert sorted(GATED_ASSETS) == sorted(a for n in MODEL_NAMES for a in MODELS[n].gated_by)
    assert MODELS[registry.POLICY].also_gated_by == ("retrained_policy",)


# --- a model family from its spec alone (assets/training.py) ------------------------------------


@dg.asset
def toy_value() -> float:
    return 0.9


def test_a_spec_alone_builds_its_training_asset_with_its_gate_check(monkeypatch, settings):
    """The trainer named by the spec gets the settings and the spec's inputs in order; its report
    becomes the asset's output, metadata and gate check: no asset module of its own."""
    spec = ModelSpec(
        NAME,
        "toys",
        "test_gate",
        asset="toy_family_model",
        trainer="test_gating:train_toy",
        inputs=("toy_value",),
        kind="python",
        doc="""A toy family's model,
        trained from one number.""",
    )
    monkeypatch.setitem(MODELS, NAME, spec)
    built = training_asset(spec)
    key = dg.AssetKey("toy_family_model")
    assert built.key == key and built.group_names_by_key[key] == "toys"
    assert built.descriptions_by_key[key] == "A toy family's model,\ntrained from one number."
    assert set(built.keys_by_input_name.values()) == {dg.AssetKey("toy_value")}
    assert built.check_keys == {dg.AssetCheckKey(key, "toy_family_model_challenger_promoted")}
    assert built.op.tags["dagster/compute_kind"] == "python" and "dagster/priority" not in built.op.tags
    result = dg.materialize([toy_value, built], resources=_resources())
    assert result.success and result.output_for_node("toy_family_model") == {"version": "1"}
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.check_name == "toy_family_model_challenger_promoted"
    (materialization,) = result.asset_materializations_for_node("toy_family_model")
    meta = materialization.metadata
    assert meta["value"].value == 0.9 and meta["promoted"].value is True and meta["model"].value == NAME
    assert isinstance(meta["mlflow_run_url"], dg.UrlMetadataValue)
    run = mlflow.MlflowClient(settings.tracking_uri).get_run(meta["mlflow_run_id"].value)
    assert run.data.tags["dagster.asset"] == "toy_family_model"
