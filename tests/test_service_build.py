"""Packaging: the Dagster asset `bento_models` imports the champions, `bentoml build` packs
them with the service, and the Bento's pins are the project's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from moodtune.registry.names import CATALOG, MODEL_NAMES, MODELS

ROOT = Path(__file__).resolve().parent.parent
NAMES = (*MODEL_NAMES, CATALOG)  # every model family of registry.MODELS, and the catalog


def _pins(requirements) -> dict[str, str]:
    out = {}
    for req in requirements:
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(==|>=)(.+)$", req)
        if m:
            out[m.group(1).lower()] = m.group(3) + m.group(4)
    return out


def test_bentofile_pins_match_pyproject():
    project = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    bento = _pins(yaml.safe_load((ROOT / "bento" / "bentofile.yaml").read_text())["python"]["packages"])
    assert bento and all(project.get(name) == pin for name, pin in bento.items()), {
        n: (p, project.get(n)) for n, p in bento.items() if project.get(n) != p
    }
    # every runtime pin of the project is in the Bento (the build and dev tools, the Dagster
    # deployment's storage and executor, and the CLI's spinner are not needed: the service imports
    # no dagster, and bentoml brings rich itself)
    assert set(project) - set(bento) <= {
        "dagster",
        "dagster-webserver",
        "dagster-postgres",
        "dagster-celery",
        "dvc",
        "tabulate",
        "httpx",
        "rich",
    }


@pytest.mark.slow  # a Python process of its own (importing the service: BentoML, the patches)
def test_the_service_references_every_model_of_the_registry_and_the_catalog(tmp_path):
    """bento/service.py's BentoModel references come from registry.MODELS: one ``<attr>_ref``
    class attribute per spec and the catalog's, all collected by ``@bentoml.service`` (what
    ``bentoml build`` packs). Checked against a store of empty stand-ins."""
    code = (
        "import json, bentoml\n"
        "for name in json.loads(input()):\n"
        "    with bentoml.models.create(f'{name}:v1'):\n"
        "        pass\n"
        "import bento.service as s\n"
        "print('REFS', json.dumps([s.Moodtune.inner.REFS, sorted(m.tag.name for m in s.Moodtune.models)]))\n"
    )
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        input=json.dumps(NAMES),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    refs, collected = json.loads(done.stdout.split("REFS", 1)[1])
    assert refs == {**{name: f"{spec.attr}_ref" for name, spec in MODELS.items()}, CATALOG: "catalog_ref"}
    assert collected == sorted(NAMES)


@pytest.mark.service
@pytest.mark.slow
def test_bento_models_asset_imports_every_champion_and_bentoml_build_packs_them(service_stack, tmp_path):
    env = {
        **service_stack["env"],
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    (tmp_path / "dagster").mkdir()
    code = (
        "from dagster import AssetSelection, load_assets_from_package_module, materialize\n"
        "import assets\nfrom assets.resources import SettingsResource\nfrom definitions import build_resources\n"
        "r = materialize(load_assets_from_package_module(assets), resources=build_resources(SettingsResource()),"
        " selection=AssetSelection.assets('bento_models'))\n"
        "print('TAGS', r.output_for_node('bento_models'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tags = eval(done.stdout.split("TAGS", 1)[1].strip())  # the asset's output: {name: tag}
    assert set(tags) == set(NAMES)
    for name in NAMES:
        assert (tmp_path / "bentoml" / "models" / name / tags[name].split(":")[1]).is_dir()

    built = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "-f", "bento/bentofile.yaml", ".", "-o", "tag"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    tag = built.stdout.strip().splitlines()[-1].split("__tag__:")[-1].strip()
    assert tag.startswith("moodtune:")
    info = yaml.safe_load(
        (tmp_path / "bentoml" / "bentos" / "moodtune" / tag.split(":")[1] / "bento.yaml").read_text()
    )
    packed = {m["tag"] for m in info["services"][0]["models"]}
    assert packed == set(tags.values())  # exactly the imported champions
    src = tmp_path / "bentoml" / "bentos" / "moodtune" / tag.split(":")[1] / "src"
    assert (src / "bento" / "service.py").is_file() and (src / "bento" / "web" / "index.html").is_file()
    assert (src / "params.yaml").is_file() and (src / "moodtune" / "serving" / "engine.py").is_file()
