"""Where track texts come from: a NetEase-style database, or generated demo texts.

Real data: any SQLAlchemy URL holding seed B's NetEase schema

* ``tracks(id, name, artists, pop, lyric)``
* ``comments(track_id, content, liked_count)``

Lyrics lose their LRC time tags (``[01:02.30]``) and header tags (``[ti:…]``). ``artists`` may
be plain text or a JSON list. Comments of unknown tracks are counted and reported.

Demo data: for each track of :func:`moodtune.data.demo_catalog.demo_catalog`, a Chinese name
(the catalog's title), lyrics and comments written to match the track's GEMS-6 emotion: the
emotion is mapped to DLUT categories (``emotions.mapping("gems6")``) and the texts use
lexicon words of those categories, mixed with neutral words and some noise. Query texts for
the held-out check are written from a disjoint half of the word pools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from moodtune import emotions
from moodtune.data.demo_catalog import COMPANIONS, demo_catalog
from moodtune.errors import InvalidText
from moodtune.text.lexicon import Lexicon

TRACK_COLUMNS = ["track_id", "name", "artists", "popularity", "lyric", "comments", "comment_likes"]
NETEASE_SCHEMA = {
    "tracks": ("id", "name", "artists", "pop", "lyric"),
    "comments": ("track_id", "content", "liked_count"),
}
_LRC_TAG = re.compile(r"\[(\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?|[a-zA-Z]{2,8}:[^\]]*)\]")


# --- a NetEase-style database ------------------------------------------------------------
def clean_lyric(lyric: str | None) -> str:
    """Lyrics without LRC time and header tags, one line per line, empty lines removed."""
    if not lyric:
        return ""
    lines = (_LRC_TAG.sub("", line).strip() for line in str(lyric).splitlines())
    return "\n".join(line for line in lines if line)


def parse_artists(value: Any) -> str:
    """``artists`` as ``"A / B"`` whether stored as text or as a JSON list (of names or
    ``{"name": …}`` objects)."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return text
        names = [i.get("name", "") if isinstance(i, Mapping) else str(i) for i in items]
        return " / ".join(n for n in names if n)
    return text


