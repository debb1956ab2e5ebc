"""HRV throughput: recordings/s for RR intervals -> eight metrics -> stress level.

Measured in one run on the same simulated 5-minute recordings:

* ours, one recording at a time (``StressReader.read(rr)``: validation, artefact correction,
  metrics, CatBoost) and in a batch (``analyze`` per recording, one ``predict_proba``);
* the cost of the Kubios artefact correction: RR -> level with it, without it
  (``correct_artifacts`` swapped for the identity in this process only), with one pass only and
  with neurokit2's own pandas thresholds (``moodtune.hrv.kubios_speedup`` undone), interleaved
  per recording, as ratios; correction must not make RR -> level more than 2x slower;
* the reference: neurokit2's stock route to the same indices, ``nk.hrv_time`` +
  ``nk.hrv_frequency`` with its defaults (100 Hz interpolation), no artefact handling;
* the simulator the policy environment calls (``simulate_rr``), in calls/s;
* an upload's work budget: refusing a 1,000,000-line RR file from its line count (the service's
  caps) against parsing the same file's numbers (``parse_rr_text``), as a ratio: nothing of the
  big file is parsed, so the refusal must cost well under the parse (< 0.5x).

Run: ``.venv/bin/python benchmarks/hrv.py [recordings]`` (default 120; about a minute).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from moodtune.hrv import LEVELS, METRIC_COLUMNS, StressReader, analyze  # noqa: E402
from moodtune.hrv.constants import ARTEFACT_TYPES  # noqa: E402
from moodtune.hrv.model import fit  # noqa: E402
from moodtune.hrv.pipeline import compute_metrics  # noqa: E402
from moodtune.hrv.simulate import simulate_dataset, simulate_rr  # noqa: E402
from moodtune.settings import get_settings  # noqa: E402

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code
SEED = get_settings().project.seed


def _with_kubios(**changes):
    """The hrv section with ``hrv.metrics.kubios`` changed."""
    kubios = HRV.metrics.kubios.model_copy(update=changes)
    return HRV.model_copy(update={"metrics": HRV.metrics.model_copy(update={"kubios": kubios})})


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10.1f}/s ({seconds * 1000 / n:6.2f} ms each)"


def main(n: int = 120) -> None:
    warnings.simplefilter("ignore")
    import neurokit2 as nk

    train, _ = compute_metrics(simulate_dataset(12, 2, 300, seed=0), HRV.metrics)
    reader = StressReader(fit(train, HRV.model.model_copy(update={"iterations": 200}), SEED), HRV)
    per_level = max(1, n // 3 // 10)
    recordings = simulate_dataset(10, per_level, 300, seed=1)["rr_ms"].tolist()[:n]
    n = len(recordings)
    reader.read(recordings[0])  # warm up imports

    t = time.perf_counter()
    one_by_one = [reader.read(rr) for rr in recordings]
    t_single = time.perf_counter() - t

    t = time.perf_counter()
    table = pd.DataFrame([analyze(rr, HRV.metrics).values for rr in recordings])
    proba = reader.predict_proba(table)
    t_batch = time.perf_counter() - t

    # the cost of the correction: RR -> level with it, without it (correct_artifacts swapped for
    # the identity) and with one pass only, interleaved recording by recording so that the load
    # of a shared machine weighs on all three alike
    import importlib

    hrv_metrics = importlib.import_module(
        "moodtune.hrv.metrics"
    )  # the module (the package exports a function so named)
    corrected = hrv_metrics.correct_artifacts
    identity = lambda rr, config: (rr.copy(), dict.fromkeys(ARTEFACT_TYPES, 0))  # noqa: E731
    one_pass = StressReader(reader.model, _with_kubios(max_passes=1, iterate_above=1.0))
    iterative = StressReader(reader.model, _with_kubios(max_passes=10))
    from moodtune.hrv import kubios_speedup

    swap = kubios_speedup.install()
    t_with = t_without = t_one_pass = t_iterative = t_stock = 0.0
    for rr in recordings:
        t = time.perf_counter()
        reader.read(rr)
        t_with += time.perf_counter() - t
        t = time.perf_counter()
        one_pass.read(rr)
        t_one_pass += time.perf_counter() - t
        t = time.perf_counter()
        iterative.read(rr)
        t_iterative += time.perf_counter() - t
        with kubios_speedup.switched_off():
            t = time.perf_counter()
            reader.read(rr)
            t_stock += time.perf_counter() - t
        hrv_metrics.correct_artifacts = identity
        try:
            t = time.perf_counter()
            reader.read(rr)
            t_without += time.perf_counter() - t
        finally:
            hrv_metrics.correct_artifacts = corrected

    t = time.perf_counter()
    for rr in recordings:
        peaks = {"RRI": rr, "RRI_Time": np.cumsum(rr) / 1000.0}
        nk.hrv_time(peaks)
        nk.hrv_frequency(peaks, normalize=False)
    t_ref = time.perf_counter() - t

    rng = np.random.default_rng(0)
    sims = 1000
    t = time.perf_counter()
    for i in range(sims):
        simulate_rr((i % 11) / 10, 300, rng)
    t_sim = time.perf_counter() - t

    t = time.perf_counter()
    big = pd.concat([table[list(METRIC_COLUMNS)]] * 50, ignore_index=True)
    reader.predict_proba(big)
    t_proba = time.perf_counter() - t

    from moodtune.errors import TooMuchInput
    from moodtune.hrv.data import parse_rr_text
    from moodtune.hrv.reader import InputCaps

    capped = reader.with_caps(InputCaps(max_intervals=20_000, max_rows=1_000, max_samples=1_000_000))
    huge = "\n".join(str(800 + int(v)) for v in rng.integers(-40, 41, 1_000_000)).encode()
    refusals = 5
    t = time.perf_counter()
    for _ in range(refusals):
        try:
            capped.read(huge, filename="rr_1M.txt")
        except TooMuchInput:
            pass
    t_refuse = (time.perf_counter() - t) / refusals
    t = time.perf_counter()
    parse_rr_text(huge.decode(), "rr_1M.txt")
    t_parse = time.perf_counter() - t

    agree = np.mean([r["level"].iloc[0] for r in one_by_one] == np.asarray(LEVELS)[proba.argmax(1)])
    print(
        f"HRV benchmark: {n} simulated 5-min recordings (~{np.mean([len(r) for r in recordings]):.0f} beats each)"
    )
    print(f"  ours, RR -> metrics -> level, one at a time  {_rate(n, t_single)}")
    print(f"  ours, RR -> metrics, then one predict_proba  {_rate(n, t_batch)}")
    print(f"  reference nk.hrv_time + nk.hrv_frequency     {_rate(n, t_ref)}  (metrics only, no level)")
    print(
        f"  RR -> level, interleaved: with correction    {_rate(n, t_with)}  (hrv.metrics.kubios.max_passes)"
    )
    print(f"                            without correction {_rate(n, t_without)}")
    print(f"                            one Kubios pass    {_rate(n, t_one_pass)}")
    print(f"                            nk iterative=True  {_rate(n, t_iterative)}")
    print(f"                            nk's own thresholds{_rate(n, t_stock)}  (kubios_speedup off)")
    print(
        f"  ratio with / without Kubios correction:      {t_with / t_without:.2f}x (must stay < 2x; one pass "
        f"{t_one_pass / t_without:.2f}x, iterative {t_iterative / t_without:.2f}x, "
        f"nk's own thresholds {t_stock / t_without:.2f}x)"
    )
    print(f"  kubios_speedup: {swap['reason']}")
    print(f"  ratio ours (batch, incl. level) / reference: {t_ref / t_batch:.2f}x")
    print(f"  {f'predict_proba on {len(big)} metric rows':<45}{_rate(len(big), t_proba)}")
    print(f"  {'simulate_rr(stress, 300 s)':<45}{_rate(sims, t_sim)}")
    print(f"  single and batch paths agree on {agree:.0%} of levels")
    print(
        f"  refusing a 1,000,000-line RR upload: {t_refuse * 1000:.0f} ms = "
        f"{t_refuse / t_parse:.2f}x parsing its numbers ({t_parse * 1000:.0f} ms; must stay < 0.5x)"
    )
    print(f"  load average {os.getloadavg()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 120)
