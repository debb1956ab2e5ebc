"""Jobs that (re)build asset groups; DVC stages and ``make up`` call the same selections."""

from dagster import AssetSelection, define_asset_job

all_assets_job = define_asset_job(
    "all_assets_job",
    # retraining runs from its sensor; library is partitioned by shard of audio.music_dir (a job
    # holding it would need a partition key for every run)
    selection=AssetSelection.all() - AssetSelection.groups("retraining", "library"),
    description="Build every asset from raw data to registered models (retraining runs from its sensor, "
    "the music library shard by shard).",
)

taxonomy_job = define_asset_job("taxonomy_job", selection=AssetSelection.groups("taxonomy"))
