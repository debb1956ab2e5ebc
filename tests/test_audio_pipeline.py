"""The audio group end to end on a small demo set: a registered, promoted champion with its
held-out scores; a crippled config that the gate rejects; identical predictions through the
CLI and the registered MLflow model; and clear errors when there is no model."""

from __future__ import annotations

import json
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import AUDIO_SMALL, audio_group, copy_stores
from dagster import materialize

from assets.resources import SettingsResource
from definitions import build_resources
from moodtune import registry
from moodtune.audio import REGISTERED_MODEL
from moodtune.audio.features import extract_features
from moodtune.audio.model import OUTPUT_COLUMNS
from moodtune.cli import main
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput, ModelNotFound
from moodtune.settings import get_settings, load_settings

pytestmark = pytest.mark.slow

SMALL = AUDIO_SMALL
GROUP = audio_group()  # the group conftest's built_audio materializes


def _resources(base, audio_yaml: str):
    return build_resources(
        SettingsResource(
            data_dir=str(base / "data"),
            tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
            overrides_yaml=f"mlflow: {{artifact_root: '{base / 'artifacts'}'}}\naudio: {audio_yaml}",
        )
    )


@pytest.fixture(scope="module")
def built(built_audio, tmp_path_factory):
    """The audio group materialized on a small demo set (conftest's ``built_audio``, SMALL), on
    this module's copy of its stores."""
    base = tmp_path_factory.mktemp("audio_group")
    copy_stores(built_audio["base"], base)
    resources = _resources(base, SMALL)
    return SimpleNamespace(base=base, result=built_audio["result"], settings=resources["settings"].get())


