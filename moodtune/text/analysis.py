"""Chinese text -> emotion, seed B's method without its slow lookup.

For a text ``d`` (seed B): jieba TF-IDF keywords ``key(d)`` (top 20, jieba's IDF table, words
shorter than 2 characters and jieba's stop words left out), and

    E(d) = sum over t in key(d) of I_t * tfidf(t, d)

summed per category, **unnormalised**: a text keeps its absolute strength until the texts of
a track are combined; normalise only after aggregation.

Our differences from the seed, each deliberate:

* the lexicon lookup is a dict (O(1)), not a scan of per-category lists;
* the tokenizer knows the lexicon's words (``add_lexicon_words``), so idioms such as 欢天喜地
  are not cut into pieces that carry no emotion;
* **negation**: an emotion word whose previous token (spaces skipped) is a negator
  (不, 没, 没有, 别 by default), or a token made of a negator followed by an emotion word
  (jieba keeps 别难过 whole), is *negated*. A negated occurrence contributes nothing: "不开心" is
  not evidence of 开心, and DLUT has no reliable opposite for each of its 21 categories
  (不快乐 is not necessarily 悲伤), so we drop it rather than guess. A keyword's TF-IDF weight
  is scaled by its share of non-negated occurrences, and negated words are reported;
* a text without emotional words gives an explicit "no emotion found" result, never a zero
  vector that would silently match anything.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidText
from moodtune.text.lexicon import Lexicon

DEFAULT_NEGATORS: tuple[str, ...] = ("不", "没", "没有", "别")
NO_EMOTION = "no emotion found"


@dataclass(frozen=True)
class AnalyzerOptions:
    top_keywords: int = 20
    min_keyword_chars: int = 2
    negators: tuple[str, ...] = DEFAULT_NEGATORS
    add_lexicon_words: bool = True

    @classmethod
    def from_settings(cls, settings) -> AnalyzerOptions:
        t = settings.text
        return cls(t.top_keywords, t.min_keyword_chars, tuple(t.negators), t.add_lexicon_words)


@dataclass(frozen=True)
class Keyword:
    """A keyword that carried emotion: its TF-IDF weight, the weight left after negation and
    what it added to each category."""

    word: str
    tfidf: float
    weight: float
    contributions: dict[str, float]


@dataclass(frozen=True)
class TextEmotion:
    """The emotion of one text. ``vector`` is raw (unnormalised) or ``None`` when no emotion
    was found; ``keywords`` produced it; ``negated`` lists emotion words that were negated."""

    vector: EmotionVector | None
    keywords: tuple[Keyword, ...] = ()
    negated: tuple[str, ...] = ()
    granularity: str = "fine"
    message: str = field(default="")

    @property
    def found(self) -> bool:
        return self.vector is not None

    def normalised(self) -> EmotionVector:
        """The L1-normalised vector; :class:`InvalidText` when no emotion was found."""
        if self.vector is None:
            raise InvalidText(self.message or NO_EMOTION)
        return self.vector.normalise()

    def as_dict(self) -> dict[str, object]:
        return {
            "found": self.found,
            "message": self.message,
            "granularity": self.granularity,
            "emotion": self.vector.normalise().as_dict() if self.vector is not None else None,
            "strength": self.vector.total if self.vector is not None else 0.0,
            "keywords": [{"word": k.word, "tfidf": k.tfidf, "weight": k.weight,
                          "contributions": k.contributions} for k in self.keywords],
            "negated": list(self.negated),
        }


def _quiet_jieba():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jieba imports the deprecated pkg_resources
        import jieba
        import jieba.analyse
    jieba.setLogLevel(logging.WARNING)
    return jieba, jieba.analyse


class TextAnalyzer:
    """Keyword extraction + lexicon lookup for one lexicon, with its own jieba tokenizer
    (the global ``jieba.dt`` is left untouched)."""

    def __init__(self, lexicon: Lexicon, options: AnalyzerOptions | None = None):
        jieba, analyse = _quiet_jieba()
        self.lexicon = lexicon
        self.options = options or AnalyzerOptions()
        self.codes = lexicon.codes
        self.granularity = lexicon.granularity
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        if self.options.add_lexicon_words:
            freq = self.tokenizer.FREQ
            for word in lexicon.words:
                if freq.get(word, 0) <= 0:
                    self.tokenizer.add_word(word)
        tfidf = analyse.default_tfidf
        self.idf: dict[str, float] = tfidf.idf_freq
        self.median_idf: float = tfidf.median_idf
        self.stop_words = frozenset(tfidf.stop_words)
        self.negators = frozenset(self.options.negators)
        # longest first, so 没有难过 is read as 没有 + 难过 rather than 没 + 有难过
        self._prefixes = tuple(sorted(self.negators, key=len, reverse=True))
        self._prefix_starts = frozenset(n[0] for n in self.negators if n)
        self._profiles = lexicon.profiles

    # -- the core: one pass over the tokens -------------------------------------------------
    def keywords(self, text: str) -> tuple[list[tuple[str, float]], dict[str, int], dict[str, int]]:
        """jieba's TF-IDF top keywords ``[(word, weight)]`` (identical to
        ``jieba.analyse.extract_tags`` with this tokenizer), plus per-word occurrence counts and
        negated-occurrence counts of emotion words."""
        counts: dict[str, int] = {}
        negated: dict[str, int] = {}
        profiles, negators, stop = self._profiles, self.negators, self.stop_words
        starts = self._prefix_starts
        min_chars = self.options.min_keyword_chars
        prev = ""
        for tok in self.tokenizer.cut(text):
            stripped = tok.strip()
            if not stripped:
                continue
            if len(stripped) >= min_chars and tok.lower() not in stop:
                counts[tok] = counts.get(tok, 0) + 1
            if tok in profiles:
                if prev in negators:
                    negated[tok] = negated.get(tok, 0) + 1
            elif stripped[0] in starts:
                for neg in self._prefixes:
                    rest = stripped[len(neg):]
                    if stripped.startswith(neg) and rest in profiles:
                        negated[rest] = negated.get(rest, 0) + 1
                        break
            prev = stripped
        if not counts:
            return [], counts, negated
        total = float(sum(counts.values()))
        idf, median = self.idf, self.median_idf
        weights = {w: c * (idf.get(w, median) / total) for w, c in counts.items()}
        top = sorted(weights, key=weights.__getitem__, reverse=True)[: self.options.top_keywords]
        return [(w, weights[w]) for w in top], counts, negated

    def weigh(self, top: list[tuple[str, float]], counts: Mapping[str, int], negated: Mapping[str, int]
              ) -> tuple[list[tuple[str, float, float, tuple]], list[str]]:
        """The emotion words among the ``top`` keywords, each as ``(word, tfidf, weight,
        profile)`` with its weight cut by the share of negated occurrences, and the words
        dropped because every occurrence was negated (also inside a token: 别难过)."""
        kept: list[tuple[str, float, float, tuple]] = []
        dropped: list[str] = []
        profiles = self._profiles
        for word, tfidf in top:
            prof = profiles.get(word)
            if prof is None:
                continue
            weight = tfidf
            n_neg = negated.get(word, 0)
            if n_neg:
                weight *= (counts[word] - n_neg) / counts[word]
            if weight <= 0:
                dropped.append(word)
                continue
            kept.append((word, tfidf, weight, prof))
        dropped.extend(w for w in negated if w not in counts)
        return kept, dropped

    def raw(self, text: str) -> tuple[list[float] | None, list[tuple[str, float]], list[str]]:
        """Fast path for bulk annotation: ``(strengths or None, [(word, contribution)], negated)``."""
        kept, dropped = self.weigh(*self.keywords(text))
        values = [0.0] * len(self.codes)
        used: list[tuple[str, float]] = []
        for word, _, weight, prof in kept:
            added = 0.0
            for i, strength in prof:
                values[i] += weight * strength
                added += weight * strength
            used.append((word, added))
        return (values if used else None), used, dropped

    def analyse(self, text: str) -> TextEmotion:
        """The emotion of ``text`` with the keywords that produced it."""
        if not isinstance(text, str):
            raise InvalidText(f"expected a text, got {type(text).__name__}")
        if not text.strip():
            raise InvalidText("the text is empty; write a sentence about how you feel, e.g. 今天很开心")
        kept, dropped = self.weigh(*self.keywords(text))
        values = np.zeros(len(self.codes))
        kws: list[Keyword] = []
        for word, tfidf, weight, prof in kept:
            contrib = {self.codes[i]: weight * s for i, s in prof}
            for i, s in prof:
                values[i] += weight * s
            kws.append(Keyword(word, tfidf, weight, contrib))
        if not kws:
            why = (f"{NO_EMOTION}: its emotion words are negated ({', '.join(dropped)})" if dropped else
                   f"{NO_EMOTION}: none of its keywords is in the emotion lexicon; "
                   "use words that say how you feel, e.g. 开心, 难过, 想念, 害怕")
            return TextEmotion(None, (), tuple(dropped), self.granularity, why)
        return TextEmotion(EmotionVector(values, self.granularity), tuple(kws), tuple(dropped),
                           self.granularity)


_ANALYZERS: weakref.WeakKeyDictionary[Lexicon, dict[AnalyzerOptions, TextAnalyzer]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def analyzer_for(lexicon: Lexicon, options: AnalyzerOptions | None = None) -> TextAnalyzer:
    """A cached analyzer per (lexicon, options): building one loads jieba's dictionary (~1 s)."""
    options = options or AnalyzerOptions()
    with _LOCK:
        per_lexicon = _ANALYZERS.setdefault(lexicon, {})
        if options not in per_lexicon:
            per_lexicon[options] = TextAnalyzer(lexicon, options)
        return per_lexicon[options]


def emotion_of(text: str, lexicon: Lexicon, options: AnalyzerOptions | None = None) -> TextEmotion:
    """The raw (unnormalised) emotion of ``text`` and the keywords that produced it; an
    explicit "no emotion found" result (``found`` false) when it has no emotional words."""
    return analyzer_for(lexicon, options).analyse(text)
