"""The policy on the real catalog (moodtune/policy/realcatalog.py): the songs' truth is their
profile plus a fixed per-song offset; A2C is trained and evaluated there by Dagster against the
baselines and the oracle, the table logged to MLflow. On the small stack its catalog is the demo
one (no apt in the stack); make up runs it on the Debian catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from moodtune.emotions import GEMS6, GENRES
from moodtune.policy.realcatalog import catalog_truth


def _catalog(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((n, len(GEMS6))), columns=list(GEMS6))
    genres = rng.dirichlet(np.ones(len(GENRES)), n)
    for j, g in enumerate(GENRES):
        table[g] = genres[:, j]
    table["track_id"] = [f"t{i}" for i in range(n)]
    table["label_genre"] = ["rock"] * 5 + [None] * (n - 5)
    return table


def test_the_truth_is_the_profile_plus_a_fixed_per_song_offset():
    catalog = _catalog()
    a, b = catalog_truth(catalog, seed=3, noise=0.15), catalog_truth(catalog, seed=3, noise=0.15)
    pd.testing.assert_frame_equal(a, b)  # fixed: the same songs, the same truth
    offset = a[list(GEMS6)].to_numpy() - catalog[list(GEMS6)].to_numpy()
    inside = (a[list(GEMS6)].to_numpy() > 0) & (a[list(GEMS6)].to_numpy() < 1)
    assert 0.10 < offset[inside].std() < 0.20 and np.abs(offset).max() > 0
    assert (a["genre"][:5] == "rock").all()  # the package's label where there is one ...
    heard = np.asarray(GENRES)[catalog[list(GENRES)].to_numpy().argmax(axis=1)]
    assert (a["genre"][5:].to_numpy() == heard[5:]).all()  # ... else what the model hears
    assert not catalog_truth(catalog, seed=4, noise=0.15).equals(a)


@pytest.mark.slow
def test_the_policy_trains_and_is_evaluated_on_the_catalog(policy_stack):
    from dagster import AssetSelection, load_assets_from_package_module, materialize
    from mlflow.tracking import MlflowClient

    import assets
    from assets.resources import SettingsResource
    from definitions import build_resources

    old = policy_stack["settings_resource"]
    # a short training: this checks the path (songs, listeners, baselines, MLflow), not the policy
    overrides = yaml.safe_load(old.overrides_yaml)
    overrides["policy"].update(timesteps=3000, eval_sessions=40, oracle_beam=4, warm_start_sessions=200)
    quick = SettingsResource(data_dir=old.data_dir, tracking_uri=old.tracking_uri, overrides_yaml=yaml.safe_dump(overrides))
    result = materialize(load_assets_from_package_module(assets), resources=build_resources(quick),
                         selection=AssetSelection.assets("real_catalog_policy_evaluation"))
    assert result.success
    table = result.output_for_node("real_catalog_policy_evaluation")
    policies = set(table["policy"])
    assert {"a2c_session", "oracle", "iso_heuristic", "greedy_calm", "random", "supervised"} <= policies
    mean = table.groupby("policy")["mean_reward"].mean()
    assert mean["oracle"] > mean["random"]  # the planner uses the truth: it must beat chance
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    run = MlflowClient(policy_stack["settings"].tracking_uri).get_run(meta["mlflow_run_id"].value)
    assert "real_catalog.a2c_over_oracle" in run.data.metrics
    assert meta["songs"].value == len(pd.read_parquet(policy_stack["settings"].data_path("catalog", "catalog.parquet")))