def load_tracks_db(url: str, *, limit: int | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Tracks with their comments from a NetEase-style database at a SQLAlchemy ``url``.

    Returns the ``track_texts`` table (comments sorted by likes, most liked first) and counts
    of what was read and what could not be attached.
    """
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            missing = []
            for table, columns in NETEASE_SCHEMA.items():
                if table not in tables:
                    missing.append(f"table {table}({', '.join(columns)})")
                    continue
                have = {c["name"] for c in inspector.get_columns(table)}
                missing.extend(f"column {table}.{c}" for c in columns if c not in have)
            if missing:
                raise InvalidText(
                    f"text.tracks_db {engine.url.render_as_string(hide_password=True)} lacks "
                    f"{'; '.join(missing)} (NetEase schema: tracks(id, name, artists, pop, lyric), "
                    "comments(track_id, content, liked_count))"
                )
            query = "SELECT id, name, artists, pop, lyric FROM tracks ORDER BY id"
            if limit:
                query += f" LIMIT {int(limit)}"
            tracks = pd.read_sql_query(sa.text(query), conn)
            comments = pd.read_sql_query(sa.text("SELECT track_id, content, liked_count FROM comments"), conn)
    except sa.exc.SQLAlchemyError as exc:
        raise InvalidText(f"cannot read text.tracks_db: {exc}; check the SQLAlchemy URL") from exc
    finally:
        if "engine" in locals():
            engine.dispose()

    tracks["track_id"] = tracks["id"].astype(str)
    comments["track_id"] = comments["track_id"].astype(str)
    empty = comments["content"].isna() | (comments["content"].astype(str).str.strip() == "")
    comments = comments[~empty].copy()
    comments["liked_count"] = pd.to_numeric(comments["liked_count"], errors="coerce").fillna(0)
    comments["liked_count"] = comments["liked_count"].clip(lower=0).astype(np.int64)
    known = comments["track_id"].isin(set(tracks["track_id"]))
    orphans = int((~known).sum())
    comments = comments[known].sort_values(
        ["track_id", "liked_count"], ascending=[True, False], kind="stable"
    )
    grouped = comments.groupby("track_id", sort=False)
    texts = grouped["content"].agg(lambda s: [str(x) for x in s])
    likes = grouped["liked_count"].agg(list)
    out = pd.DataFrame(
        {
            "track_id": tracks["track_id"],
            "name": tracks["name"].fillna("").astype(str),
            "artists": tracks["artists"].map(parse_artists),
            "popularity": pd.to_numeric(tracks["pop"], errors="coerce").fillna(0.0).astype(float),
            "lyric": tracks["lyric"].map(clean_lyric),
        }
    )
    out["comments"] = out["track_id"].map(texts).map(lambda v: v if isinstance(v, list) else [])
    out["comment_likes"] = out["track_id"].map(likes).map(lambda v: v if isinstance(v, list) else [])
    stats = {
        "tracks": len(out),
        "comments": int(known.sum()),
        "empty_comments_skipped": int(empty.sum()),
        "orphan_comments_skipped": orphans,
        "tracks_without_lyrics": int((out["lyric"] == "").sum()),
    }
    return out.reset_index(drop=True), stats


def write_tracks_db(df: pd.DataFrame, url: str) -> None:
    """Write a ``track_texts`` table into the NetEase schema at ``url`` (e.g. to try the
    database path with the demo texts)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    tracks = sa.Table(
        "tracks",
        meta,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("artists", sa.Text),
        sa.Column("pop", sa.Float),
        sa.Column("lyric", sa.Text),
    )
    comments = sa.Table(
        "comments",
        meta,
        sa.Column("track_id", sa.String, index=True),
        sa.Column("content", sa.Text),
        sa.Column("liked_count", sa.Integer),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            tracks.insert(),
            [
                {
                    "id": str(r.track_id),
                    "name": r.name,
                    "artists": r.artists,
                    "pop": float(r.popularity),
                    "lyric": r.lyric,
                }
                for r in df.itertuples()
            ],
        )
        rows = [
            {"track_id": str(r.track_id), "content": c, "liked_count": int(n)}
            for r in df.itertuples()
            for c, n in zip(r.comments, r.comment_likes, strict=True)
        ]
        if rows:
            conn.execute(comments.insert(), rows)
    engine.dispose()


# --- demo texts --------------------------------------------------------------------------
# Typical words of each DLUT category (seed B's examples and their common neighbours). Only
# those the lexicon files under the same category (or group, for a coarse lexicon) are used.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "PA": (
        "快乐",
        "喜悦",
        "欢喜",
        "开心",
        "高兴",
        "欢乐",
        "愉快",
        "幸福",
        "欢天喜地",
        "笑眯眯",
        "兴高采烈",
        "乐呵呵",
    ),
    "PE": (
        "安心",
        "踏实",
        "宽心",
        "放心",
        "安宁",
        "安稳",
        "平静",
        "舒坦",
        "心安",
        "轻松",
        "宁静",
        "问心无愧",
    ),
    "PD": ("尊敬", "恭敬", "敬爱", "敬佩", "崇敬", "敬仰", "肃然起敬", "毕恭毕敬", "钦佩", "尊重"),
    "PH": ("优秀", "英俊", "美丽", "出色", "精彩", "勇敢", "伟大", "光荣", "漂亮", "杰出", "了不起", "英勇"),
    "PG": ("信任", "信赖", "可靠", "相信", "坚信", "深信", "笃定", "毋庸置疑", "信心"),
    "PB": (
        "喜欢",
        "喜爱",
        "宝贝",
        "倾慕",
        "心爱",
        "亲爱",
        "爱慕",
        "一见钟情",
        "爱不释手",
        "疼爱",
        "温柔",
        "迷恋",
    ),
    "PK": ("祝愿", "祝福", "渴望", "保佑", "期盼", "希望", "盼望", "祈祷", "福寿绵长", "万事如意"),
    "NA": ("愤怒", "气愤", "恼火", "生气", "发火", "暴怒", "大发雷霆", "七窍生烟", "怒火", "火冒三丈"),
    "NB": (
        "悲伤",
        "忧伤",
        "悲苦",
        "伤心",
        "难过",
        "痛苦",
        "心如刀割",
        "悲痛欲绝",
        "哀伤",
        "心碎",
        "流泪",
        "眼泪",
    ),
    "NJ": ("失望", "绝望", "遗憾", "灰心", "灰心丧气", "心灰意冷", "沮丧", "憾事", "泄气", "失落"),
    "NH": ("内疚", "忏悔", "愧疚", "过意不去", "问心有愧", "自责", "惭愧", "后悔", "歉疚"),
    "PF": ("思念", "相思", "想念", "怀念", "牵挂", "牵肠挂肚", "朝思暮想", "惦记", "眷恋", "挂念"),
    "NI": ("慌张", "心慌", "不知所措", "手忙脚乱", "惊慌", "慌乱", "着急", "焦急", "慌忙", "忐忑"),
    "NC": ("恐惧", "害怕", "胆怯", "担惊受怕", "胆颤心惊", "可怕", "惊恐", "畏惧", "恐慌", "不安"),
    "NG": ("害羞", "害臊", "面红耳赤", "无地自容", "羞涩", "难为情", "羞愧", "腼腆"),
    "NE": ("烦闷", "憋闷", "烦躁", "心烦意乱", "自寻烦恼", "郁闷", "烦恼", "无聊", "苦闷", "焦躁"),
    "ND": ("反感", "可耻", "恨之入骨", "深恶痛绝", "厌恶", "憎恨", "讨厌", "痛恨", "嫌弃"),
    "NN": ("呆板", "虚荣", "杂乱无章", "心狠手辣", "虚伪", "自私", "冷漠", "愚蠢", "卑鄙"),
    "NK": ("眼红", "吃醋", "醋坛子", "嫉贤妒能", "嫉妒", "妒忌", "羡慕嫉妒"),
    "NL": ("多心", "生疑", "将信将疑", "疑神疑鬼", "怀疑", "猜疑", "疑惑", "狐疑", "半信半疑"),
    "PC": ("奇怪", "奇迹", "大吃一惊", "瞠目结舌", "惊奇", "惊讶", "惊喜", "意外", "吃惊", "神奇"),
}
NEUTRAL = (
    "夜晚",
    "街道",
    "城市",
    "海边",
    "月光",
    "窗外",
    "下雨",
    "星星",
    "今天",
    "明天",
    "昨天",
    "路口",
    "故事",
    "火车",
    "站台",
    "屋顶",
    "夏天",
    "冬天",
    "黄昏",
    "清晨",
    "咖啡",
    "吉他",
    "电话",
    "地铁",
    "房间",
    "灯光",
    "影子",
    "天空",
    "河流",
    "山顶",
    "远方",
    "校园",
    "操场",
    "耳机",
    "旋律",
    "日记",
    "照片",
    "季节",
    "风声",
    "雨伞",
    "车站",
)
_LINE_TEMPLATES = (
    "{n}里的{w}",
    "{w}的{n}",
    "在{n}，{w}",
    "{n}，{w}，{w2}",
    "那年{n}，我们{w}",
    "{w}像{n}",
    "走过{n}，{w}",
)
_NEUTRAL_LINES = ("{n}，{n2}", "{n}的{n2}", "走过{n}")
_COMMENT_TEMPLATES = ("单曲循环，{w}", "{w}", "{n}听这首歌，{w}", "第一次听就{w}", "{w}，{w2}", "每次听都{w}")
_NOISE_COMMENTS = ("打卡", "前排", "来了来了", "{n}的网友路过", "收藏了", "第{k}次听")
_QUERY_TEMPLATES = (
    "此刻{w}，{n}",
    "{w}，{w2}。",
    "我觉得{w}",
    "感觉{w}又{w2}",
    "{n}的时候，{w}",
    "最近{w}，想听歌",
)
_ARTISTS = (
    "林一",
    "陈晓",
    "王乐队",
    "Aurora Lane",
    "周末",
    "北方",
    "Neon Harbor",
    "李青",
    "赵雪",
    "南风",
    "Mira",
    "黑白",
    "Echo Park",
    "小河",
    "白昼",
    "Luna",
)


