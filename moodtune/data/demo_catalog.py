"""The embedded demo catalog: the tracks every demo dataset is generated for.

One deterministic table of tracks (4 genres x 6 GEMS emotions x ``n_per_cell``) with a known
ground truth: genre, primary emotion, multi-label GEMS-6 marks, a Chinese title, an artist
and a popularity. The audio demo synthesises a clip for each track, the text demo writes its
lyrics and comments, and the listener simulator knows which tracks a listener truly likes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6, GENRES

# Emotions that often co-occur with a primary one (a second mark with probability SECOND_P).
COMPANIONS: dict[str, tuple[str, ...]] = {
    "tenderness": ("calmness", "sadness"),
    "calmness": ("tenderness",),
    "power": ("joyful_activation", "tension"),
    "joyful_activation": ("power",),
    "tension": ("power",),
    "sadness": ("tenderness",),
}
SECOND_P = 0.3

_TITLE_WORDS: dict[str, tuple[str, ...]] = {
    "tenderness": ("温柔", "喜欢你", "宝贝", "心上人", "亲爱的", "爱你"),
    "calmness": ("安心", "宁静", "踏实", "晚风", "平静的湖", "安宁"),
    "power": ("英雄", "优秀", "勇敢", "荣耀", "赞歌", "光芒"),
    "joyful_activation": ("快乐", "欢喜", "开心", "欢天喜地", "喜悦", "笑眯眯"),
    "tension": ("慌张", "害怕", "心慌", "不安", "恐惧", "手忙脚乱"),
    "sadness": ("悲伤", "忧伤", "遗憾", "失望", "心如刀割", "思念"),
}
_TITLE_TAILS = ("", "之歌", "的夜", "时光", "Remix", "（现场）", "小调", "")
_ARTISTS = (
    "林一", "陈晓", "王乐队", "Aurora Lane", "The Static", "周末", "北方", "Neon Harbor",
    "李青", "赵雪", "Kite Runners", "南风", "Mira", "黑白", "Echo Park", "小河",
)


def demo_catalog(n_per_cell: int = 10, seed: int = 42) -> pd.DataFrame:
    """The demo tracks: ``track_id, title, artist, genre, primary_emotion, popularity`` and
    one 0/1 column per GEMS-6 emotion. Deterministic for a given ``(n_per_cell, seed)``."""
    if n_per_cell < 1:
        raise ValueError("n_per_cell must be at least 1")
    rng = np.random.default_rng(seed)
    rows = []
    for genre in GENRES:
        for emotion in GEMS6:
            for i in range(n_per_cell):
                marks = {e: 0 for e in GEMS6}
                marks[emotion] = 1
                if rng.random() < SECOND_P:
                    marks[str(rng.choice(COMPANIONS[emotion]))] = 1
                title = str(rng.choice(_TITLE_WORDS[emotion])) + str(rng.choice(_TITLE_TAILS))
                rows.append(
                    {
                        "track_id": f"demo-{genre}-{emotion}-{i:03d}",
                        "title": title,
                        "artist": str(rng.choice(_ARTISTS)),
                        "genre": genre,
                        "primary_emotion": emotion,
                        "popularity": float(np.round(rng.lognormal(mean=3.0, sigma=1.0), 2)),
                        **marks,
                    }
                )
    return pd.DataFrame(rows)