@pytest.fixture
def store(built, monkeypatch):
    """Point the environment (CLI, get_settings) at the built stores."""
    monkeypatch.setenv("MOODTUNE_DATA_DIR", str(built.base / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{built.base / 'mlflow.db'}")
    monkeypatch.setenv("MOODTUNE_MLFLOW__ARTIFACT_ROOT", str(built.base / "artifacts"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_audio_group_registers_a_promoted_champion_above_the_floor(built):
    result, s = built.result, built.settings
    assert result.success
    summary = result.output_for_node("audio_emotion_model")
    floors = s.audio.gate_floors
    assert summary["version"] == "1" and summary["promoted"], summary["reason"]
    assert summary["metrics"]["macro_auc"] >= floors["macro_auc"]
    assert summary["metrics"]["genre_accuracy"] >= floors["genre_accuracy"]
    assert all(np.isfinite(summary["metrics"][f"auc.{e}"]) for e in GEMS6)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {
        "audio_features_have_no_nan": True,
        "audio_label_balance": True,
        "audio_model_auc_above_floor": True,
        "audio_emotion_model_challenger_promoted": True,  # declared on the asset: runs with it
    }

    # the held-out split is stratified by genre and disjoint from training
    clips = result.output_for_node("audio_clips").set_index("track_id")
    held, trained = summary["heldout_ids"], summary["train_ids"]
    assert not set(held) & set(trained) and len(held) + len(trained) == len(clips) == 96
    assert clips.loc[held, "genre"].value_counts().to_dict() == dict.fromkeys(GENRES, 6)

    client = registry.configure(s)
    champion = registry.champion(REGISTERED_MODEL, s)
    assert champion is not None and str(champion.version) == "1"
    assert champion.tags["gate.decision"] == "promoted"
    run = client.get_run(champion.run_id)
    assert run.data.metrics["macro_auc"] == pytest.approx(summary["metrics"]["macro_auc"])
    assert {"genre_accuracy", "macro_f1", "auc.sadness", "f1.power", "train_loss"} <= set(run.data.metrics)
    assert run.data.params["audio.model.epochs"] == str(s.audio.model.epochs)
    curve = client.get_metric_history(champion.run_id, "train_loss")
    assert len(curve) == s.audio.model.epochs and curve[-1].value < curve[0].value
    plots = {a.path for a in client.list_artifacts(champion.run_id, "plots")}
    assert {"plots/genre_confusion.png", "plots/training_curve.png"} <= plots
    info = mlflow.models.get_model_info(f"models:/{REGISTERED_MODEL}/1")
    assert info.signature is not None and info.saved_input_example_info is not None
    assert [c.name for c in info.signature.outputs.inputs] == list(OUTPUT_COLUMNS)


def test_a_crippled_config_is_not_promoted(built):
    s = built.settings
    crippled = _resources(built.base, SMALL[:-1] + ", model: {epochs: 0}}")
    result = materialize(GROUP, resources=crippled)
    assert result.success
    summary = result.output_for_node("audio_emotion_model")
    assert summary["version"] == "2" and not summary["promoted"]
    assert "below floors" in summary["reason"] and summary["metrics"]["macro_auc"] < 0.75
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["audio_model_auc_above_floor"] is False
    assert checks["audio_emotion_model_challenger_promoted"] is False  # the gate refused it
    # the same clips: every feature came from the content-hash cache
    meta = result.asset_materializations_for_node("audio_features")[0].metadata
    assert meta["cache_hits"].value == 96 and meta["computed"].value == 0
    assert str(registry.champion(REGISTERED_MODEL, s).version) == "1"
    challenger = registry.get_alias(REGISTERED_MODEL, s.registry.challenger_alias, s)
    assert str(challenger.version) == "2" and challenger.tags["gate.decision"] == "rejected"
    # the refused challenger loads through the one loader, by alias (this test registers it: the
    # order of the tests is random, so no other test may count on it)
    assert registry.load(registry.AUDIO, "challenger", s).version == "2"


def test_cli_and_registered_mlflow_model_give_identical_predictions(built, store, capsys):
    clip = built.result.output_for_node("audio_clips")["path"].iloc[5]
    assert main(["analyze-audio", clip, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["model_version"] == "1" and printed["file"] == clip

    pyfunc = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@champion")
    features = pd.DataFrame([extract_features(clip, store.audio.features, store.audio.decode)])
    expected = pyfunc.predict(features).iloc[0]
    assert list(expected.index) == list(OUTPUT_COLUMNS)
    for e in GEMS6:
        assert printed["emotions"][e] == float(expected[e])
    for g in GENRES:
        assert printed["genres"][g] == float(expected[g])
    assert printed["genre"] == expected[list(GENRES)].idxmax()
    assert sum(printed["genres"].values()) == pytest.approx(1.0)

    assert main(["analyze-audio", clip]) == 0
    text = capsys.readouterr().out
    assert f"genre: {printed['genre']}" in text and "emotions:" in text and "v1" in text


def test_cli_reports_bad_files_and_keeps_going(built, store, capsys, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_text("not audio")
    clip = built.result.output_for_node("audio_clips")["path"].iloc[0]
    assert main(["analyze-audio", str(bad), clip]) == 2
    out = capsys.readouterr()
    assert "broken.mp3 is not audio" in out.err and "genre:" in out.out


def test_audio_model_from_registry_predicts_probabilities(built, store):
    model = registry.load(registry.AUDIO, None, store)
    assert model.version == "1"
    features = built.result.output_for_node("audio_features")
    summary = built.result.output_for_node("audio_emotion_model")
    held = features.loc[summary["heldout_ids"]]
    proba = model.predict_proba(held.iloc[:, ::-1])  # column order does not matter
    assert list(proba.columns) == list(GEMS6) + list(GENRES) and proba.index.equals(held.index)
    assert np.allclose(proba[list(GENRES)].sum(axis=1), 1.0)
    assert ((proba[list(GEMS6)] > 0) & (proba[list(GEMS6)] < 1)).all().all()
    clips = built.result.output_for_node("audio_clips").set_index("track_id")
    accuracy = float((model.predict_genre(held) == clips.loc[held.index, "genre"]).mean())
    assert accuracy == pytest.approx(summary["metrics"]["genre_accuracy"])
    with pytest.raises(InvalidInput, match="lack"):
        model.predict_proba(held.drop(columns=["tempo"]))


def test_no_model_is_a_clear_error(settings, capsys, tmp_path):
    with pytest.raises(ModelNotFound, match="group:audio"):
        registry.load(registry.AUDIO, None, settings)
    clip = tmp_path / "x.wav"
    clip.write_bytes(b"")
    assert main(["analyze-audio", str(clip)]) == 2
    assert "no champion for 'moodtune-audio'" in capsys.readouterr().err
    assert load_settings().audio.gate_floors["macro_auc"] > 0.5
