"""Listeners' own words: the listener-state lexicon and the check on first-person sentences.

DUTIR/DLUT and the polarity lists were written for news, reviews and literature: they miss how a
listener says how they feel (压力 is not an emotion word there, 焦虑, 担心 and 生气 sit in 恶
disgust, 意外 is praise). :data:`LISTENER_WORDS` is a small, versioned lexicon of such words,
each with its DLUT fine category (its group at the coarse granularity), an intensity on DLUT's
1-9 scale, its source and why. It is applied last in the stack (:func:`moodtune.text.stack.build_stack`),
so it overrides DUTIR, the polarity lists, the learned layer and the ambiguous-word list; an entry
with no category says the word is no feeling at all (迟到, 考试: events the review-learned layer
reads as blame or praise) and removes it.

Every entry was chosen from a sentence of the **tuning** half of ``tests/data/listener_sentences.tsv``
(a test checks each word occurs there); the held-out half is only read to report
(:func:`evaluate`, ``benchmarks/text_listener.py``, ``docs/text.md``).

After a mood subject (心情, 心里, 心态, 情绪), up to the clause's end, a bare praise or blame word
(one whose whole profile is 赞扬 praise or 贬责 blame: 好, 差, 苦) describes the writer's mood and
reads as 快乐 (乐) or 悲伤 (哀) (:func:`mood_profiles`); negated, it flips as usual (心情不好 is 乐
negated: 哀).

Insomnia words (睡不着, 失眠, 睡不好) carry a weak 惧: alone they read as stress, but a stronger
feeling word beside them (气得睡不着, 想你想得睡不着) decides the text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from moodtune import emotions

VERSION = "1"
SENTENCES = Path(__file__).resolve().parents[2] / "tests" / "data" / "listener_sentences.tsv"
NONE = "none"  # the prediction for a text in which no emotion was found


@dataclass(frozen=True)
class ListenerWord:
    """One entry: ``code`` is a DLUT fine category ("" removes the word), ``intensity`` on
    DLUT's 1-9 scale, ``seen_in`` the tuning sentences that called for it, ``rationale`` why."""

    word: str
    code: str
    intensity: float
    seen_in: str  # the ids of the tuning sentences it was chosen from (its source)
    rationale: str


LISTENER_WORDS: tuple[ListenerWord, ...] = (
    # stress, anxiety, worry -> 慌 panic (惧); fear -> 恐惧 (惧)
    ListenerWord("压力", "NI", 5, "L001 L011 L019", "stress; no lexicon holds it (HowNet: negative only)"),
    ListenerWord("压力山大", "NI", 7, "L011", "slang for heavy stress; jieba cut it into 压力/山/大"),
    ListenerWord("焦虑", "NI", 5, "L009 L023 L027", "anxiety; DUTIR holds it in 恶 (烦闷)"),
    ListenerWord("担心", "NI", 5, "L005 L027", "worry; DUTIR holds it in 恶"),
    ListenerWord("紧张", "NI", 5, "L003 L015 L033", "nervousness; DUTIR splits it between 惧 and 恶"),
    ListenerWord("慌", "NI", 5, "L007 L021", "panic; only EmoBank rates it (negative, so 恶)"),
    ListenerWord("怕", "NC", 5, "L017", "fear; only the polarity lists hold it (blame)"),
    ListenerWord("不踏实", "NI", 5, "L029", "uneasy; 不+踏实 would flip 安心 to 哀"),
    ListenerWord("没底", "NI", 4, "L017", "unsure of oneself, worried"),
    ListenerWord("崩溃", "NI", 5, "L025", "breaking down under stress; DUTIR holds it in 恶"),
    ListenerWord("睡不着", "NI", 2, "L001 L005 L019", "insomnia: weak stress cue, context decides"),
    ListenerWord("失眠", "NI", 2, "L009", "insomnia: weak stress cue; DUTIR holds it in 恶"),
    ListenerWord("睡不好", "NI", 2, "L029", "sleeping badly: weak stress cue; jieba cut 睡/不好"),
    # not feelings: events and topics the review-learned layer or the polarity lists read
    ListenerWord("迟到", "", 0, "L021", "an event; outweighed 慌"),
    ListenerWord("考试", "", 0, "L005 L033 L093", "a topic; learned as praise from reviews"),
    ListenerWord("家长", "", 0, "L039", "a topic; learned as praise from reviews"),
    ListenerWord("吃不下", "", 0, "L023", "a symptom, not a feeling; outweighed 焦虑"),
    # sorrow: longing and feeling wronged
    ListenerWord("好想你", "PF", 5, "L047", "longing; jieba keeps it whole"),
    ListenerWord("想你", "PF", 5, "L047", "longing (想你 without 好)"),
    ListenerWord("想家", "PF", 5, "L057", "homesickness; no lexicon holds it"),
    ListenerWord("委屈", "NB", 5, "L079", "feeling wronged; only the polarity lists hold it (blame)"),
    # joy: excitement and relief
    ListenerWord("激动", "PA", 5, "L097", "excitement; no lexicon gives it a category"),
    ListenerWord("爽", "PA", 5, "L117", "delight; the polarity lists read it as praise"),
    ListenerWord("松了一口气", "PE", 5, "L093", "relief; jieba cut it, 一口气 was learned as praise"),
    # anger: DUTIR's 怒 list misses the everyday words
    ListenerWord("生气", "NA", 5, "L169 L175 L177", "anger; DUTIR holds it in 恶"),
    ListenerWord("气死", "NA", 5, "L151 L165", "anger; the polarity lists read it as blame"),
    ListenerWord("气死我了", "NA", 5, "L165", "anger; jieba keeps it whole"),
    ListenerWord("气得", "NA", 5, "L153", "anger; the polarity lists read it as blame"),
    ListenerWord("越气", "NA", 5, "L171", "anger; the polarity lists read it as blame"),
    ListenerWord("发火", "NA", 5, "L167", "losing one's temper; the polarity lists read it as blame"),
    ListenerWord("一肚子火", "NA", 5, "L159", "anger; no lexicon holds it"),
    # surprise
    ListenerWord("意外", "PC", 5, "L207 L223", "surprise; learned as praise, HowNet reads 'accident'"),
    ListenerWord("震惊", "PC", 5, "L209", "shock as surprise; DUTIR holds it in 惧"),
)


