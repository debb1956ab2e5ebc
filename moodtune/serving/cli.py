"""``moodtune recommend``, ``moodtune feedback`` and ``moodtune catalog``: the service's endpoints in a terminal.

When the service runs (:mod:`moodtune.serving.client`: ``--service URL``, ``$MOODTUNE_SERVICE_URL``
or make up's address), each command posts the request to it and prints its answer (~0.3 s);
otherwise the local path answers the same way: the service's own
:class:`~moodtune.serving.engine.Engine` and request models (:mod:`moodtune.serving.requests`) on
the registry's champions (the models the service follows), logging to the same feedback store,
so a recommendation made here takes feedback from the page or the API, and the other way round.
``--json`` prints the API's answer. One line on stderr says which side answered.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from moodtune.cli import command, loading, print_json
from moodtune.errors import InvalidInput
from moodtune.serving import client
from moodtune.serving.answers import plain

if TYPE_CHECKING:
    from moodtune.serving.answers import Upload


def local_engine(settings):
    """An :class:`Engine` on the registry's champions and the catalog of the data dir (what
    ``bento_models`` imports for the service); events are written straight to the store."""
    from moodtune.serving.engine import Engine
    from moodtune.serving.models import ModelHolder, registry_model_set

    return Engine(settings, ModelHolder(registry_model_set(settings)), writer=None)


def _request(model, **fields):
    from pydantic import ValidationError

    from moodtune.fields import describe

    try:
        return model(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInput(describe(exc, model)) from None


def _read_upload(path: Path, what: str):
    from moodtune.serving.answers import Upload

    try:
        return Upload(path.name, path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None


# --- recommend ------------------------------------------------------------------------------------


def split_playlist(items, is_file=None) -> tuple[list[str], list[Path]]:
    """Playlist items: an existing file is an upload, anything else a catalog track id."""
    is_file = is_file or (lambda item: Path(item).is_file())
    ids, files = [], []
    for item in items:
        (files.append(Path(item)) if is_file(item) else ids.append(item))
    return ids, files


def recommend(engine, store, *, playlist, age, gender, mood, k=None) -> dict:
    """What ``POST /recommend`` answers for the same playlist and listener (the event logged)."""
    from moodtune.serving.requests import RecommendRequest

    ids, files = split_playlist(playlist)
    req = _request(RecommendRequest, track_ids=ids or None, age=age, gender=gender, mood=mood, k=k)
    plan = engine.plan_recommend(req, [_read_upload(f, "audio file") for f in files])
    return plain(plan.complete(store.record_recommendation(plan.event)))


def _post(service, path: str, fields: dict, uploads: list[tuple[str, Upload]]) -> dict:
    """POST the request fields (``None`` left out) as JSON, or as multipart with ``uploads``
    (field name, :class:`Upload`); a list in multipart is one field holding a JSON array."""
    fields = {k: v for k, v in fields.items() if v is not None}
    if not uploads:
        return service.call("POST", path, json=fields)
    data = {k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in fields.items()}
    return service.call("POST", path, data=data, files=[(name, (u.name, u.data)) for name, u in uploads])


def recommend_remote(service, *, playlist, age, gender, mood, k=None) -> dict:
    """``POST /recommend`` on the running service for the same playlist and listener."""
    ids, files = split_playlist(playlist)
    uploads = [("files", _read_upload(f, "audio file")) for f in files]
    return _post(
        service,
        "/recommend",
        {"track_ids": ids or None, "age": age, "gender": gender, "mood": mood, "k": k},
        uploads,
    )


def _recommend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "playlist",
        nargs="+",
        metavar="TRACK",
        help="audio files (wav, mp3, ogg, flac) and/or catalog track ids to choose from",
    )
    parser.add_argument("--age", type=int, required=True, help="the listener's age in years")
    parser.add_argument("--gender", required=True, choices=["female", "male"])
    parser.add_argument(
        "--mood", type=int, required=True, help="1 = sad, 2 = low, 3 = neutral, 4 = good, 5 = happy"
    )
    parser.add_argument("-k", type=int, default=None, help="how many tracks (default: service.default_k)")
    client.add_service_option(parser)


def _on_local_models(run, settings, **fields) -> dict:
    """``run(engine, store, **fields)`` on a local engine (the champions loaded here) and the
    settings' feedback store: the CLI's path when no service answers."""
    from moodtune.feedback import open_store

    with loading("loading the champion models"):
        engine = local_engine(settings)
    return run(engine, open_store(settings=settings), **fields)


@command("recommend", "rank a playlist for a listener (what POST /recommend does)", _recommend_arguments)
def _recommend(args: argparse.Namespace) -> int:
    listener = {
        "playlist": args.playlist,
        "age": args.age,
        "gender": args.gender,
        "mood": args.mood,
        "k": args.k,
    }

    def local() -> dict:
        from moodtune.settings import get_settings

        return _on_local_models(recommend, get_settings(), **listener)

    answer = client.answer(args.service, lambda service: recommend_remote(service, **listener), local)
    if args.json:
        return print_json(answer)
    who = answer["listener"]
    print(
        f"top {answer['k']} of {answer['candidates']} for a {who['age']}-year-old {who['gender']} "
        f"in mood {who['mood']}/5 ({who['mood_name']})"
    )
    print(
        "match: the policy's score on 0-100 within this playlist; first: the chance it plays the song first"
    )
    for t in answer["tracks"]:
        p = t["profile"]
        name = " — ".join(part for part in (p.get("title") or t["track_id"], p.get("artist")) if part)
        chance = "<1%" if round(t["probability"] * 100) < 1 else f"{t['probability']:.0%}"
        print(
            f"{t['rank']:3d}. match {t['match']:3d}/100  first {chance:>4}  {name}  "
            f"[{p['genre']}, {p['emotion'].replace('_', ' ')}]  ({t['track_id']})"
        )
    print(
        f"recommendation {answer['recommendation_id']}: send feedback with "
        f"`moodtune feedback {answer['recommendation_id']} TRACK_ID --stress low|medium|high`"
    )
    return 0


# --- catalog --------------------------------------------------------------------------------------


def _catalog_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "query",
        nargs="?",
        default="",
        help="only the tracks with this in their id, title, artist, package, genre or emotion "
        "(case-insensitive), e.g. sadness or supertux",
    )
    parser.add_argument(
        "-n", "--limit", type=int, default=20, help="how many tracks to list (default 20; 0: all)"
    )
    parser.add_argument("--ids", action="store_true", help="print only the track ids, one per line")
    parser.add_argument(
        "--json", action="store_true", help="print the rows as JSON (those of GET /ui/api/catalog)"
    )
    client.add_service_option(parser)


def catalog_remote(service, query: str, limit: int) -> tuple[int, list[dict]]:
    """The matching rows' count and the first ``limit`` (0: all) from ``GET /ui/api/catalog``."""
    rows: list[dict] = []
    while True:
        want = 1000 if not limit else min(1000, limit - len(rows))
        page = service.call("GET", "/ui/api/catalog", params={"q": query, "offset": len(rows), "limit": want})
        rows += page["tracks"]
        if not page["tracks"] or len(rows) >= page["total"] or (limit and len(rows) >= limit):
            return page["total"], rows


