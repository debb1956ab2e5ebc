"""``moodtune analyze-hrv FILE``: RR intervals or an HRV metrics CSV -> stress level."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtune import registry
from moodtune.cli import command
from moodtune.errors import InvalidHRV


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path,
                        help="RR intervals in ms (one per line, or a CSV with an rr/rr_ms/ibi column) "
                             "or a CSV of the eight metrics (MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF)")
    parser.add_argument("--alias", default="champion", help="registry alias of moodtune-hrv (default champion)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")


@command("analyze-hrv", "read the stress level (low/medium/high) from RR intervals or HRV metrics", _arguments)
def analyze_hrv(args: argparse.Namespace) -> int:
    from moodtune.hrv.constants import METRIC_COLUMNS, UNITS
    from moodtune.settings import get_settings

    if not args.file.is_file():
        raise InvalidHRV(f"{args.file} is not a file; give RR intervals (ms, one per line) or a metrics CSV")
    reader = registry.load(registry.HRV, args.alias, get_settings())
    result = reader.read(args.file)
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
            print(f"    {int(row['n_intervals'])} intervals, {row['duration_s']:.0f} s, "
                  f"{int(row['n_artifacts'])} artefacts corrected ({row['artifact_fraction']:.1%})")
    return 0
