"""The command line asking the running service vs loading the models itself: seconds per call.

Starts its own ``bentoml serve bento.service:Moodtune`` on a free port on the project's built
stores (``make up``), with a temporary BentoML home and the feedback store pointed at a
temporary SQLite file for the service and the command line alike (the project's feedback
database is never touched); ``--url`` measures an already running service instead (then the
commands write to its store). Each command runs ``--calls`` times through the real entry point,
a fresh ``python -m moodtune.cli`` process as a shell starts it, with ``--service URL`` and
with ``--service local`` in turn, and must give the same stdout both ways (the recommendation
id aside): ``recommend``, ``feedback``, ``recommend-text``, ``catalog``, ``analyze-audio``,
``analyze-image`` and ``analyze-hrv``. Prints the median and mean seconds per call of each path, their ratio, and the load
average before and after (the machine's other work shows in the figures).

    python benchmarks/cli.py                 # 5 calls per command and path
    python benchmarks/cli.py --calls 10 --url http://127.0.0.1:3001
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bento/ (make bench sets PYTHONPATH too)


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def moodtune(argv: list[str], env: dict) -> tuple[float, str]:
    """Seconds and stdout of one ``moodtune`` call (a failure stops the benchmark)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "moodtune.cli", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"moodtune {' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return took, done.stdout


def same_output(a: str, b: str) -> bool:
    """Equal stdout, the (per-call) recommendation ids aside."""

    def strip(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("recommendation ")]

    return strip(a) == strip(b)


def analysis_commands(work: Path) -> dict[str, list[str]]:
    """``analyze-audio`` on a catalog clip, ``analyze-image`` on a photo with a face and
    ``analyze-hrv`` on five minutes of RR intervals (the files written to ``work``)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    from moodtune.hrv.simulate import simulate_rr
    from moodtune.settings import get_settings

    clip = next(iter(sorted((Path(get_settings().data_dir) / "audio" / "clips").rglob("*.flac"))), None)
    if clip is None:
        raise SystemExit("no audio clip under the data dir's audio/clips: build the stack (make up)")
    Image.fromarray(data.astronaut()).save(work / "photo.jpg", quality=92)
    np.savetxt(work / "rr.txt", simulate_rr(0.5, 300, np.random.default_rng(31)), fmt="%.1f")
    return {
        "analyze-audio": ["analyze-audio", str(clip)],
        "analyze-image": ["analyze-image", str(work / "photo.jpg")],
        "analyze-hrv": ["analyze-hrv", str(work / "rr.txt")],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure a running service instead of starting one")
    parser.add_argument("--calls", type=int, default=5, help="calls per command and path")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="moodtune-bench-cli-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_LOGGING_LEVEL": "ERROR"}
    service = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        from bento.testing import ServiceProcess, import_models

        env.update(
            MOODTUNE_FEEDBACK__URL=f"sqlite:///{Path(tmp.name) / 'feedback.db'}",
            BENTOML_HOME=str(Path(tmp.name) / "bentoml"),
            BENTOML_DO_NOT_TRACK="True",
        )
        import_models(env)
        service = ServiceProcess(env, Path(tmp.name) / "service.log").start()
        url = service.url
    try:
        with urllib.request.urlopen(f"{url}/ui/api/catalog?limit=8", timeout=30) as r:
            ids = [t["track_id"] for t in json.loads(r.read())["tracks"]]
        _, first = moodtune(
            [
                "recommend",
                *ids,
                "--age",
                "30",
                "--gender",
                "female",
                "--mood",
                "2",
                "--json",
                "--service",
                url,
            ],
            env,
        )
        rid = json.loads(first)["recommendation_id"]
        commands = {
            "recommend": ["recommend", *ids, "--age", "30", "--gender", "female", "--mood", "2", "-k", "3"],
            "feedback": ["feedback", rid, ids[1], "--stress", "low"],
            "recommend-text": ["recommend-text", "想念你，好难过", "-k", "5"],
            "catalog": ["catalog", "-n", "5"],
            **analysis_commands(Path(tmp.name)),
        }
        print(f"service {url}; {args.calls} calls per command and path; {os.cpu_count()} CPUs; load {load()}")
        print(f"{'command':15} {'service s':>20} {'local s':>20} {'local/service':>14}")
        for name, command in commands.items():
            times: dict[str, list[float]] = {"service": [], "local": []}
            outputs: dict[str, str] = {}
            for _ in range(args.calls):
                for path, where in (("service", url), ("local", "local")):
                    took, out = moodtune([*command, "--service", where], env)
                    times[path].append(took)
                    outputs[path] = out
            if name != "feedback" and not same_output(outputs["service"], outputs["local"]):
                raise SystemExit(
                    f"{name}: the service's output differs from the local one:\n"
                    f"{outputs['service']}\n---\n{outputs['local']}"
                )
            med = {p: statistics.median(t) for p, t in times.items()}
            mean = {p: statistics.fmean(t) for p, t in times.items()}
            print(
                f"{name:15} {med['service']:8.2f} (mean {mean['service']:5.2f}) {med['local']:8.2f} "
                f"(mean {mean['local']:5.2f}) {med['local'] / med['service']:13.1f}x"
            )
        print(f"load average after: {load()}")
    finally:
        if service is not None:
            service.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
