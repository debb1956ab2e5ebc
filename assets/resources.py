"""Dagster resources: each a small class around one moodtune part.

``SettingsResource`` (params.yaml + overrides), ``MlflowResource`` (runs in the project's
experiment), ``FeedbackStoreResource`` (the SQLAlchemy feedback store) and
``StoredOutputsIOManager`` (assets' outputs under ``<data_dir>/assets``). None reads the
settings when it is constructed: ``SettingsResource`` reads them when Dagster initializes it for a
run (or sensor tick), once, so the environment and params.yaml at that moment decide for the
whole run, and the next run reads them again. Tests build the same classes with a temp data dir and a
temp SQLite MLflow store (``definitions.build_resources``); every part they stand for runs here
for real, so there is no stand-in implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from dagster import (
    ConfigurableResource,
    FilesystemIOManager,
    InitResourceContext,
    InputContext,
    IOManager,
    OutputContext,
)
from pydantic import PrivateAttr

from moodtune import registry
from moodtune.feedback import FeedbackStore, open_store
from moodtune.portable import from_portable, to_portable
from moodtune.settings import Settings, load_settings


class SettingsResource(ConfigurableResource):
    """moodtune settings from ``params.yaml`` plus optional overrides, read once per run.

    ``overrides_yaml`` holds nested overrides as YAML text, e.g. ``"audio: {clip_seconds: 2}"``.
    Dagster initializes a copy of the resource for each run (each step process, under the
    multiprocess executor; each sensor tick): :meth:`setup_for_execution` loads the settings
    there and :meth:`get` returns that same object for the rest of the run, so an edit of
    params.yaml mid-run is seen by the next run, not by this one's later assets. Outside a run
    (the resource used directly, not initialized by Dagster) :meth:`get` reads them each call.
    """

    params_path: str | None = None
    data_dir: str | None = None
    tracking_uri: str | None = None
    overrides_yaml: str = ""

    _loaded: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._loaded = self.load()

    def get(self) -> Settings:
        """The run's settings (read when the run initialized the resource)."""
        return self._loaded if self._loaded is not None else self.load()

    def load(self) -> Settings:
        """Read params.yaml (or ``params_path``) with this resource's overrides, now."""
        overrides: dict[str, Any] = yaml.safe_load(self.overrides_yaml) or {}
        if self.data_dir:
            overrides.setdefault("project", {})["data_dir"] = self.data_dir
        if self.tracking_uri:
            overrides.setdefault("mlflow", {})["tracking_uri"] = self.tracking_uri
        return load_settings(self.params_path, overrides=overrides)

    def with_overrides(self, text: str) -> SettingsResource:
        """This resource with ``text``'s nested overrides merged over its own (a key of both:
        ``text`` wins; sections merge key by key)."""

        def merge(base: dict, extra: dict) -> dict:
            out = dict(base)
            for key, value in extra.items():
                out[key] = (
                    merge(out[key], value)
                    if isinstance(value, dict) and isinstance(out.get(key), dict)
                    else value
                )
            return out

        merged = merge(yaml.safe_load(self.overrides_yaml) or {}, yaml.safe_load(text) or {})
        # a new resource, not a pydantic copy: Dagster re-creates a resource for each run from the
        # config it was constructed with, so a copy's changed field would be lost there
        return SettingsResource(
            params_path=self.params_path,
            data_dir=self.data_dir,
            tracking_uri=self.tracking_uri,
            overrides_yaml=yaml.safe_dump(merged),
        )


class MlflowResource(ConfigurableResource):
    """Opens MLflow runs in the project's experiment, tagged with the Dagster run and asset."""

    settings: SettingsResource

    def get_settings(self) -> Settings:
        return self.settings.get()

    @contextmanager
    def run(self, context, run_name: str | None = None, *, link: bool = True) -> Iterator[Any]:
        """An MLflow run for this asset execution, described in markdown (:func:`run_description`;
        the gate appends its verdict); yields the ``mlflow.ActiveRun``. With ``link`` the asset's
        materialization gains the run's link and plots; a gated asset leaves that to
        :func:`assets.emit.emit`, which shows them with its report."""
        tags = {"dagster.run_id": context.run.run_id}
        name = run_name
        if _single_asset(context):
            key = context.asset_key.to_user_string()
            tags["dagster.asset"] = key
            name = name or key
        settings = self.get_settings()
        with registry.start_run(
            name or context.op_def.name,
            settings=settings,
            tags=tags,
            description=run_description(context, settings),
        ) as active:
            context.log.info(f"MLflow run {active.info.run_id} in {settings.tracking_uri}")
            yield active
        if link:
            self._link(context, active.info.run_id)

    def _link(self, context, run_id: str) -> None:
        """The asset's materialization links to its MLflow run (a clickable URL in Dagster) and
        shows the plots the run logged (:func:`assets.plots.run_plots`)."""
        if not _single_asset(context):
            return
        from dagster import MetadataValue

        from assets.plots import run_plots

        settings = self.get_settings()
        meta = {"mlflow_run_id": run_id}
        url = mlflow_run_link(run_id, settings)
        if url:
            meta["mlflow_run_url"] = MetadataValue.url(url)
        context.add_output_metadata(
            {**meta, **run_plots(run_id, settings, url)},
            output_name=context.assets_def.get_output_name_for_asset_key(context.asset_key),
        )