def listener_profiles(
    codes: tuple[str, ...], granularity: str, entries: Iterable[ListenerWord] = LISTENER_WORDS
) -> dict[str, tuple[tuple[int, float], ...]]:
    """word -> profile at the lexicon's granularity (a fine code becomes its group for a coarse
    lexicon); an entry without a category gives an empty profile (the word is removed)."""
    index = {c: i for i, c in enumerate(codes)}
    out: dict[str, tuple[tuple[int, float], ...]] = {}
    for e in entries:
        if not e.code:
            out[e.word] = ()
            continue
        code = e.code if granularity == "fine" else emotions.CATEGORY_BY_CODE[e.code].group
        out[e.word] = ((index[code], float(e.intensity)),)
    return out


# Words after which, up to the clause's end, a bare praise or blame word describes one's mood.
MOOD_SUBJECTS = frozenset({"心情", "心里", "心态", "情绪"})
# where such a word goes: 心情很好 is 快乐 (乐), 心情很差 and 心里好苦 are 悲伤 (哀)
MOOD_TARGET = {"fine": {1: "PA", -1: "NB"}, "coarse": {1: "joy", -1: "sorrow"}}


def mood_profiles(
    profiles: Mapping[str, tuple[tuple[int, float], ...]], codes: tuple[str, ...], granularity: str
) -> dict[str, tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]]]:
    """word -> (profile, negated profile) when said of one's mood, for the words whose whole
    profile is one polarity target (bare praise / blame: 好, 差, 苦); others keep their own."""
    index = {c: i for i, c in enumerate(codes)}
    target, mood = emotions.POLARITY_TARGET[granularity], MOOD_TARGET[granularity]
    sides = {index[target[p]]: p for p in (1, -1)}
    out: dict[str, tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]]] = {}
    for word, prof in profiles.items():
        if len(prof) == 1 and prof[0][0] in sides:
            code = mood[sides[prof[0][0]]]
            out[word] = (
                ((index[code], prof[0][1]),),
                ((index[emotions.NEGATED[granularity][code]], prof[0][1]),),
            )
    return out


# -- the check on listeners' sentences -------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    id: str
    group: str  # moodtune's coarse group code (joy, good, ...)
    split: str  # tune or heldout
    text: str


def load_sentences(path: str | Path = SENTENCES) -> list[Sentence]:
    """The labelled sentences (``#`` lines are the header with the labelling rule)."""
    with Path(path).open(encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        return [Sentence(r["id"], r["code"], r["split"], r["text"]) for r in rows]


def coarse_group(analyzer, text: str) -> str:
    """The top coarse group of ``text``'s emotion vector, as ``/recommend_text`` reads it
    (:meth:`moodtune.text.index.EmotionIndex.recommend_text`: the analyser's vector,
    normalised); :data:`NONE` when no emotion was found."""
    emotion = analyzer.analyse(text)
    if not emotion.found:
        return NONE
    vector = emotion.normalised()
    if vector.granularity != "coarse":
        vector = vector.to_coarse()
    return vector.top(1)[0][0]


@dataclass(frozen=True)
class ListenerReport:
    """Accuracy and confusion (``confusion[true][predicted]``) on one split."""

    n: int
    accuracy: float
    confusion: dict[str, dict[str, int]]
    wrong: tuple[tuple[Sentence, str], ...]


def evaluate(read: Callable[[str], str], sentences: Iterable[Sentence]) -> ListenerReport:
    """Score ``read`` (text -> coarse group) on ``sentences``."""
    labels = (*emotions.DLUT_GROUP_CODES, NONE)
    confusion = {t: dict.fromkeys(labels, 0) for t in emotions.DLUT_GROUP_CODES}
    wrong = []
    n = right = 0
    for s in sentences:
        got = read(s.text)
        confusion[s.group][got] += 1
        n += 1
        right += got == s.group
        if got != s.group:
            wrong.append((s, got))
    return ListenerReport(n, right / n if n else 0.0, confusion, tuple(wrong))


def confusion_table(report: ListenerReport) -> str:
    """The confusion matrix as a Markdown table (rows: the label, columns: the reading)."""
    chinese = {g.code: g.chinese for g in emotions.DLUT_GROUPS} | {NONE: "none"}
    cols = [
        c
        for c in (*emotions.DLUT_GROUP_CODES, NONE)
        if c != NONE or any(r[NONE] for r in report.confusion.values())
    ]
    lines = [
        "| label \\ read | " + " | ".join(chinese[c] for c in cols) + " | n | right |",
        "|---" * (len(cols) + 3) + "|",
    ]
    for t, row in report.confusion.items():
        n = sum(row.values())
        lines.append(
            f"| {chinese[t]} | "
            + " | ".join(str(row[c]) for c in cols)
            + f" | {n} | {row[t] / n if n else 0:.2f} |"
        )
    return "\n".join(lines)
