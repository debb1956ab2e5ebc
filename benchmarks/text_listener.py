"""Text on listeners' own words (issue 31): coarse accuracy on first-person sentences.

Reads ``tests/data/listener_sentences.tsv`` (labelled before scoring, fixed tune / held-out
split) and prints, for the reader of ``params.yaml`` without and with the listener-state
lexicon and mood rule (:mod:`moodtune.text.listener`), the accuracy of the top coarse group
(as ``/recommend_text`` reads it) on both halves, the confusion matrices, and the tuning
sentences still read wrong (the held-out ones are not listed: they guide nothing). The reader
uses the learned text tables made from the review corpus's tuning split as the
``learned_text_tables`` asset makes them, or a stored file (``--tables``).

    .venv/bin/python benchmarks/text_listener.py [--tables data/text/learned_tables.json]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodtune.settings import get_settings  # noqa: E402
from moodtune.text import listener as L  # noqa: E402
from moodtune.text import validation as V  # noqa: E402
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer  # noqa: E402
from moodtune.text.lexicon import load_lexicon  # noqa: E402
from moodtune.text.tables import load_tables  # noqa: E402

TARGET = 0.80


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tables",
        type=Path,
        default=None,
        help="a stored learned_tables.json (default: made here from the tuning split)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    lexicon = load_lexicon(settings)
    tables = load_tables(args.tables) if args.tables else V.make_tables(lexicon, settings)
    options = AnalyzerOptions.from_settings(settings.text, tables)
    sentences = L.load_sentences()
    print(
        f"{len(sentences)} sentences from {L.SENTENCES.name}; listener lexicon v{L.VERSION}, "
        f"{len(L.LISTENER_WORDS)} words; lexicon {lexicon.source.split(':')[0]} ({lexicon.granularity}); "
        f"learned text tables {tables.digest} ({len(tables.learned)} learned, {len(tables.ambiguous)} ambiguous)"
    )
    held = None
    for name, listener in (
        ("before (no listener lexicon)", False),
        ("after (listener lexicon + mood rule)", True),
    ):
        analyzer = TextAnalyzer(lexicon, replace(options, listener_lexicon=listener))
        reports = {
            split: L.evaluate(
                lambda t, a=analyzer: L.coarse_group(a, t), [s for s in sentences if s.split == split]
            )
            for split in ("tune", "heldout")
        }
        print(f"\n== {name} ==")
        for split, rep in reports.items():
            print(f"{split:8s} n={rep.n:3d}  accuracy {rep.accuracy:.3f}")
        for split in ("tune", "heldout"):
            print(f"\n{split} confusion (rows: label, columns: reading)\n{L.confusion_table(reports[split])}")
        print("\ntuning sentences read wrong:")
        for s, got in reports["tune"].wrong:
            print(f"  {s.id} {s.group} -> {got}: {s.text}")
        held = reports["heldout"].accuracy
    print(f"\nheld-out accuracy {held:.3f}, target >= {TARGET}: {'PASS' if held >= TARGET else 'FAIL'}")
    return 0 if held >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
