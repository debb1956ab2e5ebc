"""What the MLflow UI shows as text (issue 31): each MLflow run a Dagster step starts is described
in markdown (what it trained, on what data, a link to the Dagster run, the gate's verdict once
known), and tags written from floats are rounded to 4 significant digits. Real SQLite MLflow store
under tmp_path; Dagster materializes in process."""

import json
import math
import re
import shutil

import dagster as dg
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from test_gate import log_model  # the test model family (its package module: test_gate)

from assets.resources import MlflowResource, SettingsResource
from moodtune import registry
from moodtune.registry.names import MODELS, ModelSpec
from moodtune.registry.notes import MAX_NOTE_CHARS
from moodtune.registry.tracking import NOTE_TAG

NAME = "moodtune-notes-test"
DAGSTER_URL = "http://dagster.example.test:3000"
ITEMS = np.random.default_rng(1).normal(0.0, 1.0, 150)
PARTITIONS = dg.StaticPartitionsDefinition(["week-1", "week-2"])
LINK = re.compile(r"\[Dagster run ([0-9a-f-]+)\]\((\S+)\)")


@pytest.fixture(autouse=True)
def test_model(monkeypatch):
    monkeypatch.setitem(MODELS, NAME, ModelSpec(NAME, "test", "test_gate"))


@pytest.fixture
def store(tmp_path, _mlflow_template) -> SettingsResource:
    """Settings on a SQLite MLflow store and a data dir under tmp_path, Dagster links to DAGSTER_URL."""
    shutil.copy(_mlflow_template, tmp_path / "mlflow.db")
    return SettingsResource(
        data_dir=str(tmp_path / "data"),
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        overrides_yaml=f"mlflow: {{artifact_root: {tmp_path / 'artifacts'}}}\n"
        f"dagster: {{webserver_url: '{DAGSTER_URL}/'}}\n",
    )


def _evaluation(value: float) -> registry.Evaluation:
    items = ITEMS - ITEMS.mean() + value
    return registry.Evaluation({"reward": float(items.mean())}, items)


class ToyConfig(dg.Config):
    value: float


@dg.asset(partitions_def=PARTITIONS)
def listening_log() -> int:
    return 3


@dg.asset(partitions_def=PARTITIONS)
def listener_notes() -> int:
    return 4


