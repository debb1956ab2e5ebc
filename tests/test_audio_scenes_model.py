"""The tag model's emotions checked on scene-labelled rows (issue #28): candidates (the mapping, the
scene head, their blend) measured on the held-out packages through the product's valence-arousal
point, the winner served, the figures logged with the model's run and gated as floors.

The rows are the demo synthesiser's clips split by invented packages, their class from the emotion
they were made with (the real Debian set is assembled at build time; its figures are in
docs/audio.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import AUDIO_SMALL, copy_stores

from assets.resources import SettingsResource
from definitions import build_resources
from moodtune import registry
from moodtune.audio import scenes
from moodtune.audio.train import train_and_register
from moodtune.emotions import GEMS6

pytestmark = pytest.mark.slow

CLASS_OF = {"power": "high", "tension": "high", "calmness": "low", "tenderness": "low", "sadness": "sad"}


def _settings(base, scene_floors: str):
    audio = (
        AUDIO_SMALL[:-2]
        + f", gate_floors: {{genre_accuracy: 0.0}}, scenes: {{gate_floors: {scene_floors}}}}}}}"
    )
    resources = build_resources(
        SettingsResource(
            data_dir=str(base / "data"),
            tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
            overrides_yaml=f"mlflow: {{artifact_root: '{base / 'artifacts'}'}}\naudio: {audio}",
        )
    )
    return resources["settings"].get()


def _rows(clips: pd.DataFrame, features: pd.DataFrame):
    """Genre rows (two invented packages per genre) and scene rows (two per class)."""
    order = clips.groupby("genre").cumcount()
    genre = clips.loc[order % 2 == 0, ["track_id", "path", "genre"]].copy()
    genre["package"] = genre["genre"] + np.where(order[genre.index] % 4 == 0, "-a", "-b")
    genre["side"] = np.where(order[genre.index] % 4 == 0, "train", "heldout")
    genre["set"] = "genre"
    primary = clips.set_index("track_id")[list(GEMS6)].idxmax(axis=1).map(CLASS_OF).dropna()
    scene = pd.DataFrame({"source_id": primary.index, "scene": primary.to_numpy()})
    k = scene.groupby("scene").cumcount()
    scene["side"] = np.where(k % 2 == 0, "train", "heldout")
    scene["package"] = "scenes-" + scene["side"]
    scene["track_id"] = "scene:" + scene["package"] + ":" + scene["source_id"].str.replace(":", "_") + ":0"
    scene["path"] = scene["source_id"].map(clips.set_index("track_id")["path"])
    scene["genre"], scene["set"] = None, scenes.SET
    scene_features = features.loc[scene["source_id"]].set_axis(
        pd.Index(scene["track_id"], name=features.index.name)
    )
    real = pd.concat([genre, scene.drop(columns="source_id")], ignore_index=True)
    return real, pd.concat([features, scene_features]), scene.set_index("track_id")


@pytest.fixture(scope="module")
def scened(built_audio, tmp_path_factory):
    base = tmp_path_factory.mktemp("audio_scenes")
    copy_stores(built_audio["base"], base)
    s = _settings(base, "{arousal_auc: 0.0, valence_auc: 0.0}")
    result = built_audio["result"]
    clips, features = result.output_for_node("audio_clips"), result.output_for_node("audio_features")
    real, real_features, scene = _rows(clips, features)
    with registry.start_run("scenes-test", settings=s):
        report = train_and_register(s, clips, features, real_clips=real, real_features=real_features)
    return {
        "base": base,
        "s": s,
        "clips": clips,
        "features": features,
        "real": real,
        "real_features": real_features,
        "scene": scene,
        "report": report,
    }


def test_scene_figures_are_measured_per_candidate_and_the_winner_serves(scened):
    report, s, scene = scened["report"], scened["s"], scened["scene"]
    m = report.extra["evaluation"].metrics
    means = {
        c: (m[f"scenes.{c}.arousal_auc"] + m[f"scenes.{c}.valence_auc"]) / 2
        for c in ("base", "head", "blend")
    }
    best = max(means, key=means.get)
    chosen = best if means[best] >= means["base"] + s.audio.gate_margin else "base"
    for k in ("arousal_auc", "valence_auc"):
        assert m[f"scenes.{k}"] == pytest.approx(m[f"scenes.{chosen}.{k}"])
    # the registered model's own predictions give the logged figures, through the product's point
    model = registry.load(registry.AUDIO, report.gate.version, s)
    held = scene.index[scene["side"] == "heldout"]
    again, _table = scenes.scene_metrics(
        model.predict_proba(scened["real_features"].loc[held]), scene.loc[held, "scene"]
    )
    assert again["arousal_auc"] == pytest.approx(m["scenes.arousal_auc"])
    assert again["valence_auc"] == pytest.approx(m["scenes.valence_auc"])
    for c in scenes.CLASSES:
        assert m[f"scenes.tracks.{c}"] == (scene.loc[held, "scene"] == c).sum()
        assert m[f"scenes.valence.{c}"] == pytest.approx(again[f"valence.{c}"])
    emotions = {"head": "scene head", "blend": "scene head x"}.get(chosen)
    assert (emotions in model.meta["emotions"]) if emotions else ("scene head" not in model.meta["emotions"])
    if chosen == "base":  # the mapping or the catalogue's head (all six labels)
        assert model.emotion_head is None or model.emotion_head.classes == list(GEMS6)
    else:
        assert model.emotion_head.classes == scenes.rule().labels
    # the synthesiser's emotions are learnt from the training packages: the head ranks the held-out
    # ones better than chance (1.0 and 0.675 here: the tags hear the demo's sad clips poorly)
    assert m["scenes.head.arousal_auc"] > 0.8 and m["scenes.head.valence_auc"] > 0.6


def test_scene_figures_are_gate_floors_logged_with_the_run(scened):
    report, s = scened["report"], scened["s"]
    assert report.output["floors"] == {
        "genre_accuracy": 0.0,
        "scenes.arousal_auc": 0.0,
        "scenes.valence_auc": 0.0,
    }
    assert "below floors" not in report.gate.decision.reason  # met; the champion comparison decides
    assert {"scenes.arousal_auc", "scenes.valence_auc"} <= set(report.gate.scores)
    client = registry.configure(s)
    run = client.get_run(report.gate.run_id)
    assert run.data.metrics["scenes.arousal_auc"] == pytest.approx(
        report.extra["evaluation"].metrics["scenes.arousal_auc"]
    )
    files = {a.path for a in client.list_artifacts(report.gate.run_id, "evaluation")}
    assert {"evaluation/scene_heldout_tracks.csv", "evaluation/scene_candidates.csv"} <= files


def test_a_scene_figure_below_its_floor_refuses_the_version(scened, tmp_path):
    copy_stores(scened["base"], tmp_path)
    s = _settings(tmp_path, "{arousal_auc: 0.0, valence_auc: 1.01}")
    with registry.start_run("scenes-floor-test", settings=s):
        report = train_and_register(
            s,
            scened["clips"],
            scened["features"],
            real_clips=scened["real"],
            real_features=scened["real_features"],
        )
    d = report.gate.decision
    assert not d.promoted and "scenes.valence_auc" in d.reason and "below floor 1.01" in d.reason
