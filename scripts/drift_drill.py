"""The drift drill (issue 29), on a private copy of a built stack (``make up`` / ``make build``).

    python scripts/drift_drill.py [--seeds 0 1 2] [--cases drift control] [--out drill.json]

Per seed and case, a fresh copy of the stack's stores, its own ``bentoml serve`` and the real
feedback sensor and retraining job (``jobs/drill.py``): the scenario's listeners
(``drill.scenario`` in params.yaml) send traffic until the sensor fires, the gate decides on
its own evidence, the service hot-swaps what it promotes, and the old champion and the
promoted policy (the champion again when nothing was promoted) are scored on held-out listeners
of the drifted (or unchanged, for the control) population and of the original one. Prints the
before/after table; the targets are ``drill.drifted_over_champion`` and
``drill.original_over_champion``; the control must never promote a worse policy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def overrides(pairs: list[str]) -> str:
    """``["retrain.timesteps=0", ...]`` as YAML overrides (the hyper-parameters a drill compares)."""
    import yaml

    tree: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return yaml.safe_dump(tree) if tree else ""


def run_case(case: str, seed: int, base: Path, settings, rows: int | None, extra: str = "") -> dict:
    import httpx

    from assets.resources import SettingsResource
    from bento.testing import ServiceProcess, copy_stores, import_models
    from definitions import build_resources
    from jobs.drill import drill_once, retraining_definitions

    work = base / f"{case}-seed{seed}"
    copy_stores(settings.data_dir, Path(settings.tracking_uri.removeprefix("sqlite:///")), work)
    threshold = rows or settings.drill.feedback_rows
    res = SettingsResource(
        data_dir=str(work / "data"),
        tracking_uri=f"sqlite:///{work / 'mlflow.db'}",
        overrides_yaml=f"retrain: {{min_new_feedback: {threshold}}}\ndrill: {{feedback_rows: {threshold}}}\n",
    ).with_overrides(extra)
    resources = build_resources(res)
    defs = retraining_definitions(resources)
    with defs.get_asset_value_loader() as loader:
        spec = loader.load_asset_value("recommendation_env")
    env = {
        **os.environ,
        "MOODTUNE_DATA_DIR": str(work / "data"),
        "MLFLOW_TRACKING_URI": res.tracking_uri,
        "MOODTUNE_MLFLOW__ARTIFACT_ROOT": str(settings.artifact_root),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "MOODTUNE_SERVICE__WORKERS": "1",
        "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "1",
    }
    import_models(env)
    with (
        ServiceProcess(env, work / "service.log").start() as service,
        httpx.Client(base_url=service.url, timeout=120) as client,
    ):
        run = drill_once(client, defs, resources, spec, drifted=case == "drift", seed=seed)
    return run.row()


def main(argv: list[str] | None = None) -> int:
    from moodtune.settings import get_settings

    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(settings.drill.seeds))
    ap.add_argument("--cases", nargs="+", default=["drift", "control"], choices=["drift", "control"])
    ap.add_argument(
        "--rows", type=int, default=None, help="the sensor's threshold (default drill.feedback_rows)"
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the table as JSON here")
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override params for the retrain, e.g. retrain.timesteps=0 retrain.learning_rate=0.0015",
    )
    args = ap.parse_args(argv)
    d = settings.drill
    rows = []
    with tempfile.TemporaryDirectory(prefix="drift-drill-") as tmp:
        for seed in args.seeds:
            for case in args.cases:
                started = time.perf_counter()
                row = run_case(case, seed, Path(tmp), settings, args.rows, overrides(args.set))
                row["seconds"] = round(time.perf_counter() - started, 1)
                row["load"] = os.getloadavg()[0]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\nscenario {d.scenario}: {d.scenarios[d.scenario].model_dump()}")
    print(
        "| case | seed | rows | promoted | held-out (recalibrated) new / champion | paired CI | OPE new / champion "
        "(ESS) | target population new/champion [difference CI] | original new/champion [difference CI] |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for r in rows:
        key = "drifted" if r["case"] == "drift" else "control"
        target = r[f"{key}_ratio"]
        print(
            f"| {r['case']} | {r['seed']} | {r['feedback_rows']} | {r['promoted']} | {r['held_out_mean_reward']} / "
            f"{r['held_out_champion']} | {r['paired_ci']} | {r['ope_value']} / {r['ope_champion']} ({r['ope_ess']}) "
            f"| {target} {r[f'{key}_difference_ci']} | {r['original_ratio']} {r['original_difference_ci']} |"
        )
        if r["case"] == "drift":
            ok &= (
                r["promoted"]
                and target >= d.drifted_over_champion
                and r["original_ratio"] >= d.original_over_champion
            )
        else:  # the control: never a worse promotion (worse: the paired interval of the difference below 0)
            worse = r["control_difference_ci"][1] < 0 or r["original_difference_ci"][1] < 0
            ok &= not r["promoted"] or (not worse and r["original_ratio"] >= d.original_over_champion)
    print(
        f"\ndrill {'PASSED' if ok else 'FAILED'} (drift: promoted, >= {d.drifted_over_champion}x on the drifted "
        f"population and >= {d.original_over_champion}x on the original; control: no promotion worse beyond the "
        f"noise on either population, >= {d.original_over_champion}x on the original)"
    )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
