"""Jobs that (re)build asset groups; DVC stages and ``make up`` call the same selections."""

from dagster import AssetSelection, define_asset_job

all_assets_job = define_asset_job(
    "all_assets_job",
    selection=AssetSelection.all() - AssetSelection.groups("retraining"),
    description="Build every asset from raw data to registered models (retraining runs from its sensor).",
)

taxonomy_job = define_asset_job("taxonomy_job", selection=AssetSelection.groups("taxonomy"))
