"""The songs' truth (moodtune/policy/songs.py) and the demo catalog's policy study
(assets/policy_demo.py). The served policy trains on the served catalog: on the small stack the
demo clips (catalog.source demo), on make up the Debian catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from moodtune.emotions import GEMS6, GENRES
from moodtune.policy.songs import labelled_share, song_truth


def _heard(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((n, len(GEMS6))), columns=list(GEMS6), index=[f"t{i}" for i in range(n)])
    genres = rng.dirichlet(np.ones(len(GENRES)), n)
    for j, g in enumerate(GENRES):
        table[g] = genres[:, j]
    return table


def _tracks(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"track_id": [f"t{i}" for i in range(n)], "genre": ["rock"] * 5 + [None] * (n - 5)})


def test_a_real_songs_truth_is_its_profile_plus_a_fixed_per_song_offset():
    heard, tracks = _heard(), _tracks()
    a, b = song_truth(tracks, heard, seed=3, noise=0.15), song_truth(tracks, heard, seed=3, noise=0.15)
    pd.testing.assert_frame_equal(a, b)  # fixed: the same songs, the same truth
    offset = a[list(GEMS6)].to_numpy() - heard[list(GEMS6)].to_numpy()
    inside = (a[list(GEMS6)].to_numpy() > 0) & (a[list(GEMS6)].to_numpy() < 1)
    assert 0.10 < offset[inside].std() < 0.20 and np.abs(offset).max() > 0
    assert (a["genre"][:5] == "rock").all()  # the package's label where there is one ...
    heard_genre = np.asarray(GENRES)[heard[list(GENRES)].to_numpy().argmax(axis=1)]
    assert (a["genre"][5:].to_numpy() == heard_genre[5:]).all()  # ... else what the model hears
    assert not song_truth(tracks, heard, seed=4, noise=0.15).equals(a)
    # per song: another order, or fewer songs, leaves each song's truth as it was
    subset = song_truth(tracks, heard.iloc[::-2], seed=3, noise=0.15).set_index("track_id")
    pd.testing.assert_frame_equal(subset, a.set_index("track_id").loc[subset.index])
    assert labelled_share(tracks) == 0.0


def test_a_labelled_songs_truth_is_its_labels_whatever_the_model_hears():
    heard, tracks = _heard(), _tracks()
    marks = np.eye(len(GEMS6))[np.arange(20) % len(GEMS6)]
    labelled = tracks.assign(**{e: marks[:, j] for j, e in enumerate(GEMS6)}, genre=["classical"] * 20)
    labelled.loc[3, "sadness"] = np.nan  # one song without a full label set: profile + offset
    truth = song_truth(labelled, heard, seed=3, noise=0.15)
    keep = np.arange(20) != 3
    np.testing.assert_array_equal(truth[list(GEMS6)].to_numpy()[keep], marks[keep])
    assert not np.array_equal(truth[list(GEMS6)].to_numpy()[3], marks[3])
    assert (truth["genre"] == "classical").all() and list(truth["track_id"]) == list(heard.index)
    assert labelled_share(labelled) == pytest.approx(0.95)


def test_the_served_policy_is_trained_on_the_served_catalogs_songs(policy_stack):
    spec = policy_stack["result"].output_for_node("recommendation_env")
    catalog_ids = set(policy_stack["result"].output_for_node("catalog_tracks")["track_id"].astype(str))
    assert set(spec.track_ids) == catalog_ids
    meta = policy_stack["result"].asset_materializations_for_node("listener_ratings")[0].metadata
    assert meta["songs_truth"].value == "labels" and meta["songs"].value == len(catalog_ids)  # the demo clips


@pytest.mark.slow
def test_the_demo_study_trains_and_evaluates_under_both_dynamics(policy_stack):
    from dagster import AssetSelection, load_assets_from_package_module, materialize
    from mlflow.tracking import MlflowClient

    import assets
    from assets.resources import SettingsResource
    from definitions import build_resources

    old = policy_stack["settings_resource"]
    # a short training: this checks the path (songs, listeners, baselines, MLflow), not the policy
    overrides = yaml.safe_load(old.overrides_yaml)
    overrides["policy"].update(timesteps=800, eval_sessions=40, oracle_beam=4)
    overrides["policy"]["seed_bandit"]["timesteps"] = 400
    overrides["policy"]["warm_start"].update(sessions=100, epochs=10)
    quick = SettingsResource(
        data_dir=old.data_dir, tracking_uri=old.tracking_uri, overrides_yaml=yaml.safe_dump(overrides)
    )
    result = materialize(
        load_assets_from_package_module(assets),
        resources=build_resources(quick),
        selection=AssetSelection.assets("demo_policy_evaluation"),
    )
    assert result.success
    table = result.output_for_node("demo_policy_evaluation")
    assert set(table["dynamics"]) == {"iso", "taste"}
    policies = set(table["policy"])
    assert {"a2c_session", "oracle", "iso_heuristic", "greedy_calm", "random", "supervised"} <= policies
    mean = table[table["dynamics"] == "iso"].groupby("policy")["mean_reward"].mean()
    assert mean["oracle"] > mean["random"]  # the planner uses the truth: it must beat chance
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    for dynamics in ("iso", "taste"):
        assert all(name in meta[f"summary_{dynamics}_dynamics"].value for name in ("a2c_session", "oracle"))
    assert set(meta["targets"].value) == {"iso", "taste"}
    assert "session_taste_seed0" in meta["learning_curves"].value
    assert meta["a2c_over_oracle"].value == pytest.approx(mean["a2c_session"] / mean["oracle"])
    run = MlflowClient(policy_stack["settings"].tracking_uri).get_run(meta["mlflow_run_id"].value)
    assert "a2c_over_oracle" in run.data.metrics and "taste.a2c_over_oracle" in run.data.metrics
    assert run.data.params["evaluation.dynamics"] == "iso"
