"""``make build``: what ``dvc repro`` does, in one Dagster run.

DVC decides what is stale: its stages are the Dagster asset groups (``tests/test_dvc_stages.py``
checks that they agree). The stale stages and every stage downstream of them are materialised in
ONE ``dagster asset materialize`` run, so the code location is loaded once instead of once per
stage and the executor (``dagster.executor``, multiprocess on 2 cores) runs independent groups
side by side. Then ``dvc commit`` records exactly those stages in ``dvc.lock``, as ``dvc repro``
would have. ``dvc repro`` stays equivalent (one stage after another, slower).

    python scripts/build.py [--dry] [--also ASSET ...] [--skip STAGE ...]

``--also`` adds assets outside DVC to the same run (``make up``: ``bento_models``); ``--skip``
leaves stages out that nothing else reads (``make up``: ``policy_demo``, the demo catalog's
policy study; they stay stale in ``dvc status`` until ``make build``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _under(path: str, out: str) -> bool:
    return path == out or path.startswith(out.rstrip("/") + "/")


def downstream(stale: set[str], graph: dict[str, dict]) -> list[str]:
    """``stale`` and every stage that reads an output of one of them, in dvc.yaml's order."""
    outs = {name: [str(o) for o in stage.get("outs", [])] for name, stage in graph.items()}
    todo, changed = set(stale), True
    while changed:
        changed = False
        for name, stage in graph.items():
            if name in todo:
                continue
            deps = [str(d) for d in stage.get("deps", [])]
            if any(_under(d, o) for up in todo for o in outs[up] for d in deps):
                todo.add(name)
                changed = True
    return [name for name in graph if name in todo]


def stale_stages() -> set[str]:
    """Stages ``dvc status`` reports as changed (code, params, upstream outputs or missing outs)."""
    out = subprocess.run(
        [str(BIN / "dvc"), "status", "--json"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return {name.split(":")[-1] for name in json.loads(out or "{}")}


def selection(names: list[str], graph: dict[str, dict], also: list[str]) -> str:
    """The Dagster asset selection of these stages (each stage's cmd names its group)."""
    groups = []
    for name in names:
        cmd = graph[name]["cmd"]
        groups.append(cmd.split("--select", 1)[1].strip().strip("'\""))
    return " or ".join([*groups, *(a if ":" in a else f"key:{a}" for a in also)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry", action="store_true", help="print what would run, run nothing")
    parser.add_argument("--also", nargs="*", default=[], help="assets outside DVC to add to the run")
    parser.add_argument("--skip", nargs="*", default=[], help="stages to leave out (nothing may read them)")
    args = parser.parse_args(argv)
    graph = stages()
    unknown = sorted(set(args.skip) - set(graph))
    if unknown:
        parser.error(f"--skip names no DVC stage: {unknown}; dvc.yaml has {sorted(graph)}")
    read = [name for name in downstream(set(args.skip), graph) if name not in args.skip]
    if read:
        parser.error(f"--skip {args.skip}: stage(s) {read} read their outputs")
    todo = downstream(stale_stages(), graph)
    skipped = [name for name in todo if name in args.skip]
    todo = [name for name in todo if name not in args.skip]
    if skipped:
        print(f"build: leaving out {skipped} (stale; `make build` builds them)", flush=True)
    if not todo and not args.also:
        print("build: every DVC stage is up to date (dvc status is clean); nothing to run")
        return 0
    select = selection(todo, graph, args.also)
    print(f"build: stale DVC stages {todo or 'none'}; one Dagster run of: {select}", flush=True)
    if args.dry:
        return 0
    started = time.perf_counter()
    # A fixed hash seed: a set pickled inside a stored output (recommendation_env) is written in
    # the order of its string hashes, so with Python's per-process random seed the same content
    # gives other bytes each run, and DVC would see a changed output. Every step process and
    # worker inherits it.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "definitions", "--select", select],
        cwd=ROOT,
        env=env,
    )
    if run.returncode != 0:
        print(
            "build: the Dagster run failed; dvc.lock is unchanged (see the run in the Dagster UI "
            "or the log above), fix it and run `make build` again",
            file=sys.stderr,
        )
        return run.returncode
    if todo:
        subprocess.run([str(BIN / "dvc"), "commit", "--force", "--quiet", *todo], cwd=ROOT, check=True)
    print(f"build: done in {time.perf_counter() - started:.0f} s; dvc.lock records {todo or 'no stage'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
