"""The ``policy_real`` group: the policy trained and evaluated over the real catalog's songs
(moodtune/policy/realcatalog.py; docs/policy.md#on-the-real-catalog)."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from assets.resources import MlflowResource, SettingsResource
from moodtune.policy import pipeline, realcatalog


@asset(group_name="policy_real", compute_kind="stable-baselines3", deps=["policy_evaluation"])
def real_catalog_policy_evaluation(context: AssetExecutionContext, settings: SettingsResource,
                                   mlflow: MlflowResource, catalog: pd.DataFrame,
                                   recommendation_env: pipeline.EnvSpec) -> pd.DataFrame:
    """A2C trained and evaluated on the real catalog's songs (their truth: the champion's profile
    plus a fixed per-song offset), against every baseline and the planning oracle on held-out
    listeners, per seed; the demo catalog's table is policy_evaluation's."""
    s = settings.get()
    with mlflow.run(context):
        out = realcatalog.train_and_evaluate(s, catalog, recommendation_env, s.data_path("policy", "real_catalog"),
                                             log=context.log.info)
    context.add_output_metadata({
        "songs": out["songs"], "train_seconds": round(out["train_seconds"], 1),
        "summary": MetadataValue.md(out["summary"].round(3).to_markdown(index=False)),
        "targets": MetadataValue.json(out["targets"]),
        **{k: float(v) for k, v in out["targets"].items() if isinstance(v, float)},
    })
    return out["table"]