@command(
    "catalog", "list the catalog's tracks with their ids (what GET /ui/api/catalog lists)", _catalog_arguments
)
def _catalog(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InvalidInput(f"-n is how many tracks to list (0: all); got {args.limit}")

    def local() -> tuple[int, list[dict]]:
        from moodtune.serving.catalog import Catalog, catalog_dir
        from moodtune.settings import get_settings

        settings = get_settings()
        rows = Catalog.load(catalog_dir(settings), settings.data_dir).search(args.query)
        return len(rows), rows[: args.limit] if args.limit else rows

    total, shown = client.answer(
        args.service, lambda service: catalog_remote(service, args.query, args.limit), local
    )
    if args.json:
        return print_json({"total": total, "tracks": shown})
    if args.ids:
        for row in shown:
            print(row["track_id"])
        return 0
    for row in shown:
        name = " — ".join(part for part in (row["title"] or row["track_id"], row["artist"]) if part)
        print(f"{row['track_id']}  {name}  [{row['genre']}, {row['emotion'].replace('_', ' ')}]")
    more = " (-n 0 lists them all)" if len(shown) < total else ""
    print(f"{len(shown)} of {total} track(s){' matching ' + repr(args.query) if args.query else ''}{more}")
    return 0


# --- feedback -------------------------------------------------------------------------------------


def feedback(
    engine, store, *, recommendation_id, track_id, stress_level=None, hrv_file=None, client_key=None
) -> dict:
    """What ``POST /feedback`` answers for the same recommendation, track and response."""
    from moodtune.serving.requests import FeedbackRequest

    req = _request(
        FeedbackRequest,
        recommendation_id=recommendation_id,
        track_id=track_id,
        stress_level=stress_level,
        client_key=client_key,
    )
    upload = None if hrv_file is None else _read_upload(Path(hrv_file), "HRV file")
    reading, kwargs = engine.plan_feedback(req, upload)
    return plain(engine.feedback_answer(store.record_feedback(**kwargs), reading))


def feedback_remote(
    service, *, recommendation_id, track_id, stress_level=None, hrv_file=None, client_key=None
) -> dict:
    """``POST /feedback`` on the running service for the same recommendation, track and response."""
    uploads = [] if hrv_file is None else [("file", _read_upload(Path(hrv_file), "HRV file"))]
    return _post(
        service,
        "/feedback",
        {
            "recommendation_id": recommendation_id,
            "track_id": track_id,
            "stress_level": stress_level,
            "client_key": client_key,
        },
        uploads,
    )


def _feedback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recommendation_id", help="the id `moodtune recommend` (or the API) gave")
    parser.add_argument("track_id", help="the recommended track listened to")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--stress", choices=["low", "medium", "high"], help="how stressed the listener felt")
    how.add_argument(
        "--hrv", metavar="FILE", help="RR intervals (ms, one per line) or a CSV with the eight metrics"
    )
    parser.add_argument(
        "--client-key",
        default=None,
        help="8-64 letters/digits (e.g. a UUID): the same key again returns the stored row",
    )
    client.add_service_option(parser)


@command(
    "feedback",
    "store how a listener responded to a recommended track (what POST /feedback does)",
    _feedback_arguments,
)
def _feedback(args: argparse.Namespace) -> int:
    given = {
        "recommendation_id": args.recommendation_id,
        "track_id": args.track_id,
        "stress_level": args.stress,
        "hrv_file": args.hrv,
        "client_key": args.client_key,
    }

    def local() -> dict:
        from moodtune.settings import get_settings

        return _on_local_models(feedback, get_settings(), **given)

    row = client.answer(args.service, lambda service: feedback_remote(service, **given), local)
    if args.json:
        return print_json(row)
    what = "already stored as" if row["replayed"] else "stored"
    print(f"{what} feedback #{row['id']}: stress {row['stress_level']}, reward {row['reward']:.2f}")
    reading = row.get("reading")
    if reading:
        probs = ", ".join(f"{level} {p:.0%}" for level, p in reading["probabilities"].items())
        print(f"read from HRV ({reading['source']}): {probs}")
        print("  " + "  ".join(f"{m} {v:.1f}" for m, v in reading["metrics"].items()))
    return 0


__all__ = [
    "catalog_remote",
    "feedback",
    "feedback_remote",
    "local_engine",
    "recommend",
    "recommend_remote",
    "split_playlist",
]