def mlflow_run_link(run_id: str, settings) -> str | None:
    """The MLflow UI's page of ``run_id``; ``None`` when the run cannot be found. (Here, not in
    :mod:`assets.emit`, which links its reports the same way: it imports the resources, never
    the other way.)"""
    try:
        return registry.mlflow_run_url(run_id, settings)
    except Exception:  # a run from another store (a copied stack): no link rather than a failed check
        return None


def _single_asset(context) -> bool:
    return bool(
        getattr(context, "has_assets_def", False)
        and context.has_assets_def
        and len(context.assets_def.keys) == 1
    )


def _summary(text: str | None) -> str:
    """A docstring's summary: its first paragraph on one line."""
    first = (text or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def run_description(context, settings: Settings) -> str:
    """Markdown for the MLflow run's description (``mlflow.note.content``): what the step trains
    (the asset key and its docstring's summary), on what data (a link to the Dagster run, the
    partition, the upstream assets it reads)."""
    run_url = registry.dagster_run_url(context.run.run_id, settings)
    if _single_asset(context):
        key = context.asset_key
        what = f"**{key.to_user_string()}**"
        summary = _summary(context.assets_def.descriptions_by_key.get(key))
        nothing = {d.name for d in context.op_def.input_defs if d.dagster_type.is_nothing}  # deps, not read
        inputs = sorted(
            {
                k.to_user_string()
                for name, k in context.assets_def.keys_by_input_name.items()
                if name not in nothing
            }
        )
        upstream = sorted(
            {k.to_user_string() for k in context.assets_def.asset_deps.get(key, ())} - set(inputs)
        )
    else:
        what = f"**{context.op_def.name}** (op)"
        summary, inputs, upstream = _summary(context.op_def.description), [], []
    lines = [
        f"{what}: {summary}" if summary else what,
        "",
        f"- Made by [Dagster run {context.run.run_id}]({run_url})",
    ]
    if getattr(context, "has_partition_key", False) and context.has_partition_key:
        lines.append(f"- Partition: `{context.partition_key}`")
    elif getattr(context, "has_partition_key_range", False) and context.has_partition_key_range:
        keys = context.partition_key_range
        lines.append(f"- Partitions: `{keys.start}` to `{keys.end}`")
    lines.append("- Inputs: " + (", ".join(f"`{k}`" for k in inputs) or "none"))
    if upstream:
        lines.append("- Also depends on: " + ", ".join(f"`{k}`" for k in upstream))
    return "\n".join(lines)


class FeedbackStoreResource(ConfigurableResource):
    """The feedback store (:class:`moodtune.feedback.FeedbackStore`) for sensors and jobs.

    ``url`` is any SQLAlchemy URL; ``None`` takes ``feedback.url`` from the settings (the
    ``settings`` resource when given, else ``params.yaml`` + environment), i.e. the SQLite file
    ``<data_dir>/feedback/feedback.db`` by default. Resolved when :meth:`store` is called, so
    the environment at run time decides.
    """

    url: str | None = None
    settings: SettingsResource | None = None

    def store(self) -> FeedbackStore:
        """The process-wide store for this URL (one connection pool per process)."""
        settings = (self.settings or SettingsResource()).get()
        return open_store(self.url or None, settings=settings)


class StoredOutputsIOManager(FilesystemIOManager):
    """Dagster's pickling filesystem IO manager rooted at ``<data_dir>/assets``.

    The directory comes from ``settings`` when a run starts (not when the code location is
    imported), so ``MOODTUNE_DATA_DIR`` set for a run is the one its outputs go to; DVC's stage
    outs are these files (``data/assets/<asset>``). Paths under the project root are stored
    relative to it (:mod:`moodtune.portable`), so a clone elsewhere hashes the same outputs.
    """

    settings: SettingsResource

    def create_io_manager(self, context: InitResourceContext):
        settings = self.settings.get()
        base_dir = self.base_dir or str(settings.data_path("assets"))
        return _PortableIOManager(
            FilesystemIOManager(base_dir=base_dir).create_io_manager(context), settings.root
        )


class _PortableIOManager(IOManager):
    """Stores through ``inner`` with root-relative paths; loads them back under ``root``."""

    def __init__(self, inner: IOManager, root) -> None:
        self._inner, self._root = inner, root

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._inner.handle_output(context, to_portable(obj, self._root))

    def load_input(self, context: InputContext) -> Any:
        return from_portable(self._inner.load_input(context), self._root)
