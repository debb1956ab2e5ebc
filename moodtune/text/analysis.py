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

With ``AnalyzerOptions(rules=True)`` (what ``params.yaml`` sets) the text is read with the
lexicon stack (:mod:`moodtune.text.stack`) and these rules, in one pass over jieba's tokens
(a token that is a negator or degree adverb glued to an emotion word, 很差, 不开心, is split):

* **negation scope**: a negator negates the emotion words after it up to the next punctuation
  or ``negation_scope`` tokens; a second negator cancels the first. A negated word's evidence
  flips: it goes, times ``negation_flip``, to the opposite category
  (:data:`moodtune.emotions.NEGATED`), softened by ``weak_negation`` for 不太, 没那么 and for a
  degree adverb between the negator and the word;
* **degree**: a degree adverb multiplies the next emotion word of its clause (HowNet's levels);
  好/太 before an emotion word are adverbs, not evidence;
* **contrast**: after 但是, 可是, 不过, ... the rest of the sentence weighs ``contrast_after``,
  what came before in the sentence ``contrast_before``;
* **wishes**: after 希望, 如果, 建议, ... the clause weighs ``irrealis_weight``;
* **questions**: a sentence that ends in ？ weighs ``question_weight`` (它也叫五星级？ asserts nothing);
* every emotion word counts (``every_emotion_word``), with seed B's TF-IDF weight as the base;
* the **learned layer** (``learned_lexicon``): words no lexicon holds, with the polarity their
  log-odds on the validation corpus's tuning split give them, and the **ambiguous words** that
  split contradicts left out (``drop_ambiguous``): both tables are an input
  (``AnalyzerOptions.tables``, :mod:`moodtune.text.tables`, made by the ``learned_text_tables`` asset);
* the **valence-arousal point** is the mean of the words' Chinese EmoBank ratings (or their
  categories' design points) weighted by the same weights; a negated word's valence is mirrored.

Rules and their measured effect: ``docs/text.md``.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidText
from moodtune.text.config import TextSettings
from moodtune.text.lexicon import Lexicon
from moodtune.text.listener import MOOD_SUBJECTS, listener_profiles, mood_profiles
from moodtune.text.resources import CLAUSE_END, SENTENCE_END, Resources, load_resources
from moodtune.text.stack import Stack, build_stack
from moodtune.text.tables import TextTables

DEFAULT_NEGATORS: tuple[str, ...] = ("不", "没", "没有", "别")
# negators that only soften (不太好 is "not very good", not "bad")
WEAK_NEGATORS = frozenset(
    {"不太", "不怎么", "没那么", "不大", "不够", "不算", "谈不上", "算不上", "称不上", "未必"}
)
NO_EMOTION = "no emotion found"
CACHE_ENTRIES = 200_000  # per cache (blocks, texts); cleared when full, so memory stays bounded


@dataclass(frozen=True)
class AnalyzerOptions:
    """How a text is read. The defaults are seed B plus previous-token negation (a negated word
    is dropped); ``rules=True`` turns on the lexicon stack and the rules (module docstring),
    which is what ``params.yaml`` configures."""

    top_keywords: int = 20
    min_keyword_chars: int = 2
    negators: tuple[str, ...] = DEFAULT_NEGATORS
    add_lexicon_words: bool = True
    rules: bool = False
    polarity_lexicons: tuple[str, ...] = ("hownet", "ntusd")
    polarity_weight: float = 1.0
    emobank_polarity: bool = False
    default_intensity: float = 5.0
    negation_scope: int = 4
    negation_flip: float = 0.8
    degree: tuple[tuple[str, float], ...] = (("most", 2.0), ("very", 1.5), ("more", 1.25), ("ish", 0.6))
    weak_negation: float = 0.5
    contrast_before: float = 0.5
    contrast_after: float = 1.5
    every_emotion_word: bool = True
    single_char_words: bool = True
    single_source_min_idf: float = 0.0
    negative_weight: float = 1.0
    irrealis_weight: float = 1.0
    drop_ambiguous: bool = False
    question_weight: float = 1.0
    learned_lexicon: bool = False
    learned_weight: float = 1.0
    listener_lexicon: bool = True  # with the rules: the listener-state lexicon (moodtune.text.listener)
    # the learned layer and the ambiguous words (the learned_text_tables asset): needed when the
    # rules drop ambiguous words or add the learned layer
    tables: TextTables | None = None

    @property
    def needs_tables(self) -> bool:
        return self.rules and (self.drop_ambiguous or (self.learned_lexicon and self.learned_weight > 0))

    @classmethod
    def from_settings(cls, t: TextSettings, tables: TextTables | None = None) -> AnalyzerOptions:
        """The options of params.yaml's ``text`` section ``t``, reading with ``tables`` (the
        ``learned_text_tables`` asset's output, :func:`moodtune.text.tables.load_tables`, or an
        index's own)."""
        r = t.rules
        return cls(
            t.top_keywords,
            t.min_keyword_chars,
            tuple(t.negators),
            t.add_lexicon_words,
            rules=r.enabled,
            polarity_lexicons=tuple(r.polarity_lexicons),
            polarity_weight=r.polarity_weight,
            emobank_polarity=r.emobank_polarity,
            default_intensity=t.default_intensity,
            negation_scope=r.negation_scope,
            negation_flip=r.negation_flip,
            degree=tuple(sorted(r.degree.items())),
            weak_negation=r.weak_negation,
            contrast_before=r.contrast_before,
            contrast_after=r.contrast_after,
            every_emotion_word=r.every_emotion_word,
            single_char_words=r.single_char_words,
            single_source_min_idf=r.single_source_min_idf,
            negative_weight=r.negative_weight,
            irrealis_weight=r.irrealis_weight,
            drop_ambiguous=r.drop_ambiguous,
            question_weight=r.question_weight,
            learned_lexicon=r.learned_lexicon,
            learned_weight=r.learned_weight,
            tables=tables,
        )


@dataclass(frozen=True)
class Keyword:
    """A keyword that carried emotion: its TF-IDF weight, the weight left after negation and
    what it added to each category."""

    word: str
    tfidf: float
    weight: float
    contributions: dict[str, float]
    negated: bool = False  # this entry is the word's negated evidence (rules: its polarity flipped)


@dataclass(frozen=True)
class TextEmotion:
    """The emotion of one text. ``vector`` is raw (unnormalised) or ``None`` when no emotion
    was found; ``keywords`` produced it; ``negated`` lists emotion words that were negated."""

    vector: EmotionVector | None
    keywords: tuple[Keyword, ...] = ()
    negated: tuple[str, ...] = ()
    granularity: str = "fine"
    message: str = field(default="")
    # rules: the valence-arousal point (-1..1 each) and the evidence weight behind it
    va: tuple[float, float] | None = None
    va_weight: float = 0.0

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
            "keywords": [
                {
                    "word": k.word,
                    "tfidf": k.tfidf,
                    "weight": k.weight,
                    "contributions": k.contributions,
                    "negated": k.negated,
                }
                for k in self.keywords
            ],
            "negated": list(self.negated),
            "valence_arousal": (
                {"valence": self.va[0], "arousal": self.va[1]} if self.va is not None else None
            ),
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

    def __init__(
        self, lexicon: Lexicon, options: AnalyzerOptions | None = None, resources: Resources | None = None
    ):
        jieba, analyse = _quiet_jieba()
        self.lexicon = lexicon
        self.options = options or AnalyzerOptions()
        self.codes = lexicon.codes
        self.granularity = lexicon.granularity
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        opts = self.options
        self.stack: Stack | None = None
        self.resources: Resources | None = None
        negators = frozenset(opts.negators)
        words: Iterable[str] = lexicon.words
        if opts.needs_tables and opts.tables is None:
            raise ValueError(
                "the rules drop ambiguous words and/or add the learned layer, but no learned text "
                "tables were given: pass AnalyzerOptions.from_settings(settings.text, tables) with the "
                "learned_text_tables asset's output (moodtune.text.tables.load_tables)"
            )
        if opts.rules:
            tables = opts.tables
            self.resources = resources or load_resources(tuple(opts.polarity_lexicons))
            self.stack = build_stack(
                lexicon,
                self.resources,
                default_intensity=opts.default_intensity,
                polarity_weight=opts.polarity_weight,
                emobank_polarity=opts.emobank_polarity,
                idf=analyse.default_tfidf.idf_freq,
                median_idf=analyse.default_tfidf.median_idf,
                single_source_min_idf=opts.single_source_min_idf,
                negative_weight=opts.negative_weight,
                drop=tables.dropped if opts.drop_ambiguous and tables else frozenset(),
                learned=tables.learned if opts.learned_lexicon and tables else None,
                learned_weight=opts.learned_weight,
                listener=(
                    listener_profiles(lexicon.codes, lexicon.granularity) if opts.listener_lexicon else None
                ),
            )
            negators = negators | self.resources.negators
            # 心情很差, 心情特别好: a bare praise/blame word said of one's mood is 哀 / 乐
            self._mood = (
                mood_profiles(self.stack.profiles, self.codes, self.granularity)
                if opts.listener_lexicon
                else {}
            )
            self._mood_subjects = MOOD_SUBJECTS if self._mood else frozenset()
            # polarity-only words are not taught to the tokenizer: 心情愉快 must stay 心情 + 愉快;
            # learned words were learned from its tokens
            words = [
                *(w for w, o in self.stack.origin.items() if o not in ("polarity", "learned")),
                *negators,
                *self.resources.contrast,
            ]
            self._degree = {
                w: dict(opts.degree).get(level, 1.0)
                for w, level in self.resources.degree.items()
                if level in dict(opts.degree)
            }
            self._weak = frozenset(w for w in negators if w in WEAK_NEGATORS)
            self._modifier_prefixes = tuple(sorted({*negators, *self._degree}, key=len, reverse=True))
            self._negator_prefixes = tuple(sorted(negators, key=len, reverse=True))
            self._piece_cache: dict[str, list[str]] = {}
            self._block_cache: dict[str, list[str]] = {}
            self._blocks = jieba.re_han_default  # the blocks jieba cuts independently
            self._raw_cache: dict[str, tuple] = {}
        if opts.add_lexicon_words:
            freq = self.tokenizer.FREQ
            for word in words:
                if freq.get(word, 0) <= 0:
                    self.tokenizer.add_word(word)
        tfidf = analyse.default_tfidf
        self.idf: dict[str, float] = tfidf.idf_freq
        self.median_idf: float = tfidf.median_idf
        self.stop_words = frozenset(tfidf.stop_words)
        self.negators = negators
        # longest first, so 没有难过 is read as 没有 + 难过 rather than 没 + 有难过
        self._prefixes = tuple(sorted(self.negators, key=len, reverse=True))
        self._prefix_starts = frozenset(n[0] for n in self.negators if n)
        self._profiles = self.stack.profiles if self.stack is not None else lexicon.profiles

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
                    rest = stripped[len(neg) :]
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

    def weigh(
        self, top: list[tuple[str, float]], counts: Mapping[str, int], negated: Mapping[str, int]
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

    # -- the rules: one pass with negation scope, degree and contrast ----------------------
    def evidence(self, text: str) -> tuple[list[tuple[str, float, float, tuple, bool]], list[str]]:
        """The emotion evidence of ``text`` under the rules: ``[(word, tfidf, weight, profile,
        negated)]`` (a word can appear twice: its plain and its negated occurrences) and the
        negated words. ``weight`` is the TF-IDF weight (seed B) times each occurrence's factor
        (degree, negation, contrast), summed over the word's occurrences."""
        opts = self.options
        stack, resources = cast(Stack, self.stack), cast(Resources, self.resources)  # the rules run (_kept)
        profiles, negators, stop, degree = self._profiles, self.negators, self.stop_words, self._degree
        contrast_words = resources.contrast
        min_chars, scope = opts.min_keyword_chars, opts.negation_scope
        counts: dict[str, int] = {}
        occ: list[list] = []  # [word, factor, negated, said of one's mood]
        sentence_start = 0
        contrast = 1.0
        neg_left, neg_odd, neg_weak, pending, irrealis = 0, False, False, 1.0, 1.0
        irrealis_words = resources.irrealis
        mood_subjects, moody, mood = self._mood_subjects, self._mood, False
        pieces = self._text_pieces(text)
        last = len(pieces) - 1
        for n, piece in enumerate(pieces):
            if piece in ("", "\n", "?"):
                neg_left, neg_odd, neg_weak, pending, irrealis = 0, False, False, 1.0, 1.0
                mood = False
                if piece == "?":  # a question asserts nothing (这也叫五星级？): its sentence weighs less
                    for o in occ[sentence_start:]:
                        o[1] *= opts.question_weight
                if piece != "":
                    sentence_start, contrast = len(occ), 1.0
                continue
            if piece in contrast_words:
                for o in occ[sentence_start:]:
                    o[1] *= opts.contrast_before
                contrast = opts.contrast_after
                neg_left, neg_odd, neg_weak, pending = 0, False, False, 1.0
                continue
            if piece in irrealis_words:
                irrealis = opts.irrealis_weight
                continue
            if piece in mood_subjects:
                mood = True
                continue
            if piece in negators:
                neg_left, neg_odd = scope, not (neg_left > 0 and neg_odd)
                neg_weak = piece in self._weak
                continue
            in_stack = piece in profiles and (opts.single_char_words or len(piece) >= min_chars)
            # 好 / 太 / 超 before an emotion word are degree adverbs (好难过 is "very sad")
            if in_stack and piece in degree and n < last and pieces[n + 1] in profiles:
                in_stack = False
            if (len(piece) >= min_chars or in_stack) and piece.lower() not in stop:
                counts[piece] = counts.get(piece, 0) + 1
            if in_stack:
                negated = neg_left > 0 and neg_odd
                factor = pending * contrast * irrealis
                if negated:
                    factor *= opts.negation_flip * (opts.weak_negation if neg_weak else 1.0)
                occ.append([piece, factor, negated, mood and piece in moody])
                pending = 1.0
            elif piece in degree:
                pending *= degree[piece]
                if neg_left > 0 and neg_odd:
                    neg_weak = True  # 不太好, 没那么开心: a degree after the negator softens it
                continue
            if neg_left > 0:
                neg_left -= 1
                neg_odd = neg_odd and neg_left > 0
        if not occ:
            return [], []
        total = float(sum(counts.values())) or 1.0
        idf, median = self.idf, self.median_idf
        allowed = None
        if not opts.every_emotion_word:
            weights = {w: c * (idf.get(w, median) / total) for w, c in counts.items()}
            allowed = set(sorted(weights, key=weights.__getitem__, reverse=True)[: opts.top_keywords])
        plain: dict[tuple[str, bool], float] = {}
        flipped: dict[tuple[str, bool], float] = {}
        for word, factor, negated, of_mood in occ:
            if allowed is not None and word not in allowed:
                continue
            into = flipped if negated else plain
            into[word, of_mood] = into.get((word, of_mood), 0.0) + factor
        out = []
        negated_words = []
        for into, is_neg in ((plain, False), (flipped, True)):
            for (word, of_mood), factor in into.items():
                unit = idf.get(word, median) / total
                prof = moody[word][is_neg] if of_mood else stack.negated[word] if is_neg else profiles[word]
                if is_neg:
                    negated_words.append(word)
                if factor > 0 and prof:
                    out.append((word, unit * counts.get(word, 1), unit * factor, prof, is_neg))
        out.sort(key=lambda e: -e[2])
        return out, negated_words

    def clear_caches(self) -> None:
        """Forget the cached pieces and results (a benchmark starts each timed run cold)."""
        if self.stack is not None:
            self._block_cache.clear()
            self._raw_cache.clear()

    def cache_stats(self) -> dict[str, int]:
        """Cached blocks and texts (a measure of how much a corpus repeats itself)."""
        if self.stack is None:
            return {"blocks": 0, "texts": 0}
        return {"blocks": len(self._block_cache), "texts": len(self._raw_cache)}

    def _text_pieces(self, text: str) -> list[str]:
        """The pieces the rules read ("" marks a clause end, "\n" a sentence end, "?" a question's
        end), cut block by block as jieba does (its blocks are independent: runs of Han
        characters and alphanumerics between other characters), each block's pieces cached:
        lyrics repeat their lines and comments their phrases, and cutting is most of the cost."""
        cache = self._block_cache
        pieces: list[str] = []
        for block in self._blocks.split(text):
            if not block:
                continue
            cached = cache.get(block)
            if cached is None:
                cached = []
                for tok in self.tokenizer.cut(block):
                    stripped = tok.strip()
                    if not stripped or stripped in CLAUSE_END:
                        cached.append(
                            "?"
                            if stripped in ("?", "？")
                            else "\n"
                            if not stripped or stripped in SENTENCE_END
                            else ""
                        )
                    else:
                        cached.extend(self._pieces(stripped))
                if len(cache) >= CACHE_ENTRIES:
                    cache.clear()
                cache[block] = cached
            pieces.extend(cached)
        return pieces

    def _pieces(self, token: str) -> list[str]:
        """A token as the words the rules read: itself, or, when it is no known word but a
        negator or degree adverb followed by an emotion word (jieba keeps 很差, 不开心, 太贵
        whole), those parts (longest prefix first)."""
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        out = [token]
        known = self._profiles
        origin = cast(Stack, self.stack).origin  # the rules run (_text_pieces)
        if origin.get(token) == "polarity":
            # 不快乐, 不喜欢 are in HowNet as negative words; read them as the negated DUTIR word
            for neg in self._negator_prefixes:
                rest = token[len(neg) :]
                if token.startswith(neg) and origin.get(rest, "polarity") != "polarity":
                    out = [neg, rest]
                    break
            else:  # 心情愉快 (jieba keeps it whole) is read as 心情 + the DUTIR word 愉快
                for i in range(1, len(token) - 1):
                    if origin.get(token[i:], "polarity") != "polarity":
                        out = [token[:i], token[i:]]
                        break
        elif (
            len(token) > 1
            and token not in known
            and token not in self.negators
            and token not in self._degree
            and token not in cast(Resources, self.resources).contrast
        ):
            parts, rest = [], token
            while rest and rest not in known:
                for prefix in self._modifier_prefixes:
                    if rest.startswith(prefix) and len(rest) > len(prefix):
                        parts.append(prefix)
                        rest = rest[len(prefix) :]
                        break
                else:
                    break
            if parts and rest in known:
                out = [*parts, rest]
        if len(self._piece_cache) < 200_000:
            self._piece_cache[token] = out
        return out

    def _va(self, kept) -> tuple[tuple[float, float] | None, float]:
        """The evidence-weighted valence-arousal point (a negated word's valence mirrored)."""
        if self.stack is None or not kept:
            return None, 0.0
        va = self.stack.va
        sw = sv = sa = 0.0
        for word, _, weight, _, negated in kept:
            v, a = va[word]
            sw += weight
            sv += weight * (-v if negated else v)
            sa += weight * a
        return ((sv / sw, sa / sw), sw) if sw > 0 else (None, 0.0)

    def _kept(self, text: str) -> tuple[list[tuple[str, float, float, tuple, bool]], list[str]]:
        if self.stack is not None:
            return self.evidence(text)
        kept, dropped = self.weigh(*self.keywords(text))
        return [(w, t, wt, p, False) for w, t, wt, p in kept], dropped

    def raw_va(
        self, text: str
    ) -> tuple[list[float] | None, list[tuple[str, float]], list[str], tuple[float, float, float]]:
        """:meth:`raw` plus the valence-arousal sums ``(Σw·v, Σw·a, Σw)`` (zeros without rules).
        With the rules, results are cached per text (comments repeat: 好听, 打卡); callers must
        not modify them."""
        if self.stack is not None:
            cached = self._raw_cache.get(text)
            if cached is None:
                cached = self._raw_va(text)
                if len(self._raw_cache) >= CACHE_ENTRIES:
                    self._raw_cache.clear()
                self._raw_cache[text] = cached
            return cached
        return self._raw_va(text)

    def _raw_va(self, text: str):
        kept, dropped = self._kept(text)
        values = [0.0] * len(self.codes)
        used: list[tuple[str, float]] = []
        for word, _, weight, prof, _neg in kept:
            added = 0.0
            for i, strength in prof:
                values[i] += weight * strength
                added += weight * strength
            used.append((word, added))
        point, w = self._va(kept)
        sums = (point[0] * w, point[1] * w, w) if point is not None else (0.0, 0.0, 0.0)
        return (values if used else None), used, dropped, sums

    def raw(self, text: str) -> tuple[list[float] | None, list[tuple[str, float]], list[str]]:
        """Fast path for bulk annotation: ``(strengths or None, [(word, contribution)], negated)``."""
        if self.stack is not None:
            return self.raw_va(text)[:3]
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
        kept, dropped = self._kept(text)
        values = np.zeros(len(self.codes))
        kws: list[Keyword] = []
        for word, tfidf, weight, prof, negated in kept:
            contrib = {self.codes[i]: weight * s for i, s in prof}
            for i, s in prof:
                values[i] += weight * s
            kws.append(Keyword(word, tfidf, weight, contrib, negated))
        if not kws:
            why = (
                f"{NO_EMOTION}: its emotion words are negated ({', '.join(dropped)})"
                if dropped
                else f"{NO_EMOTION}: none of its keywords is in the emotion lexicon; "
                "use words that say how you feel, e.g. 开心, 难过, 想念, 害怕"
            )
            return TextEmotion(None, (), tuple(dropped), self.granularity, why)
        va, va_weight = self._va(kept)
        return TextEmotion(
            EmotionVector(values, self.granularity),
            tuple(kws),
            tuple(dropped),
            self.granularity,
            va=va,
            va_weight=va_weight,
        )


_ANALYZERS: weakref.WeakKeyDictionary[Lexicon, dict[AnalyzerOptions, TextAnalyzer]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def analyzer_for(
    lexicon: Lexicon, options: AnalyzerOptions | None = None, resources: Resources | None = None
) -> TextAnalyzer:
    """A cached analyzer per (lexicon, options): building one loads jieba's dictionary (~1 s).
    ``resources``: the rule lexicons to use (an index carries its own), else cntext's."""
    options = options or AnalyzerOptions()
    with _LOCK:
        per_lexicon = _ANALYZERS.setdefault(lexicon, {})
        if options not in per_lexicon:
            per_lexicon[options] = TextAnalyzer(lexicon, options, resources)
        return per_lexicon[options]


def emotion_of(text: str, lexicon: Lexicon, options: AnalyzerOptions | None = None) -> TextEmotion:
    """The raw (unnormalised) emotion of ``text`` and the keywords that produced it; an
    explicit "no emotion found" result (``found`` false) when it has no emotional words."""
    return analyzer_for(lexicon, options).analyse(text)
