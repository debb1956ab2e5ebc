"""``moodtune recommend-text "…" -k 10``: the emotion of a Chinese text and the tracks nearest it
(the service's ``mode: match``; its default, toward calm from the listener state, is the page's).

``--json`` prints what ``POST /recommend_text`` answers about the text (emotion, top emotions,
keywords, negation, valence-arousal) and its tracks (rank, id, name, artists, distance). With the
champion, a running service answers (:mod:`moodtune.serving.client`); the output is the same.

Here, beside the service's own commands, not in :mod:`moodtune.text`: it answers as the service
does (its request checks, the catalog it searches), so it imports :mod:`moodtune.serving`, which
a domain package never does.
"""

from __future__ import annotations

import argparse

from moodtune.cli import command, loading, print_json
from moodtune.serving import client


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="how you feel, in Chinese, e.g. 后悔也都没有用 还不如一切没有发生过")
    parser.add_argument("-k", type=int, default=None, help="how many tracks (default: text.recommend_k)")
    parser.add_argument("--alias", default=None, help="registry alias to load (default: champion)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON (the API's fields)")
    client.add_service_option(parser)


def text_answer(result, version) -> dict:
    """The text's part of ``POST /recommend_text``'s answer, with the tracks as the index found them."""
    from moodtune import registry
    from moodtune.emotions import display_name

    vector, emotion = result.vector, result.emotion
    va = getattr(emotion, "va", None)
    return {
        "emotion": {c: round(v, 4) for c, v in vector.as_dict().items()},
        "granularity": vector.granularity,
        "top_emotions": [
            {"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in vector.top(3)
        ],
        "keywords": [
            {
                "word": kw.word,
                "tfidf": round(float(kw.tfidf), 6),
                "weight": round(float(kw.weight), 6),
                "contributions": {c: round(float(v), 6) for c, v in kw.contributions.items()},
            }
            for kw in emotion.keywords
        ],
        "negated": list(emotion.negated),
        "valence_arousal": None
        if va is None
        else {"valence": round(float(va[0]), 4), "arousal": round(float(va[1]), 4)},
        "tracks": [
            {
                "rank": rank,
                "track_id": h.track_id,
                "name": h.name,
                "artists": h.artists,
                "distance": round(float(h.distance), 6),
            }
            for rank, h in enumerate(result.hits, start=1)
        ],
        "model_versions": {registry.TEXT: str(version)},
    }


def searched(index, settings):
    """What the service searches: the catalog read through ``index`` (``ModelSet.track_index``:
    a real catalog's songs have no texts), or the index's own tracks where no catalog is built."""
    from types import SimpleNamespace

    from moodtune.serving.catalog import Catalog, catalog_dir
    from moodtune.serving.models import ModelSet

    directory = catalog_dir(settings)
    if not (directory / "catalog.parquet").exists():
        return index
    catalog = Catalog.load(directory, settings.data_dir)
    return ModelSet.track_index.func(  # type: ignore[attr-defined]  # mypy reads a cached_property as a method
        SimpleNamespace(text=index, catalog=catalog)
    )  # the service's one rule


FIELDS = (
    "emotion",
    "granularity",
    "top_emotions",
    "keywords",
    "negated",
    "valence_arousal",
    "model_versions",
)


def remote_answer(service, text: str, k: int) -> dict:
    """:func:`text_answer`'s fields of the running service's ``POST /recommend_text``."""
    # the nearest tracks (mode match), as the local index finds them; the page's default ranks
    # toward calm from the listener state instead (docs/state.md)
    answer = service.call("POST", "/recommend_text", json={"text": text, "k": k, "mode": "match"})
    return {
        **{key: answer[key] for key in FIELDS if key != "model_versions"},
        "tracks": [
            {key: t[key] for key in ("rank", "track_id", "name", "artists", "distance")}
            for t in answer["tracks"]
        ],
        "model_versions": answer["model_versions"],
    }


@command("recommend-text", "recommend tracks for a Chinese text (moodtune-text-index champion)", _arguments)
def recommend_text(args: argparse.Namespace) -> int:
    from moodtune.emotions import CATEGORY_BY_CODE, DLUT_GROUPS
    from moodtune.settings import get_settings

    k = args.k if args.k is not None else get_settings().text.recommend_k

    def local() -> dict:
        from moodtune import registry
        from moodtune.serving.cli import _request
        from moodtune.serving.requests import RecommendTextRequest

        settings = get_settings()
        _request(RecommendTextRequest, text=args.text, k=k)  # the service's checks
        with loading("loading the text index"):
            loaded = registry.load_version(registry.TEXT, args.alias, settings)
        return text_answer(searched(loaded.obj, settings).recommend_text(args.text, k), loaded.version)

    service = (
        client.LOCAL if args.alias not in (None, "champion") else args.service
    )  # the service serves champions
    answer = client.answer(service, lambda s: remote_answer(s, args.text, k), local)
    if args.json:
        return print_json(answer)
    names = {c.code: f"{c.chinese} {c.english}" for c in CATEGORY_BY_CODE.values()}
    names.update({g.code: f"{g.chinese} {g.english}" for g in DLUT_GROUPS})
    ranked = [(c, v) for c, v in sorted(answer["emotion"].items(), key=lambda cv: -cv[1]) if v > 0][:4]
    print(f"emotion ({answer['granularity']}): " + ", ".join(f"{names[c]} {v:.0%}" for c, v in ranked))
    print("keywords: " + " ".join(f"{kw['word']}({kw['weight']:.2f})" for kw in answer["keywords"]))
    va = answer["valence_arousal"]
    if va is not None:
        print(f"valence {va['valence']:+.2f}  arousal {va['arousal']:+.2f}  (Chinese EmoBank, -1..1)")
    if answer["negated"]:
        counted = "flipped" if va is not None else "not counted"
        print(f"negated, {counted}: " + " ".join(answer["negated"]))
    for t in answer["tracks"]:
        print(f"{t['rank']:3d}. dist={t['distance']:.4f}  {t['name']} - {t['artists']}  ({t['track_id']})")
    return 0
