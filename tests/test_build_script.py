"""scripts/build.py's stage arithmetic: what a stale stage drags along, and what --skip may leave out."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_served_policy_follows_the_catalog_and_the_demo_study_follows_nothing_served(build):
    graph = build.stages()
    assert build.downstream({"catalog"}, graph) == ["catalog", "listeners", "policy"]
    assert build.downstream({"policy_demo"}, graph) == [
        "policy_demo"
    ]  # nothing reads it: make up may skip it
    assert "policy_demo" in build.downstream({"audio"}, graph)


def test_skip_refuses_a_stage_others_read_or_one_that_does_not_exist(build, capsys):
    with pytest.raises(SystemExit) as read:
        build.main(["--dry", "--skip", "catalog"])
    assert read.value.code == 2 and "['listeners', 'policy'] read their outputs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as unknown:
        build.main(["--dry", "--skip", "policy_real"])
    assert unknown.value.code == 2 and "names no DVC stage: ['policy_real']" in capsys.readouterr().err