class DemoTextWriter:
    """Writes names, lyrics, comments and queries whose emotion is known, from lexicon words.

    ``pools[code]`` are the words used for a fine DLUT category: prototypes the lexicon files
    under that category (or its group), topped up with the lexicon's most frequent
    unambiguous words of it; each pool is split in two halves, ``track`` and ``query``, so the
    held-out queries use words the tracks never use.
    """

    def __init__(
        self,
        lexicon: Lexicon,
        *,
        freq: Mapping[str, int] | None = None,
        noise: float = 0.15,
        min_pool: int = 4,
    ):
        self.lexicon = lexicon
        self.noise = noise
        coarse = lexicon.granularity == "coarse"
        target = {c.code: (c.group if coarse else c.code) for c in emotions.DLUT_CATEGORIES}
        dominant: dict[str, str] = {}
        for word, prof in lexicon.profiles.items():
            best = max(v for _, v in prof)
            tops = [i for i, v in prof if v == best]
            if len(tops) == 1:  # a tie between categories is no clear example of either
                dominant[word] = lexicon.codes[tops[0]]
        freq = freq or {}
        by_code: dict[str, list[str]] = {}
        for word, code in dominant.items():
            if 2 <= len(word) <= 4 and len(lexicon.profiles[word]) == 1:
                by_code.setdefault(code, []).append(word)
        for words in by_code.values():
            words.sort(key=lambda w: (-freq.get(w, 0), len(w), w))
        self.pools: dict[str, dict[str, list[str]]] = {}
        for code in emotions.DLUT_CODES:
            pool = [w for w in PROTOTYPES[code] if dominant.get(w) == target[code]]
            for w in by_code.get(target[code], []):
                if len(pool) >= min_pool:
                    break
                if w not in pool and w[0] not in "不没别非无未":  # no negation-looking fillers
                    pool.append(w)
            if pool:
                track = pool[0::2]
                query = pool[1::2] or track
                self.pools[code] = {"track": track, "query": query}
        self.neutral = [w for w in NEUTRAL if w not in lexicon]

    # -- sampling helpers -------------------------------------------------------------------
    def _code(self, rng: np.random.Generator, dist: Mapping[str, float]) -> str | None:
        codes = [c for c in dist if c in self.pools and dist[c] > 0]
        if not codes:
            return None
        if self.noise and rng.random() < self.noise:
            return str(rng.choice(sorted(self.pools)))
        p = np.array([dist[c] for c in codes], dtype=float)
        return str(codes[int(rng.choice(len(codes), p=p / p.sum()))])

    def _word(self, rng: np.random.Generator, dist: Mapping[str, float], half: str) -> str:
        code = self._code(rng, dist)
        if code is None:
            return self._neutral(rng)
        pool = self.pools[code][half]
        return str(pool[int(rng.integers(len(pool)))])

    def _neutral(self, rng: np.random.Generator) -> str:
        return str(self.neutral[int(rng.integers(len(self.neutral)))])

    def _fill(self, template: str, rng, dist, half: str) -> str:
        return template.format(
            w=self._word(rng, dist, half),
            w2=self._word(rng, dist, half),
            n=self._neutral(rng),
            n2=self._neutral(rng),
            k=int(rng.integers(2, 99)),
        )

    # -- texts ------------------------------------------------------------------------------
    def lyric(
        self, rng: np.random.Generator, dist: Mapping[str, float], lines: int, emotional_share: float = 0.6
    ) -> str:
        out = []
        for _ in range(lines):
            if rng.random() < emotional_share:
                t = _LINE_TEMPLATES[int(rng.integers(len(_LINE_TEMPLATES)))]
            else:
                t = _NEUTRAL_LINES[int(rng.integers(len(_NEUTRAL_LINES)))]
            out.append(self._fill(t, rng, dist, "track"))
        return "\n".join(out)

    def comment(self, rng: np.random.Generator, dist: Mapping[str, float], noise_share: float = 0.2) -> str:
        if rng.random() < noise_share:
            return self._fill(_NOISE_COMMENTS[int(rng.integers(len(_NOISE_COMMENTS)))], rng, dist, "track")
        return self._fill(_COMMENT_TEMPLATES[int(rng.integers(len(_COMMENT_TEMPLATES)))], rng, dist, "track")

    def query(self, rng: np.random.Generator, dist: Mapping[str, float]) -> str:
        t = _QUERY_TEMPLATES[int(rng.integers(len(_QUERY_TEMPLATES)))]
        saved, self.noise = self.noise, 0.0  # a query says what its writer feels, without noise
        try:
            return self._fill(t, rng, dist, "query")
        finally:
            self.noise = saved


