"""``moodtune recommend-text "…" -k 10``: the emotion of a Chinese text and the tracks for it.

``--json`` prints what ``POST /recommend_text`` answers about the text (emotion, top emotions,
keywords, negation, valence-arousal) and its tracks (rank, id, name, artists, distance).
"""

from __future__ import annotations

import argparse

from moodtune.cli import command, loading, print_json


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="how you feel, in Chinese, e.g. 后悔也都没有用 还不如一切没有发生过")
    parser.add_argument("-k", type=int, default=None, help="how many tracks (default: text.recommend_k)")
    parser.add_argument("--alias", default=None, help="registry alias to load (default: champion)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON (the API's fields)")


def text_answer(result, version) -> dict:
    """The text's part of ``POST /recommend_text``'s answer, with the tracks as the index found them."""
    from moodtune import registry
    from moodtune.emotions import display_name

    vector, emotion = result.vector, result.emotion
    va = getattr(emotion, "va", None)
    return {
        "emotion": {c: round(v, 4) for c, v in vector.as_dict().items()},
        "granularity": vector.granularity,
        "top_emotions": [{"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in vector.top(3)],
        "keywords": [{"word": kw.word, "tfidf": round(float(kw.tfidf), 6), "weight": round(float(kw.weight), 6),
                      "contributions": {c: round(float(v), 6) for c, v in kw.contributions.items()}}
                     for kw in emotion.keywords],
        "negated": list(emotion.negated),
        "valence_arousal": None if va is None else {"valence": round(float(va[0]), 4),
                                                    "arousal": round(float(va[1]), 4)},
        "tracks": [{"rank": rank, "track_id": h.track_id, "name": h.name, "artists": h.artists,
                    "distance": round(float(h.distance), 6)} for rank, h in enumerate(result.hits, start=1)],
        "model_versions": {registry.TEXT: str(version)},
    }


@command("recommend-text", "recommend tracks for a Chinese text (moodtune-text-index champion)", _arguments)
def recommend_text(args: argparse.Namespace) -> int:
    from moodtune import registry
    from moodtune.emotions import CATEGORY_BY_CODE, DLUT_GROUPS
    from moodtune.settings import get_settings

    settings = get_settings()
    with loading("loading the text index"):
        loaded = registry.load_version(registry.TEXT, args.alias, settings)
    index = loaded.obj
    result = index.recommend_text(args.text, args.k if args.k is not None else settings.text.recommend_k)
    if args.json:
        return print_json(text_answer(result, loaded.version))
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
