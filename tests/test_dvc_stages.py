"""dvc.yaml and the Dagster code location describe the same pipeline.

Every asset group is one DVC stage (but the two listed in NOT_STAGES), each stage materialises
exactly its group, declares exactly its group's stored outputs, depends on every upstream
asset of another group it reads, on the code that defines its assets, and on params and paths
that exist.
"""

from __future__ import annotations

import inspect
import shlex
from pathlib import Path

import dagster as dg
import pytest
import yaml

from definitions import build_definitions
from moodtune.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = "data/assets/"
# groups DVC does not run, and why
NOT_STAGES = {
    "serving": "`make up` materializes bento_models, which writes BentoML's model store, not data/",
    "retraining": "run by feedback_retraining_sensor on new feedback, not by `dvc repro`",
    "library": "audio.music_dir analysed by shard (dynamic partitions), run per partition, not by `dvc repro`",
}


@pytest.fixture(scope="module")
def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.fixture(scope="module")
def graph():
    return build_definitions(load_settings()).resolve_asset_graph()


@pytest.fixture(scope="module")
def groups(graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        out.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    return out


def _selection(cmd: str) -> str:
    args = shlex.split(cmd)
    assert args[:3] == ["dagster", "asset", "materialize"], cmd
    assert args[args.index("-m") + 1] == "definitions", cmd
    return args[args.index("--select") + 1]


def _data_deps(stage: dict) -> set[str]:
    return {d[len(OUTPUTS) :] for d in stage.get("deps", []) if d.startswith(OUTPUTS)}


def test_every_group_is_a_stage_and_every_stage_a_group(stages, groups):
    assert set(NOT_STAGES) <= set(groups)
    assert set(stages) == set(groups) - set(NOT_STAGES)


def test_each_stage_materialises_exactly_its_group(stages, groups, graph):
    for name, stage in stages.items():
        selected = dg.AssetSelection.from_string(_selection(stage["cmd"])).resolve(graph)
        assert {k.to_user_string() for k in selected} == groups[name], name


def test_each_stage_declares_exactly_its_assets_stored_outputs(stages, groups):
    for name, stage in stages.items():
        outs = {str(o) for o in stage["outs"]}
        assert {o[len(OUTPUTS) :] for o in outs if o.startswith(OUTPUTS)} == groups[name], name
        assert not any(o.startswith("/") for o in outs), name


def test_each_stage_depends_on_the_upstream_assets_it_reads_and_no_others(stages, groups, graph):
    group_of = {a: g for g, assets in groups.items() for a in assets}
    for name, stage in stages.items():
        upstream = {
            p.to_user_string()
            for a in groups[name]
            for p in graph.get(dg.AssetKey.from_user_string(a)).parent_keys
        }
        other = {a for a in upstream if group_of[a] != name}
        assert _data_deps(stage) == other, name
        assert all(group_of[a] in stages for a in other), f"{name} reads a group DVC does not build"


def test_each_stage_depends_on_the_modules_that_define_its_assets(stages, groups):
    defs = build_definitions(load_settings())
    for name, stage in stages.items():
        deps = {str(d).rstrip("/") for d in stage["deps"]}
        for key in groups[name]:
            fn = defs.get_assets_def(key).op.compute_fn.decorated_fn
            module = Path(inspect.getsourcefile(fn)).resolve().relative_to(ROOT).as_posix()
            assert module in deps, f"stage {name} does not depend on {module} (asset {key})"


def test_every_code_dep_and_param_exists(stages):
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for name, stage in stages.items():
        for dep in stage["deps"]:
            if not str(dep).startswith(OUTPUTS):
                assert (ROOT / dep).exists(), f"stage {name}: dependency {dep} does not exist"
        for param in stage.get("params", []):
            node = params
            for part in str(param).split("."):
                assert isinstance(node, dict) and part in node, (
                    f"stage {name}: no param {param} in params.yaml"
                )
                node = node[part]


def test_dvcignore_keeps_bytecode_out_of_a_stage_s_code_hash(tmp_path):
    """A stage that depends on a code folder stays up to date when Python writes __pycache__ there."""
    import shutil
    import subprocess
    import sys

    dvc = [sys.executable, "-m", "dvc"]

    def run(*args):
        return subprocess.run([*dvc, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("X = 1\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: python -c \"open('out.txt','w').write('1')\"\n"
        "    deps: [pkg]\n    outs: [out.txt]\n"
    )
    assert run("init", "--no-scm", "-q").returncode == 0
    shutil.copy(ROOT / ".dvcignore", tmp_path / ".dvcignore")
    done = run("repro", "-q")
    assert done.returncode == 0, done.stderr
    cache = tmp_path / "pkg" / "__pycache__"
    cache.mkdir()
    (cache / "code.cpython-311.pyc").write_bytes(b"\x00bytecode")
    status = run("status")
    assert status.returncode == 0 and "changed" not in status.stdout, status.stdout
    (tmp_path / "pkg" / "code.py").write_text("X = 2\n")  # a real change is still seen
    assert "changed deps" in run("status").stdout
