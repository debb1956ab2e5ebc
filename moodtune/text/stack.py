"""The lexicon stack: DUTIR/DLUT categories as the vocabulary, polarity lists where it is silent.

For each word (documented rules, ``docs/text.md``):

* a DUTIR/DLUT word whose categories share one polarity keeps its profile (seed B's
  intensities, mean over senses);
* a DUTIR word held in groups of both polarities (开心 is in 乐 and in 恶) keeps only the
  categories of the polarity HowNet/NTUSD give it, renormalised to its original total; without
  an agreed polarity it keeps both (mean over senses, as before);
* a word DUTIR does not know but the polarity lists do (很好, 划算, 糟糕) gets the default
  intensity in the polarity's target (:data:`moodtune.emotions.POLARITY_TARGET`: praise /
  blame), scaled by ``polarity_weight``; a single character (the lists hold 是, 会, 上, 死)
  only when Chinese EmoBank rates it on the same side of neutral (好, 差, 烂, 爱);
* optionally (``emobank_polarity``), a word only Chinese EmoBank rates takes its polarity from
  its valence when that is clearly away from neutral.

Optionally (``learned``), the learned layer: words none of the above holds, whose log-odds on
the tuning split of the validation corpus (the learned text tables, :mod:`moodtune.text.tables`) give them a polarity,
at ``learned_weight`` × the default intensity in the polarity's target.

Optionally (``listener``), the listener-state lexicon (:mod:`moodtune.text.listener`), applied
last: words listeners use for their own state (压力, 焦虑 as 惧, 生气 as 怒), overriding every
layer above; an entry without a category removes the word.

Words that the tuning split of the validation corpus contradicts (``drop``: the ambiguous words
of the learned text tables, made by the ``learned_text_tables`` asset) are left out: 对, 实在, 一定 are in the lists but say nothing about how a text feels.

Each word's negated profile (where its evidence goes under negation) is precomputed from
:data:`moodtune.emotions.NEGATED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from moodtune import emotions
from moodtune.text.lexicon import Lexicon
from moodtune.text.resources import FUNCTION_CHARS, Resources

Profile = tuple[tuple[int, float], ...]
EMOBANK_POLARITY_MIN = 0.25  # |valence| on -1..1 (6.0 / 4.0 on EmoBank's 1..9)


@dataclass(frozen=True)
class Stack:
    """word -> profile (what it adds), negated profile, valence-arousal point, and where each
    word's profile came from (``dutir``, ``resolved``, ``polarity``, ``emobank``, ``learned``,
    ``listener``)."""

    profiles: dict[str, Profile]
    negated: dict[str, Profile]
    va: dict[str, tuple[float, float]]
    origin: dict[str, str]

    def __hash__(self) -> int:
        return id(self)


def _polarity(profile: Profile, codes: tuple[str, ...]) -> set[int]:
    return {emotions.polarity_of(codes[i]) for i, _ in profile} - {0}


def _negate(profile: Profile, codes: tuple[str, ...], granularity: str) -> Profile:
    index = {c: i for i, c in enumerate(codes)}
    target = emotions.NEGATED[granularity]
    out: dict[int, float] = {}
    for i, s in profile:
        to = target.get(codes[i])
        if to is not None:
            out[index[to]] = out.get(index[to], 0.0) + s
    return tuple(sorted(out.items()))


def support(
    word: str,
    profile: Profile,
    codes: tuple[str, ...],
    resources: Resources,
    lexicon_profiles: dict[str, Profile],
) -> tuple[int, int]:
    """``(agreeing, disagreeing)`` sources on the polarity of ``word``'s profile, out of
    DUTIR/DLUT, HowNet/NTUSD (one vote where they agree) and Chinese EmoBank (|valence| >= 0.25)."""
    pols = _polarity(profile, codes)
    if len(pols) != 1:
        return 0, 0
    side = next(iter(pols))
    votes = []
    if word in lexicon_profiles:
        own = _polarity(lexicon_profiles[word], codes)
        if len(own) == 1:
            votes.append(next(iter(own)))
    if word in resources.polarity:
        votes.append(resources.polarity[word])
    v = resources.va.get(word, (0.0, 0.0))[0]
    if abs(v) >= EMOBANK_POLARITY_MIN:
        votes.append(1 if v > 0 else -1)
    return sum(1 for x in votes if x == side), sum(1 for x in votes if x != side)


def build_stack(
    lexicon: Lexicon,
    resources: Resources,
    *,
    default_intensity: float = 5.0,
    polarity_weight: float = 1.0,
    emobank_polarity: bool = False,
    idf: dict[str, float] | None = None,
    median_idf: float = 0.0,
    single_source_min_idf: float = 0.0,
    negative_weight: float = 1.0,
    drop: frozenset[str] = frozenset(),
    learned: Mapping[str, float] | None = None,
    learned_weight: float = 1.0,
    listener: Mapping[str, Profile] | None = None,
) -> Stack:
    """Merge the lexicon with the polarity lists (rules in the module docstring)."""
    codes, gran = lexicon.codes, lexicon.granularity
    index = {c: i for i, c in enumerate(codes)}
    target = emotions.POLARITY_TARGET[gran]
    polarity = resources.polarity
    profiles: dict[str, Profile] = {}
    origin: dict[str, str] = {}
    for word, prof in lexicon.profiles.items():
        pols = _polarity(prof, codes)
        p = polarity.get(word)
        if len(pols) > 1 and p is not None:
            kept = tuple((i, s) for i, s in prof if emotions.polarity_of(codes[i]) == p)
            scale = sum(s for _, s in prof) / sum(s for _, s in kept)
            profiles[word] = tuple((i, s * scale) for i, s in kept)
            origin[word] = "resolved"
        else:
            profiles[word] = prof
            origin[word] = "dutir"
    strength = float(default_intensity) * float(polarity_weight)
    for word, p in polarity.items():
        if len(word) == 1:  # 是, 会, 上, 死 ...: a single character needs EmoBank to agree
            v = resources.va.get(word, (0.0, 0.0))[0]
            if word in FUNCTION_CHARS or not (abs(v) >= EMOBANK_POLARITY_MIN and (v > 0) == (p > 0)):
                continue
        if word not in profiles and strength > 0:
            profiles[word] = ((index[target[p]], strength),)
            origin[word] = "polarity"
    if emobank_polarity:
        for word, (v, _a) in resources.va.items():
            if (
                word not in profiles
                and abs(v) >= EMOBANK_POLARITY_MIN
                and strength > 0
                and (len(word) > 1 or word not in FUNCTION_CHARS)
            ):
                profiles[word] = ((index[target[1 if v > 0 else -1]], strength),)
                origin[word] = "emobank"
    if single_source_min_idf > 0 and idf is not None:
        # a common word (low IDF) that only one source calls emotional is not evidence:
        # HowNet's 对, 系统, 需要; DUTIR's 实在, 必须, 通过
        for word in list(profiles):
            agree, disagree = support(word, profiles[word], codes, resources, lexicon.profiles)
            if (agree <= 1 or disagree > 0) and idf.get(word, median_idf) < single_source_min_idf:
                del profiles[word]
                origin.pop(word)
    for word in drop:
        if profiles.pop(word, None) is not None:
            origin.pop(word)
    if learned and learned_weight > 0:
        # the learned layer: words no lexicon holds (or that the rules above left out), with the
        # polarity of their log-odds on the tuning split (moodtune.text.tables)
        for word, log_odds in learned.items():
            if word not in profiles and log_odds != 0:
                profiles[word] = ((index[target[1 if log_odds > 0 else -1]], strength * learned_weight),)
                origin[word] = "learned"
    for word, prof in (listener or {}).items():
        # the listener-state lexicon (moodtune.text.listener) has the last word; an empty
        # profile says the word is no feeling (迟到, 考试)
        if prof:
            profiles[word] = prof
            origin[word] = "listener"
        elif profiles.pop(word, None) is not None:
            origin.pop(word)
    if negative_weight != 1.0:
        for word, prof in profiles.items():
            profiles[word] = tuple(
                (i, s * negative_weight if emotions.polarity_of(codes[i]) < 0 else s) for i, s in prof
            )
    points = emotions.va_points(gran)
    va: dict[str, tuple[float, float]] = {}
    for word, prof in profiles.items():
        rated = resources.va.get(word)
        if rated is not None:
            va[word] = rated
        else:
            w = np.array([s for _, s in prof])
            pt = (w @ points[[i for i, _ in prof]]) / w.sum()
            va[word] = (float(pt[0]), float(pt[1]))
    negated = {w: _negate(p, codes, gran) for w, p in profiles.items()}
    return Stack(profiles, negated, va, origin)
