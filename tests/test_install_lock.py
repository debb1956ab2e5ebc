"""requirements.lock (scripts/install.py): in step with pyproject.toml, and the check that
decides whether an install from it is complete."""

import importlib.util
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def install():
    spec = importlib.util.spec_from_file_location("moodtune_install", ROOT / "scripts" / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _locked(install) -> dict[str, str]:
    sections = install.pins(install.LOCK)
    return {install._name(p): p.split("==")[1] for section in sections.values() for p in section}


def test_every_exact_pin_of_pyproject_and_the_data_packages_is_in_the_lock(install):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
        *install.pins(install.DATA)["main"],
    ]
    exact = [Requirement(r) for r in wanted if "==" in r]
    assert len(exact) > 40
    locked = _locked(install)
    for req in exact:  # torch==2.13.0 is met by the lock's 2.13.0+cpu
        assert req.specifier.contains(locked.get(install._name(req.name), "0")), f"{req}: run `make lock`"


def test_the_installed_environment_meets_every_requirement_of_the_project(install):
    reached, problems = install.unmet(install.ROOTS, install._data_overrides())
    assert problems == []
    assert {"torch", "dagster", "librosa", "pytest-timeout"} <= reached
    assert "musicnn" not in reached  # a data package: nothing of the project asks for it


def test_a_missing_or_wrong_version_is_reported_with_who_asked(install):
    _, problems = install.unmet(["numpy==0.0.1", "no-such-distribution-xyz>=1"])
    assert len(problems) == 2
    assert any("numpy==0.0.1" in p and "is installed" in p for p in problems)
    assert any("no-such-distribution-xyz" in p and "not installed" in p for p in problems)


def test_a_data_package_pinned_over_its_dependents_is_accepted_only_as_an_override(install):
    # hydra-core (dvc) asks antlr4-python3-runtime==4.9.*; the data pin 4.13.2 wins on purpose
    _, without = install.unmet(["dvc"])
    assert any(p.startswith("antlr4-python3-runtime") for p in without)
    assert install.unmet(["dvc"], install._data_overrides())[1] == []


def test_the_audio_section_holds_what_librosa_imports_and_nothing_heavy(install):
    audio = {install._name(p) for p in install.pins(install.LOCK)["audio"]}
    closure, problems = install.unmet(install.AUDIO_ROOTS)
    assert problems == []
    assert closure == audio
    assert {"numba", "llvmlite", "scipy", "librosa"} <= audio and "torch" not in audio