def emotion_mix(
    primary: str, marks: Mapping[str, int] | None = None, secondary_weight: float = 0.5
) -> dict[str, float]:
    """A track's DLUT mix: its primary GEMS-6 emotion, plus half weight for each other mark."""
    table = emotions.mapping("gems6")
    mix: dict[str, float] = dict(table[primary])
    for other, on in (marks or {}).items():
        if on and other != primary:
            for code, w in table[other].items():
                mix[code] = mix.get(code, 0.0) + secondary_weight * w
    return mix


def _likes(rng: np.random.Generator, popularity: float, n: int) -> list[int]:
    scale = np.log1p(max(popularity, 0.0))
    return [int(x) for x in np.floor(rng.lognormal(mean=1.0 + scale, sigma=1.2, size=n))]


def demo_track_texts(
    writer: DemoTextWriter,
    n_per_cell: int,
    seed: int,
    *,
    comments_per_track: int = 5,
    lyric_lines: int = 12,
) -> pd.DataFrame:
    """Texts for every demo catalog track (same ``track_id``s as the audio demo), with the
    ground truth (``primary_emotion``, ``genre``) kept for evaluation."""
    catalog = demo_catalog(n_per_cell, seed)
    rng = np.random.default_rng([seed, 6])
    rows = []
    for rec in catalog.to_dict("records"):
        marks = {e: int(rec[e]) for e in emotions.GEMS6}
        mix = emotion_mix(rec["primary_emotion"], marks)
        rows.append(
            {
                "track_id": rec["track_id"],
                "name": rec["title"],
                "artists": rec["artist"],
                "popularity": float(rec["popularity"]),
                "lyric": writer.lyric(rng, mix, lyric_lines),
                "comments": [writer.comment(rng, mix) for _ in range(comments_per_track)],
                "comment_likes": _likes(rng, float(rec["popularity"]), comments_per_track),
                "genre": rec["genre"],
                "primary_emotion": rec["primary_emotion"],
            }
        )
    return pd.DataFrame(rows)


