"""Text on listeners' own words (issue 31): the labelled first-person sentences, their fixed
split, the listener-state lexicon, and the held-out accuracy of the served reading."""

from collections import Counter
from dataclasses import replace

import pytest

from moodtune import emotions
from moodtune.settings import get_settings
from moodtune.text import listener as L
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer
from moodtune.text.lexicon import load_lexicon

pytest.importorskip("yaml")
HELDOUT_TARGET = 0.80


@pytest.fixture(scope="module")
def sentences():
    return L.load_sentences()


@pytest.fixture(scope="module")
def analyzer(learned_tables):
    settings = get_settings()
    options = AnalyzerOptions.from_settings(settings.text, learned_tables)
    assert options.rules and options.listener_lexicon
    return TextAnalyzer(load_lexicon(settings), options)


def read(analyzer, text: str) -> str:
    return L.coarse_group(analyzer, text)


def test_the_set_is_labelled_and_split_by_its_rule(sentences):
    assert len(sentences) >= 200
    assert len({s.id for s in sentences}) == len(sentences)
    assert len({s.text for s in sentences}) == len(sentences)
    assert {s.group for s in sentences} == set(emotions.DLUT_GROUP_CODES)
    seen: Counter = Counter()
    for s in sentences:  # 1st, 3rd, ... of each group: tune; 2nd, 4th, ...: held out
        assert s.split == ("tune" if seen[s.group] % 2 == 0 else "heldout"), s
        seen[s.group] += 1
    header = L.SENTENCES.read_text(encoding="utf-8")
    assert "Labelling rule" in header and "Left out as ambiguous" in header


def test_listener_words_come_from_the_tuning_half_only(sentences):
    by_id = {s.id: s for s in sentences}
    for entry in L.LISTENER_WORDS:
        assert entry.code == "" or entry.code in emotions.CATEGORY_BY_CODE, entry
        assert (entry.code == "") == (entry.intensity == 0) and 0 <= entry.intensity <= 9, entry
        assert entry.rationale and entry.seen_in, entry
        for sid in entry.seen_in.split():
            assert by_id[sid].split == "tune", (entry.word, sid)
            assert entry.word in by_id[sid].text, (entry.word, sid)
    assert len({e.word for e in L.LISTENER_WORDS}) == len(L.LISTENER_WORDS)


def test_heldout_accuracy(analyzer, sentences):
    held = [s for s in sentences if s.split == "heldout"]
    report = L.evaluate(lambda t: read(analyzer, t), held)
    assert report.n == len(held) >= 100
    assert report.accuracy >= HELDOUT_TARGET, L.confusion_table(report)


# the issue's sentence and others outside the set (the held-out half is only scored as a whole)
@pytest.mark.parametrize(
    "text",
    [
        "最近压力很大，睡不着",
        "这周压力好大",
        "我很焦虑",
        "焦虑得不行",
        "面试前好紧张",
        "我有点担心",
        "心里很慌",
        "我好怕",
    ],
)
def test_stress_and_anxiety_read_as_fear(analyzer, text):
    assert read(analyzer, text) == "fear"


def test_the_issue_sentence_keys_on_stress_not_only_insomnia(analyzer):
    e = analyzer.analyse("最近压力很大，睡不着")
    added = {k.word: sum(k.contributions.values()) for k in e.keywords}
    assert added["压力"] > added["睡不着"] > 0
    assert e.va is not None and e.va[0] < 0


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("我一点也不紧张", "joy"),  # negated fear is ease
        ("不焦虑了，睡得很香", "joy"),
        ("气得睡不着", "anger"),  # insomnia is a weak cue: the stronger feeling decides
        ("好想你，想得睡不着", "sorrow"),
        ("今天心情特别好", "joy"),  # a bare praise / blame word said of one's mood
        ("心情很差", "sorrow"),
        ("心情不好", "sorrow"),
    ],
)
def test_negation_context_and_mood(analyzer, text, group):
    assert read(analyzer, text) == group


def test_without_the_listener_lexicon_stress_is_missed(analyzer):
    plain = TextAnalyzer(analyzer.lexicon, replace(analyzer.options, listener_lexicon=False))
    assert read(plain, "最近压力很大，睡不着") != "fear"
    # without it 压力 is at most the polarity lists' blame (恶), never fear; the listener lexicon makes it 惧
    assert all(plain.codes[i] != "fear" for i, _ in plain.stack.profiles.get("压力", ()))
    assert analyzer.stack.origin["压力"] == "listener"
    # an entry without a category removes the word (an event, not a feeling)
    assert "迟到" in plain.stack.profiles and "迟到" not in analyzer.stack.profiles


def test_listener_profiles_follow_the_granularity():
    fine = L.listener_profiles(emotions.codes_of("fine"), "fine")
    coarse = L.listener_profiles(emotions.codes_of("coarse"), "coarse")
    assert emotions.codes_of("fine")[fine["焦虑"][0][0]] == "NI"
    assert emotions.codes_of("coarse")[coarse["焦虑"][0][0]] == "fear"
    assert coarse["迟到"] == ()


def test_confusion_table_counts_every_sentence(analyzer, sentences):
    tune = [s for s in sentences if s.split == "tune"]
    report = L.evaluate(lambda t: read(analyzer, t), tune)
    assert sum(sum(r.values()) for r in report.confusion.values()) == report.n == len(tune)
    assert len(report.wrong) == round(report.n * (1 - report.accuracy))
    table = L.confusion_table(report)
    assert table.count("\n") >= len(emotions.DLUT_GROUP_CODES) + 1 and "| 惧 |" in table
