"""The ``taxonomy`` group: the emotion space every other stage speaks in."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, MetadataValue, asset, asset_check

from assets.resources import MlflowResource
from moodtune import emotions, registry


@asset(group_name="taxonomy", compute_kind="python")
def emotion_taxonomy(context, mlflow: MlflowResource) -> pd.DataFrame:
    """Every mapping from GEMS, Emotic and FER labels into the 21 DLUT categories, with weights."""
    table = pd.DataFrame(emotions.taxonomy_rows())
    with mlflow.run(context):
        registry.log_params({"taxonomies": ",".join(emotions.TAXONOMY_NAMES)})
        registry.log_metrics({f"labels.{t}": len(emotions.labels(t)) for t in emotions.TAXONOMY_NAMES})
        registry.log_dataframe(table, "taxonomy/emotion_taxonomy.csv")
    per_taxonomy = table.groupby("taxonomy")["label"].nunique().to_dict()
    context.add_output_metadata(
        {
            "rows": len(table),
            "labels_per_taxonomy": MetadataValue.json(per_taxonomy),
            "dlut_categories": len(emotions.DLUT_CODES),
            "preview": MetadataValue.md(table.head(30).to_markdown(index=False)),
        }
    )
    return table


@asset_check(asset=emotion_taxonomy, description="each source label's DLUT weights sum to 1")
def taxonomy_weights_sum_to_one(emotion_taxonomy: pd.DataFrame) -> AssetCheckResult:
    sums = emotion_taxonomy.groupby(["taxonomy", "label"])["weight"].sum()
    bad = sums[(sums - 1.0).abs() > 1e-9]
    return AssetCheckResult(
        passed=bad.empty,
        metadata={
            "labels_checked": len(sums),
            "bad_labels": MetadataValue.json({f"{t}/{label}": w for (t, label), w in bad.items()}),
        },
    )
