"""The ``serving`` group: the champions and the catalog imported into the BentoML model store."""

from __future__ import annotations

from dagster import MetadataValue, asset

from assets.resources import SettingsResource
from moodtune.registry.names import CATALOG_ASSET, TRAINING_ASSETS

UPSTREAM = [*TRAINING_ASSETS, CATALOG_ASSET]  # every model's training asset (registry.MODELS) and the catalog


@asset(group_name="serving", compute_kind="bentoml", deps=UPSTREAM)
def bento_models(context, settings: SettingsResource) -> dict:
    """Every registry champion (``registry.MODELS``) and the catalog as BentoML models
    (``python -m bento.models`` does the same): what ``bentoml serve``/``bentoml build`` use.
    Fails naming any champion that does not exist yet."""
    import bentoml

    from bento.models import import_all

    s = settings.get()
    imported = import_all(s, report=lambda item: context.log.info(f"{item.action}: {item.tag}"))
    store = str(bentoml.models.get(imported[0].tag).path).rsplit("/", 2)[0] if imported else ""
    context.add_output_metadata(
        {
            "models": MetadataValue.md(
                "| model | BentoML tag | registry version | action |\n|---|---|---|---|\n"
                + "\n".join(f"| {i.name} | {i.tag} | {i.version} | {i.action} |" for i in imported)
            ),
            "store": store,
            "imported": sum(i.action != "present" for i in imported),
        }
    )
    return {i.name: i.tag for i in imported}