@dg.asset(partitions_def=PARTITIONS, deps=[listener_notes])
def toy_trainer(
    context, config: ToyConfig, mlflow: MlflowResource, settings: SettingsResource, listening_log: int
) -> dict:
    """Trains the toy model on the week's
    listening log.

    Details the description leaves out."""
    with mlflow.run(context):
        model_uri = log_model(config.value)
        report = registry.register_and_gate(
            registry.Candidate(
                name=NAME,
                model_uri=model_uri,
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


def _materialize(store: SettingsResource, instance, value: float, week: str):
    result = dg.materialize(
        [listening_log, listener_notes, toy_trainer],
        instance=instance,
        partition_key=week,
        resources={"settings": store, "mlflow": MlflowResource(settings=store)},
        run_config={"ops": {"toy_trainer": {"config": {"value": value}}}},
    )
    assert result.success
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("toy_trainer")
    ]
    run_id = event.materialization.metadata["mlflow_run_id"].value
    return result, MlflowClient(store.get().tracking_uri).get_run(run_id)


def test_each_run_says_what_it_trained_on_what_data_and_the_verdict(store):
    instance = dg.DagsterInstance.ephemeral()
    result, run = _materialize(store, instance, 0.7123456, "week-1")
    note = run.data.tags[NOTE_TAG]
    # what: the asset key and its docstring's summary (its first paragraph, on one line)
    assert note.startswith("**toy_trainer**: Trains the toy model on the week's listening log.\n")
    assert "Details the description leaves out" not in note
    # on what data: a markdown link to the Dagster run, the partition, the upstream assets
    ((linked_id, url),) = LINK.findall(note)
    assert linked_id == result.run_id and url == f"{DAGSTER_URL}/runs/{result.run_id}"
    assert url == run.data.tags["dagster.run_url"]
    assert "- Partition: `week-1`" in note
    assert "- Inputs: `listening_log`" in note and "- Also depends on: `listener_notes`" in note
    # the gate's verdict, appended once known
    assert note.rstrip().endswith("first version to pass the floors")
    assert f"**Gate: PROMOTED** `{NAME}` v1: reward 0.7123 (no champion before)." in note

    _, refused = _materialize(store, instance, 0.5, "week-2")
    note = refused.data.tags[NOTE_TAG]
    assert "- Partition: `week-2`" in note
    assert f"**Gate: REJECTED** `{NAME}` v2: reward 0.5 (champion v1: 0.7123)." in note
    assert "does not clear the margin" in note and note.count("**Gate:") == 1


def test_float_tags_are_rounded_to_4_significant_digits(store):
    instance = dg.DagsterInstance.ephemeral()
    _materialize(store, instance, 0.7123456, "week-1")
    _, second = _materialize(store, instance, 0.9876543, "week-2")
    client = MlflowClient(store.get().tracking_uri)
    v1, v2 = (client.get_model_version(NAME, v) for v in ("1", "2"))
    assert v1.tags["gate.score.reward"] == "0.7123" and v2.tags["gate.score.reward"] == "0.9877"
    ci = json.loads(v2.tags["gate.difference_ci"])
    assert ci == json.loads(second.data.tags["gate.difference_ci"]) and len(ci) == 2
    assert all(x == float(f"{x:.4g}") for x in ci) and ci[0] == pytest.approx(0.9876543 - 0.7123456, abs=1e-3)
    assert registry.version_score(v1, "reward") == 0.7123  # the gate reads the rounded score back


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (0.812345678, "0.8123"),
        (12345.678, "12350.0"),
        (-0.000123456789, "-0.0001235"),
        (1.23456e-7, "1.235e-07"),
        (3, "3.0"),
        (np.float32(0.1), "0.1"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
    ],
)
def test_tag_value(value, tag):
    assert registry.tag_value(value) == tag
    if math.isfinite(float(value)):
        assert float(tag) == pytest.approx(float(value), rel=5e-4) and registry.rounded(value) == float(tag)


def test_append_note_adds_a_paragraph_and_keeps_under_the_tag_limit(store):
    settings = store.get()
    client = MlflowClient(settings.tracking_uri)
    with registry.start_run("noted", settings=settings, description="what it is") as run:
        assert registry.append_note("**verdict**", client=client) == "what it is\n\n**verdict**"
        long = registry.append_note("x" * 10_000, client=client)
    assert len(long) == MAX_NOTE_CHARS and long.startswith("what it is\n\n**verdict**") and long.endswith("…")
    assert client.get_run(run.info.run_id).data.tags[NOTE_TAG] == long
    with registry.start_run("bare", settings=settings) as bare:
        pass
    assert registry.append_note("only", bare.info.run_id, client=client) == "only"
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        registry.append_note("nowhere", client=client)


@dg.op
def scoring_op(context, mlflow: MlflowResource) -> str:
    """Scores something outside any asset."""
    with mlflow.run(context) as run:
        return run.info.run_id


def test_an_op_run_is_described_too(store):
    @dg.job(resource_defs={"mlflow": MlflowResource(settings=store)})
    def scoring_job():
        scoring_op()

    result = scoring_job.execute_in_process()
    run = MlflowClient(store.get().tracking_uri).get_run(result.output_for_node("scoring_op"))
    note = run.data.tags[NOTE_TAG]
    assert note.startswith("**scoring_op** (op): Scores something outside any asset.")
    assert f"[Dagster run {result.run_id}]({DAGSTER_URL}/runs/{result.run_id})" in note
    assert "- Inputs: none" in note
