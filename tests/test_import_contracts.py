"""The one-way imports (docs/architecture.md, "Layers") hold: ``lint-imports`` (``make lint``)
keeps every contract of pyproject.toml's ``[tool.importlinter]``, and it does catch an import
that climbs or closes a circle, also one inside a function."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from moodtune.families import MODELS

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("moodtune", "assets", "jobs", "bento")

pytestmark = pytest.mark.slow  # runs lint-imports, a Python process of its own


def lint_imports(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", *args, str(root / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env=env,
    )


def _layers() -> list[set[str]]:
    """The ``core-layers`` contract's layers, top first, each as the modules it names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "core-layers"]
    return [{name.strip() for name in layer.replace("|", ":").split(":")} for layer in layers["layers"]]


def _layered() -> set[str]:
    return set().union(*_layers())


def test_every_module_of_the_core_is_layered_but_a_new_model_family():
    """``core-layers`` is not exhaustive so that a model family's domain package needs no line in
    pyproject.toml; every other package or module of moodtune/ must have its layer there."""
    children = {
        p.stem if p.suffix == ".py" else p.name
        for p in (ROOT / "moodtune").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    families = {spec.package.split(".")[1] for spec in MODELS.values()}
    assert children - _layered() <= families, sorted(children - _layered() - families)


def test_no_model_family_imports_serving_or_a_sibling_domain():
    """What ``core-layers`` says of a family's package placed beside policy : audio : text : image,
    for every family, in a layer or not: it imports neither serving (the layer above) nor one of
    those domains."""
    graph = grimp.build_graph("moodtune")
    for config in graph.find_modules_directly_imported_by("moodtune.settings"):
        if config.endswith(".config"):  # the composed settings, ignored by the contracts too
            graph.remove_import(importer="moodtune.settings", imported=config)
    [domains] = [layer for layer in _layers() if "policy" in layer]
    above = {f"moodtune.{name}" for name in domains | {"serving"}}
    # every family: the five placed ones (which core-layers checks too) and any new one outside it
    for family in sorted({spec.package.rsplit(".", 1)[0] for spec in MODELS.values()}):
        for other in sorted(above - {family}):
            chain = graph.find_shortest_chain(importer=family, imported=other, as_packages=True)
            assert chain is None, f"{family} imports {other}: {' -> '.join(chain or ())}"


def test_every_import_contract_is_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The four packages' Python files and pyproject.toml, in a temporary directory."""
    root = tmp_path_factory.mktemp("imports")

    def not_source(folder: str, names: list[str]) -> list[str]:
        return [
            n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(folder) / n).is_dir())
        ]

    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=not_source)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "body", "broken"),
    [
        # a domain package importing one above it, lazily: a climb and a circle (feedback imports hrv)
        (
            "moodtune/hrv/violation.py",
            "def f():\n    from moodtune.feedback import reward\n    return reward\n",
            ["moodtune.hrv is not allowed to import moodtune.feedback", "No cycles are allowed in moodtune"],
        ),
        # the core importing a framework
        ("moodtune/registry/violation.py", "import dagster\n", ["moodtune is not allowed to import dagster"]),
        # the service importing the pipeline
        ("bento/violation.py", "from assets import resources\n", ["bento is not allowed to import assets"]),
    ],
)
def test_a_violating_module_breaks_its_contract(copy, module, body, broken):
    assert lint_imports(copy, "--no-cache").returncode == 0
    path = copy / module
    path.write_text(body)
    try:
        done = lint_imports(copy, "--no-cache")
    finally:
        path.unlink()
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    for line in broken:
        assert line in out, out