def synthetic_tracks(
    writer: DemoTextWriter,
    n_tracks: int,
    seed: int = 0,
    *,
    comments_per_track: int = 5,
    lyric_lines: int = 24,
    batch_size: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """A large synthetic catalog (e.g. 200,000 tracks with lyrics and 5 comments each), in
    ``track_texts`` batches, for benchmarks; emotions uniform over GEMS-6."""
    rng = np.random.default_rng([seed, 7])
    titles = {
        e: [w for code in emotions.mapping("gems6")[e] for w in writer.pools.get(code, {}).get("track", [])]
        or ["无题"]
        for e in emotions.GEMS6
    }
    done = 0
    while done < n_tracks:
        rows = []
        for i in range(done, min(done + batch_size, n_tracks)):
            emotion = emotions.GEMS6[int(rng.integers(len(emotions.GEMS6)))]
            second = COMPANIONS[emotion][0] if rng.random() < 0.3 else None
            mix = emotion_mix(emotion, {second: 1} if second else None)
            pop = float(rng.lognormal(3.0, 1.0))
            rows.append(
                {
                    "track_id": f"syn-{i:07d}",
                    "name": str(titles[emotion][int(rng.integers(len(titles[emotion])))]) + f" {i % 97}",
                    "artists": _ARTISTS[int(rng.integers(len(_ARTISTS)))],
                    "popularity": pop,
                    "lyric": writer.lyric(rng, mix, lyric_lines),
                    "comments": [writer.comment(rng, mix) for _ in range(comments_per_track)],
                    "comment_likes": _likes(rng, pop, comments_per_track),
                    "primary_emotion": emotion,
                }
            )
        done += len(rows)
        yield pd.DataFrame(rows)


def demo_queries(writer: DemoTextWriter, per_emotion: int, seed: int) -> pd.DataFrame:
    """Held-out query texts: ``per_emotion`` per GEMS-6 emotion, written from the query half
    of the word pools (words the track texts never use)."""
    rng = np.random.default_rng([seed, 8])
    rows = [
        {"emotion": e, "text": writer.query(rng, emotions.mapping("gems6")[e])}
        for e in emotions.GEMS6
        for _ in range(per_emotion)
    ]
    return pd.DataFrame(rows)


def demo_per_cell(settings) -> int:
    """Demo tracks per genre x emotion: ``text.demo_per_cell``, else the audio demo's
    (``audio.clips_per_cell``) so both demos describe the same catalog, else 10."""
    if settings.text.demo_per_cell is not None:
        return int(settings.text.demo_per_cell)
    for name in ("demo_clips_per_cell", "clips_per_cell"):
        value = getattr(settings.audio, name, None)
        if value is not None:
            return int(value)
    return 10


def check_track_texts(df: pd.DataFrame) -> None:
    missing = [c for c in TRACK_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidText(f"track texts lack columns {missing}; expected {TRACK_COLUMNS}")
