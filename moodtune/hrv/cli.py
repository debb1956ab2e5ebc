"""``moodtune analyze-hrv FILE [--baseline FILE] [--sampling-rate HZ]``: RR intervals, a raw ECG/PPG
CSV or an HRV metrics CSV -> stress level (through :meth:`StressReader.read`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtune.cli import command, loading
from moodtune.errors import InvalidHRV


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path,
                        help="RR intervals in ms (one per line, or a CSV with an rr/rr_ms/ibi column), a raw "
                             "ECG/PPG CSV (an ecg or ppg column) or a CSV of the eight metrics "
                             "(MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="the same person's resting recording (RR, ECG or PPG): stress is read against it")
    parser.add_argument("--sampling-rate", type=float, default=None,
                        help="Hz of a raw ECG/PPG signal without a time column or '# sampling_rate:' line")
    parser.add_argument("--alias", default="champion", help="registry alias of moodtune-hrv (default champion)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")


@command("analyze-hrv", "read the stress level (low/medium/high) from RR intervals or HRV metrics", _arguments)
def analyze_hrv(args: argparse.Namespace) -> int:
    import numpy as np

    from moodtune import registry
    from moodtune.hrv.constants import ARTEFACT_TYPES, METRIC_COLUMNS, RATIO_COLUMNS, UNITS
    from moodtune.settings import get_settings

    for path in (args.file, args.baseline):
        if path is not None and not path.is_file():
            raise InvalidHRV(f"{path} is not a file; give RR intervals (ms, one per line), an ECG/PPG CSV or a "
                             "metrics CSV")
    with loading("loading the HRV model"):
        reader = registry.load(registry.HRV, args.alias, get_settings())
    result = reader.read(args.file, baseline=args.baseline, sampling_rate=args.sampling_rate)
    if args.json:
        for row in result.to_dict("records"):
            print(json.dumps(row))
        return 0
    print(f"moodtune-hrv v{reader.version} · {args.file.name} · {len(result)} row(s)")
    for i, row in result.iterrows():
        probs = "  ".join(f"{c[2:]} {row[c]:.2f}" for c in ("p_low", "p_medium", "p_high"))
        print(f"[{i}] stress {row['level'].upper():6}  {probs}")
        if "n_artifacts" in row:
            values = ", ".join(f"{m} {row[m]:.1f} {UNITS[m]}" for m in METRIC_COLUMNS)
            print(f"    {values}")
            kinds = ", ".join(f"{int(row[f'n_{k}'])} {k}" for k in ARTEFACT_TYPES if row[f"n_{k}"])
            print(f"    {int(row['n_intervals'])} intervals, {row['duration_s']:.0f} s, "
                  f"{int(row['n_artifacts'])} artefacts corrected ({row['artifact_fraction']:.1%}"
                  f"{': ' + kinds if kinds else ''})")
        if "dlog_RMSSD" in row:
            print("    against the baseline: " + ", ".join(
                f"{c[5:]} {np.exp(row[c]) - 1:+.0%}" for c in RATIO_COLUMNS))
    return 0
