"""``moodtune recommend-text "…" -k 10``: the emotion of a Chinese text and the tracks for it."""

from __future__ import annotations

import argparse

from moodtune import registry
from moodtune.cli import command


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="how you feel, in Chinese, e.g. 后悔也都没有用 还不如一切没有发生过")
    parser.add_argument("-k", type=int, default=None, help="how many tracks (default: text.recommend_k)")
    parser.add_argument("--alias", default=None, help="registry alias to load (default: champion)")


@command("recommend-text", "recommend tracks for a Chinese text (moodtune-text-index champion)", _arguments)
def recommend_text(args: argparse.Namespace) -> int:
    from moodtune.emotions import CATEGORY_BY_CODE, DLUT_GROUPS
    from moodtune.settings import get_settings

    settings = get_settings()
    index = registry.load(registry.TEXT, args.alias, settings)
    result = index.recommend_text(args.text, args.k if args.k is not None else settings.text.recommend_k)
    names = {c.code: f"{c.chinese} {c.english}" for c in CATEGORY_BY_CODE.values()}
    names.update({g.code: f"{g.chinese} {g.english}" for g in DLUT_GROUPS})
    top = ", ".join(f"{names[c]} {v:.0%}" for c, v in result.vector.top(4))
    print(f"emotion ({result.vector.granularity}): {top}")
    print("keywords: " + " ".join(f"{k.word}({k.weight:.2f})" for k in result.emotion.keywords))
    if result.emotion.va is not None:
        v, a = result.emotion.va
        print(f"valence {v:+.2f}  arousal {a:+.2f}  (Chinese EmoBank, -1..1)")
    if result.emotion.negated:
        counted = "flipped" if result.emotion.va is not None else "not counted"
        print(f"negated, {counted}: " + " ".join(result.emotion.negated))
    for rank, hit in enumerate(result.hits, start=1):
        print(f"{rank:3d}. dist={hit.distance:.4f}  {hit.name} - {hit.artists}  ({hit.track_id})")
    return 0
