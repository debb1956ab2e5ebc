"""Plots in Dagster: the PNGs an asset's MLflow run logged, embedded in its materialization.

The training code logs its plots to MLflow only (``registry.log_figure``); Dagster's "Plots"
tab would otherwise show single dots. :func:`run_plots` reads the same PNG files back from the
run's artifacts and gives one markdown entry per plot (``plot: <artifact path>``): the image as a
``data:`` URI (the Dagster UI renders it in the materialization's metadata), shrunk to at most
``dagster.plot_max_kb``, and a link that opens the plot in the MLflow run. ``MlflowResource.run``
adds them to every asset that opens an MLflow run, so a new plot needs no adapter change.
"""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path
from urllib.parse import quote

from dagster import MetadataValue
from mlflow.tracking import MlflowClient


def _run_repository(client: MlflowClient, run_id: str):
    """The run's own artifact store (its ``artifact_uri``), not ``runs:/``: MLflow 3 lists a run's
    *logged models* under ``runs:/<id>/<dir>`` too, and resolves each one, so a logged-model record
    that is gone (or lives in another store) would fail the listing of plain files."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(client.get_run(run_id).info.artifact_uri)


def png_paths(client: MlflowClient, run_id: str, path: str | None = None, *, _repo=None) -> list[str]:
    """Every ``*.png`` artifact of a run (its own files, not its logged models), recursively."""
    repo = _repo or _run_repository(client, run_id)
    found: list[str] = []
    for info in repo.list_artifacts(path):
        if info.is_dir:
            found += png_paths(client, run_id, info.path, _repo=repo)
        elif info.path.lower().endswith(".png"):
            found.append(info.path)
    return found


def shrink_png(data: bytes, max_bytes: int) -> bytes:
    """``data`` as is when it fits in ``max_bytes``, else the image scaled down until it does."""
    if len(data) <= max_bytes:
        return data
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    out = data
    for _ in range(8):
        scale = min(0.9, (max_bytes / len(out)) ** 0.5 * 0.95)
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image = image.resize(size, Image.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        out = buffer.getvalue()
        if len(out) <= max_bytes:
            return out
    raise ValueError(f"cannot shrink the plot under {max_bytes} bytes")


def artifact_url(run_url: str, path: str) -> str:
    """The MLflow UI's page of one artifact of a run (its artifact browser, opened on ``path``)."""
    return f"{run_url.rstrip('/')}/artifacts/{quote(path)}"


def plot_markdown(data: bytes, path: str, link: str | None) -> str:
    image = f"![{path}](data:image/png;base64,{base64.b64encode(data).decode('ascii')})"
    return image + (f"\n\n[{path} in the MLflow run]({link})" if link else "")


def run_plots(run_id: str, settings, run_url: str | None = None) -> dict[str, MetadataValue]:
    """``plot: <path>`` -> markdown with the run's PNG (shrunk to ``dagster.plot_max_kb``) and a
    link to it in the MLflow UI (when ``run_url``, the run's page, is given).

    A run that is gone or an artifact store that cannot be read gives one ``plots_unavailable``
    note instead of plots: the plots are a view of the run, never a reason to fail the asset."""
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    max_bytes = settings.dagster.plot_max_kb * 1024
    out: dict[str, MetadataValue] = {}
    try:
        repo = _run_repository(client, run_id)
        with tempfile.TemporaryDirectory() as tmp:
            for path in png_paths(client, run_id, _repo=repo):
                local = Path(repo.download_artifacts(path, tmp))
                data = shrink_png(local.read_bytes(), max_bytes)
                out[f"plot: {path}"] = MetadataValue.md(
                    plot_markdown(data, path, run_url and artifact_url(run_url, path))
                )
    except (MlflowException, OSError, ValueError) as exc:
        return {
            "plots_unavailable": MetadataValue.text(
                f"the plots of MLflow run {run_id} could not be read: {type(exc).__name__}: {str(exc)[:300]}"
            )
        }
    return out


__all__ = ["artifact_url", "plot_markdown", "png_paths", "run_plots", "shrink_png"]
