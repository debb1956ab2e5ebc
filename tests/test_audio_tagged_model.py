"""The tag model's train-and-register path: a real-set-shaped input (clips with package, side
and genre), the head gated against the zero-shot mapping, the champion (a network over
hand-made features) re-scored on the same held-out clips with a paired CI, the registered
model loaded back through the one loader, and its predictions equal to ``analyze`` on a file.

The clips are the demo synthesiser's, split by invented "packages" (the real Debian set is
assembled at build time and is too large for a test); the numbers on the real set are in
docs/audio.md."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import AUDIO_SMALL, copy_stores

from assets.resources import SettingsResource
from definitions import build_resources
from moodtune import registry
from moodtune.audio.musicnn.vocab import TAG_COLUMNS
from moodtune.audio.tagmodel import LinearHead, TaggedAudioModel
from moodtune.audio.train import genre_report, train_and_register
from moodtune.emotions import GEMS6, GENRES

pytestmark = pytest.mark.slow

# the clips of conftest's AUDIO_SMALL; no genre floor for the invented "real" packages below
AUDIO = AUDIO_SMALL[:-2] + ", gate_floors: {genre_accuracy: 0.0}}}"


@pytest.fixture(scope="module")
def tagged(built_audio, tmp_path_factory):
    # v1: the network, gated on demo clips (conftest's built_audio), on this module's copy of the stores
    base = tmp_path_factory.mktemp("audio_tagged")
    copy_stores(built_audio["base"], base)
    resources = build_resources(
        SettingsResource(
            data_dir=str(base / "data"),
            tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
            overrides_yaml=f"mlflow: {{artifact_root: '{base / 'artifacts'}'}}\naudio: {AUDIO}",
        )
    )
    result = built_audio["result"]
    s = resources["settings"].get()
    clips = result.output_for_node("audio_clips")
    features = result.output_for_node("audio_features")
    assert not result.output_for_node("audio_real_set").shape[0]  # disabled: the demo gate alone
    # two thirds of the clips play the real set (invented packages a: train, b: held out); the
    # rest stay the labelled catalogue, whose training side teaches the heads
    order = clips.groupby("genre").cumcount()
    real = clips.loc[order % 3 != 2, ["track_id", "path", "genre"]].copy()
    real["package"] = real["genre"] + np.where(order[real.index] % 3 == 0, "-a", "-b")
    real["side"] = np.where(order[real.index] % 3 == 0, "train", "heldout")
    with registry.start_run("tagged-test", settings=s):
        report = train_and_register(s, clips, features, real_clips=real, real_features=features)
    return SimpleNamespace(
        s=s, clips=clips, features=features, real=real.set_index("track_id"), report=report
    )


def test_tagged_model_is_registered_and_gated_against_the_rescored_champion(tagged):
    report, s = tagged.report, tagged.s
    assert report.gate.version == "2"
    d = report.gate.decision
    assert d.metric == "genre_accuracy" and d.champion_version == "1" and d.rescore_error is None
    assert d.champion_score is not None and d.difference_ci is not None  # paired per-clip comparison
    assert report.output["floors"] == {
        "genre_accuracy": 0.0
    }  # no scene rows: no emotion floors on real music
    assert not any(k.startswith("scenes.") for k in report.extra["evaluation"].metrics)
    held = tagged.real.index[tagged.real["side"] == "heldout"]
    assert sorted(report.output["heldout_ids"]) == sorted(held) and not set(report.output["train_ids"]) & set(
        held
    )
    champion = registry.load(registry.AUDIO, "1", s)
    expected, _, _ = genre_report(champion.predict_proba(tagged.features.loc[held]), tagged.real["genre"])
    assert d.champion_score == pytest.approx(expected["genre_accuracy"])
    m = report.extra["evaluation"].metrics
    assert {"zero_shot.genre_accuracy", "head.genre_accuracy", "train.genre_accuracy"} <= set(m)
    assert (
        m["genre_accuracy"] == max(m["zero_shot.genre_accuracy"], m["head.genre_accuracy"])
        or m["genre_accuracy"] == m["zero_shot.genre_accuracy"]
    )
    assert int(report.extra["evaluation"].confusion.to_numpy().sum()) == len(held)
    # the catalogue side: no real-set clip, and the emotion head serves only if it beat the mapping
    assert {"catalogue.zero_shot.macro_auc", "catalogue.head.macro_auc", "catalogue.macro_auc"} <= set(m)
    beat = m["catalogue.head.macro_auc"] >= m["catalogue.zero_shot.macro_auc"] + s.audio.gate_margin
    served = registry.load(registry.AUDIO, "2", s)
    n_catalogue = len(tagged.clips) - len(tagged.real)
    assert served.meta["n_catalogue_train"] == n_catalogue - int(
        np.ceil(s.audio.model.test_size * n_catalogue)
    )
    assert (served.emotion_head is not None) == beat
    assert m["catalogue.macro_auc"] == pytest.approx(
        m["catalogue.head.macro_auc" if beat else "catalogue.zero_shot.macro_auc"]
    )
    client = registry.configure(s)
    files = {a.path for a in client.list_artifacts(report.gate.run_id, "evaluation")}
    assert {
        "evaluation/heldout_tracks.csv",
        "evaluation/genre_confusion.csv",
        "evaluation/zero_shot_genre_confusion.csv",
    } <= files


def test_registered_tag_model_loads_and_predicts_like_analyze(tagged):
    model = registry.load(registry.AUDIO, "2", tagged.s)
    assert isinstance(model, TaggedAudioModel) and model.version == "2"
    proba = model.predict_proba(tagged.features)  # what the catalog and the policy call
    assert list(proba.columns) == [*GEMS6, *GENRES] and proba.index.equals(tagged.features.index)
    assert np.allclose(proba[list(GENRES)].sum(axis=1), 1.0)
    emotions = proba[list(GEMS6)]  # independent sigmoids (a confident one may round to 0 or 1)
    assert ((emotions >= 0) & (emotions <= 1)).all().all() and (emotions.std() > 0.01).all()
    held = tagged.report.output["heldout_ids"]
    acc = float((proba.loc[held, list(GENRES)].idxmax(axis=1) == tagged.real.loc[held, "genre"]).mean())
    assert acc == pytest.approx(tagged.report.extra["evaluation"].metrics["genre_accuracy"])
    path = tagged.clips["path"].iloc[0]
    one = model.analyze(path)
    np.testing.assert_allclose(one.to_numpy(dtype=float), proba.iloc[0].to_numpy(dtype=float), atol=1e-6)
    with pytest.raises(Exception, match="lack"):
        model.predict_proba(tagged.features.drop(columns=[TAG_COLUMNS[0]]))


def test_emotion_head_is_one_sigmoid_per_label_and_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    cols = list(TAG_COLUMNS)
    x = pd.DataFrame(rng.uniform(0, 1, (80, len(cols))), columns=cols)
    marks = pd.DataFrame({e: (x[cols[j]] > 0.5).astype(int) for j, e in enumerate(GEMS6)})
    head = LinearHead.fit_labels(x, marks, c=1.0, seed=0)
    p = head.proba(x)
    assert p.shape == (80, 6) and ((p > 0) & (p < 1)).all()
    assert (p.sum(axis=1) != 1).any()  # independent labels, not a softmax
    for j in range(len(GEMS6)):  # each label follows the tag it was made from
        assert np.corrcoef(p[:, j], x[cols[j]])[0, 1] > 0.8
    model = TaggedAudioModel(dict.fromkeys(cols, 0.5), emotion_head=head)
    loaded = TaggedAudioModel.load(model.save(tmp_path))
    np.testing.assert_allclose(loaded.predict_proba(x)[list(GEMS6)].to_numpy(), p)
    with pytest.raises(ValueError, match="emotion head"):
        TaggedAudioModel(
            dict.fromkeys(cols, 0.5),
            emotion_head=LinearHead.fit_labels(x, marks.rename(columns={"power": "anger"}), c=1.0, seed=0),
        )


def test_emotion_head_on_some_labels_leaves_the_rest_to_the_mapping_and_blends_by_its_weight(tmp_path):
    # the scene head (moodtune.audio.scenes) predicts five of the six labels
    rng = np.random.default_rng(1)
    cols = list(TAG_COLUMNS)
    x = pd.DataFrame(rng.uniform(0, 1, (60, len(cols))), columns=cols)
    labels = ["calmness", "sadness"]
    head = LinearHead.fit_labels(
        x, pd.DataFrame({e: (x[cols[j]] > 0.5).astype(int) for j, e in enumerate(labels)}), c=1.0, seed=0
    )
    base = dict.fromkeys(cols, 0.5)
    mapping = TaggedAudioModel(base).predict_proba(x)
    replaced = TaggedAudioModel(base, emotion_head=head).predict_proba(x)
    np.testing.assert_allclose(replaced[labels].to_numpy(), head.proba(x))
    others = [g for g in GEMS6 if g not in labels]
    pd.testing.assert_frame_equal(replaced[others], mapping[others])
    blended = TaggedAudioModel(base, emotion_head=head, emotion_weight=0.25)
    np.testing.assert_allclose(
        blended.predict_proba(x)[labels].to_numpy(), 0.25 * head.proba(x) + 0.75 * mapping[labels].to_numpy()
    )
    loaded = TaggedAudioModel.load(blended.save(tmp_path))
    assert loaded.emotion_weight == 0.25
    pd.testing.assert_frame_equal(loaded.predict_proba(x), blended.predict_proba(x))
    with pytest.raises(ValueError, match="emotion_weight"):
        TaggedAudioModel(base, emotion_head=head, emotion_weight=0.0)


def test_zero_shot_mapping_reads_base_rate_ratios():
    tags = pd.DataFrame([[0.2] * len(TAG_COLUMNS), [0.2] * len(TAG_COLUMNS)], columns=list(TAG_COLUMNS))
    tags.loc[1, "mtt.classical"] = 0.8  # four times its base rate
    base = dict.fromkeys(TAG_COLUMNS, 0.2)
    model = TaggedAudioModel(base)
    p = model.predict_proba(tags)
    assert np.allclose(p.loc[0, list(GEMS6)], 0.5) and np.allclose(p.loc[0, list(GENRES)], 0.25)
    assert p.loc[1, list(GENRES)].idxmax() == "classical" and p.loc[1, "classical"] > 0.3
    assert np.isclose(p.loc[1, list(GENRES)].sum(), 1.0)
    # a tag twice as rare at the same probability counts twice as much
    rare = TaggedAudioModel({**base, "mtt.techno": 0.1}).predict_proba(tags.iloc[:1])
    assert rare.loc[0, "electronic"] > p.loc[0, "electronic"]


def test_genre_is_scored_per_track_from_the_mean_of_its_clips():
    # a track read as several clips (audio.real_set.clips_per_track) gets one genre: the mean of
    # its clips' probabilities; the per-clip accuracy is reported beside it
    rows = {
        "real:p:a:0": [0.6, 0.0, 0.4, 0.0],
        "real:p:a:1": [0.6, 0.0, 0.4, 0.0],
        "real:p:a:2": [0.0, 0.0, 1.0, 0.0],
        "real:p:b:0": [0.1, 0.0, 0.1, 0.8],
    }
    proba = pd.DataFrame.from_dict(rows, orient="index", columns=list(GENRES))
    for g in GEMS6:
        proba[g] = 0.5
    truth = pd.Series(
        {"real:p:a:0": "rock", "real:p:a:1": "rock", "real:p:a:2": "rock", "real:p:b:0": "electronic"}
    )
    metrics, confusion, table = genre_report(proba, truth)
    assert list(table.index) == ["real:p:a", "real:p:b"]
    assert table.loc["real:p:a", "rock"] == pytest.approx(0.6)  # (0.4 + 0.4 + 1.0) / 3 beats classical's 0.4
    assert table["correct"].tolist() == [1.0, 1.0] and metrics["genre_accuracy"] == 1.0
    assert metrics["clips.genre_accuracy"] == pytest.approx(0.5) and metrics["n_tracks"] == 2
    assert int(confusion.to_numpy().sum()) == 2
