"""The drift drill through the real parts: a running service, the feedback sensor and the
retraining job (scripts/drift_drill.py runs it; tests/test_drift_drill.py runs a short one).

One run: a population's listeners (:mod:`moodtune.policy.drill`) ask the service for
recommendations and send back RR intervals from their bodies until the sensor requests a
retrain; the job runs in process (the sensor's own run request), the gate decides, the service
hot-swaps a promoted policy, and both policies are scored on held-out listeners of the drifted
(or control) population and of the original one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from dagster import DagsterInstance, Definitions, RunRequest, build_sensor_context

from jobs.retraining import build_feedback_retraining_sensor
from moodtune import registry
from moodtune.policy import drill
from moodtune.policy.pipeline import EnvSpec

SENSOR_EVERY = 10  # feedback rows between two evaluations of the sensor


@dataclass
class DrillRun:
    """What one drill run did and found."""

    case: str  # "drift" or "control"
    seed: int
    feedback_rows: int
    champion_version: str
    report: dict  # the retrained_policy asset's output (version, promoted, scores, reason)
    metadata: dict  # its Dagster metadata (the gate's evidence)
    scores: list[drill.Scores] = field(default_factory=list)  # promoted (else champion) vs champion

    @property
    def promoted(self) -> bool:
        return bool(self.report["promoted"])

    def row(self) -> dict:
        s = self.report["scores"]
        out = {
            "case": self.case,
            "seed": self.seed,
            "feedback_rows": self.feedback_rows,
            "promoted": self.promoted,
            "version": self.report["version"],
            "held_out_mean_reward": round(s.get("mean_reward", float("nan")), 4),
            "held_out_champion": round(s.get("champion_mean_reward", float("nan")), 4),
            "paired_ci": [self.metadata.get("difference_ci_low"), self.metadata.get("difference_ci_high")],
            "ope_value": round(s.get("ope_value", float("nan")), 4),
            "ope_champion": round(s.get("ope_champion_value", float("nan")), 4),
            "ope_ess": round(s.get("ope_effective_sample_size", float("nan")), 1),
            "ope_verdict": self.metadata.get("ope_verdict"),
        }
        for sc in self.scores:
            out[f"{sc.population}_ratio"] = round(sc.ratio, 4)
            out[f"{sc.population}_difference_ci"] = [round(x, 4) for x in sc.difference_ci]
        return out


def retraining_definitions(resources: dict) -> Definitions:
    """Every asset (the retraining job reads ``recommendation_env`` from storage) and the
    retraining job, on ``resources``: what the drill and the retraining tests run the job in."""
    from dagster import load_assets_from_modules

    from definitions import ASSET_MODULES
    from jobs.retraining import policy_retraining_job

    return Definitions(
        assets=load_assets_from_modules(ASSET_MODULES), jobs=[policy_retraining_job], resources=resources
    )


def post(client: httpx.Client, path: str, body: dict, tries: int = 30) -> dict:
    """``POST path`` as a well-behaved client: on 429 wait as ``Retry-After`` says, then retry."""
    for _ in range(tries):
        answer = client.post(path, json=body)
        if answer.status_code != 429:
            answer.raise_for_status()
            return answer.json()
        time.sleep(float(answer.headers.get("Retry-After", 1)))
    answer.raise_for_status()
    return answer.json()


def serving_version(client: httpx.Client, name: str) -> str:
    return client.post("/models", json={}).json()["models"][name]["version"]


def wait_for_serving(client: httpx.Client, name: str, version: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving_version(client, name) == version:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the service still serves {name} v{serving_version(client, name)}, not v{version}")


def drill_once(
    client: httpx.Client,
    defs: Definitions,
    resources: dict,
    spec: EnvSpec,
    *,
    drifted: bool,
    seed: int,
    log: Callable[[str], None] = print,
) -> DrillRun:
    """Traffic until the sensor fires (at most ``drill.feedback_rows`` + one sensor interval),
    the retrain it requests, the hot swap, and the scores on the held-out populations."""
    s = resources["settings"].get()
    d, p = s.drill, s.policy
    scenario = d.scenarios[d.scenario]
    champion = registry.load_version(registry.POLICY, None, s)
    wait_for_serving(client, registry.POLICY, str(champion.version))
    listeners = drill.population(
        spec, scenario, d.feedback_rows + SENSOR_EVERY, seed, drifted=drifted, split="train"
    )
    traffic = drill.Traffic(listeners, d.playlist_size, p.bank.seconds, seed)
    store = resources["feedback"].store()
    cursor = str(store.latest_feedback_id())
    sensor = build_feedback_retraining_sensor(s.retrain.sensor_interval_seconds)
    request, sent = None, 0
    with DagsterInstance.ephemeral() as instance:
        for i in range(len(traffic)):
            answer = post(client, "/recommend", traffic.request(i))
            post(client, "/feedback", traffic.feedback(i, answer))
            sent += 1
            if sent % SENSOR_EVERY == 0:
                with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
                    result = sensor(ctx)
                    cursor = ctx.cursor or cursor
                if isinstance(result, RunRequest):
                    request = result
                    break
        if request is None:
            raise RuntimeError(
                f"the sensor did not fire after {sent} feedback rows "
                f"(retrain.min_new_feedback={s.retrain.min_new_feedback})"
            )
        log(f"{'drift' if drifted else 'control'} seed {seed}: sensor fired after {sent} feedback rows")
        job = defs.resolve_job_def("policy_retraining_job")
        result = job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags)
        report = result.output_for_node("retrained_policy")
        (materialization,) = result.asset_materializations_for_node("retrained_policy")
        metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    run = DrillRun("drift" if drifted else "control", seed, sent, str(champion.version), report, metadata)
    new = champion.obj
    if run.promoted:
        wait_for_serving(client, registry.POLICY, report["version"])  # hot-swapped, no restart
        new = registry.load_version(registry.POLICY, report["version"], s).obj
    held_out = drill.population(spec, scenario, d.eval_listeners, seed + 1000, drifted=drifted)
    run.scores = [
        drill.score(
            held_out, "drifted" if drifted else "control", champion.obj, new, p, d.eval_sessions, seed
        ),
        drill.score(spec, "original", champion.obj, new, p, d.eval_sessions, seed),
    ]
    log(f"  {run.row()}")
    return run
