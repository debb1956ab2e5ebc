"""Import the registry's champions (and the catalog) into the BentoML model store.

``python -m bento.models`` (run by ``make up`` after ``dvc repro``, and by the Dagster asset
``bento_models``) copies, for every model in ``registry.MODELS``, the MLflow model
directory behind ``<name>@champion`` into a BentoML model ``<name>:v<version>-<run>``, and the
catalog files into ``moodtune-catalog:<content hash>``. The service references them as
class-level ``BentoModel("<name>:latest")``, so ``bentoml build`` packs exactly these into
the Bento. Importing is idempotent: a champion already imported is only made ``latest``
again (re-imported) if another version took its place.

Exit status 1, with one line per missing champion saying how to build it, when a champion
or the catalog does not exist yet.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bentoml
from bentoml.exceptions import NotFound

from moodtune import registry
from moodtune.registry import CATALOG, MODEL_NAMES, how_to_build
from moodtune.serving.catalog import META_FILE, TABLE_FILE, catalog_dir
from moodtune.settings import Settings, get_settings

LABEL_MODEL = "registered_model"
LABEL_VERSION = "mlflow_version"


@dataclass(frozen=True)
class Imported:
    name: str
    tag: str
    version: str
    action: str  # "imported", "reimported" (made latest again), "present"


class MissingChampions(RuntimeError):
    """Some champion (or the catalog) does not exist; the message says how to build each."""


def _stored(tag: str):
    try:
        return bentoml.models.get(tag)
    except NotFound:
        return None


def _latest_version(name: str) -> str | None:
    stored = _stored(f"{name}:latest")
    return None if stored is None else str(stored.tag.version)


def _ensure(name: str, version_tag: str, labels: dict[str, str], metadata: dict, fill) -> str:
    """Create ``name:version_tag`` with ``fill(path)`` unless present; make it ``latest``."""
    tag = f"{name}:{version_tag}"
    existing = _stored(tag)
    if existing is not None and _latest_version(name) == version_tag:
        return "present"
    action = "imported"
    if existing is not None:  # present but another version is latest: re-create to make it latest
        bentoml.models.delete(tag)
        action = "reimported"
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
        fill(Path(model.path))
    return action


def champion_tag_version(mv) -> str:
    """``v<version>-<8 hex>``: the registry version plus a digest of its run, so a fresh
    MLflow store's "version 1" never collides with an old one."""
    digest = hashlib.sha256(f"{mv.run_id}|{mv.source}".encode()).hexdigest()[:8]
    return f"v{mv.version}-{digest}"


def import_champion(name: str, settings: Settings) -> Imported:
    import mlflow

    mv = registry.champion(name, settings)
    if mv is None:
        raise MissingChampions(f"{name}: no champion in {settings.tracking_uri}; {how_to_build(name)}")
    version_tag = champion_tag_version(mv)

    def fill(path: Path) -> None:
        mlflow.artifacts.download_artifacts(f"models:/{name}/{mv.version}", dst_path=str(path))

    labels = {LABEL_MODEL: name, LABEL_VERSION: str(mv.version), "run_id": str(mv.run_id or "")}
    metadata = {
        "tracking_uri": settings.tracking_uri,
        "source": str(mv.source),
        "imported_at": datetime.now(UTC).isoformat(),
        "alias": settings.registry.champion_alias,
    }
    action = _ensure(name, version_tag, labels, metadata, fill)
    return Imported(name, f"{name}:{version_tag}", str(mv.version), action)


def import_catalog(settings: Settings) -> Imported:
    directory = catalog_dir(settings)
    files = [directory / TABLE_FILE, directory / META_FILE]
    if not all(f.is_file() for f in files):
        raise MissingChampions(f"{CATALOG}: no catalog in {directory}; {how_to_build(CATALOG)}")
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]

    def fill(path: Path) -> None:
        for f in files:
            shutil.copyfile(f, path / f.name)

    meta = json.loads(files[1].read_text(encoding="utf-8"))
    labels = {LABEL_MODEL: CATALOG, LABEL_VERSION: digest}
    metadata = {
        "built_at": str(meta.get("built_at")),
        "model_versions": meta.get("model_versions", {}),
        "tracks": int(meta.get("tracks", 0)),
        "imported_at": datetime.now(UTC).isoformat(),
    }
    action = _ensure(CATALOG, digest, labels, metadata, fill)
    return Imported(CATALOG, f"{CATALOG}:{digest}", digest, action)


def import_all(settings: Settings, names: Iterable[str] | None = None, report=None) -> list[Imported]:
    """Import every champion in ``names`` (default: every model, ``registry.MODEL_NAMES``) and the catalog.

    Raises :class:`MissingChampions` listing everything missing (after importing the rest);
    ``report(Imported)`` is called for each model as it is done."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    report = report or (lambda item: None)
    names = list(names or MODEL_NAMES)
    done, missing = [], []
    for name in names:
        try:
            done.append(import_champion(name, settings))
            report(done[-1])
        except MissingChampions as exc:
            missing.append(str(exc))
    try:
        done.append(import_catalog(settings))
        report(done[-1])
    except MissingChampions as exc:
        missing.append(str(exc))
    if missing:
        raise MissingChampions("missing:\n  " + "\n  ".join(missing))
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bento.models", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help="registered models to import (default: every model the service serves)"
    )
    args = parser.parse_args(argv)

    def report(item: Imported) -> None:
        print(f"{item.action:10} {item.tag}  (registry version {item.version})", flush=True)

    try:
        import_all(get_settings(), names=args.names or None, report=report)
    except MissingChampions as exc:
        print(f"bento.models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
