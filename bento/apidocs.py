"""The API's own docs: ``/docs.json`` (the OpenAPI contract) and the page at ``/`` to try it.

BentoML generates the OpenAPI document from the request models; :func:`contract` completes
it: moodtune's title, version and description, every status an operation can answer with in
the service's one error shape (``{"error": <what to fix>, "type": <kind>}``), the request body
marked required, JSON beside multipart where the files are optional and listed first (Swagger
UI's default), a working example per operation, an example for every answer and schema (no open
map left for Swagger UI to fill with ``additionalProp1``), a summary per operation, readable
schema names (``RecommendRequest``, ``RecommendForm``, ``Recommendation``; not
``...IODescriptor``) and the server ``/``. :class:`ApiDocs` serves it, with live examples (the
serving catalog's ids and the serving models' answers; :meth:`ApiDocs.live`), and a Swagger UI
page built from the bundle BentoML ships (no network needed), with a link to the web page at
``/ui``.

Nothing here is per endpoint but wording: the example bodies are the request classes'
(``Request.example``), the live answers are the engine's answers to them
(:meth:`~moodtune.serving.engine.Engine.method_for`), the writes are the request classes'
(:func:`bento.access.write_paths`); :data:`SUMMARIES` and :data:`ANSWERS` only improve on the
fallbacks (an operation's first sentence, its live answer).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bento.access import write_paths
from moodtune.registry.names import AUDIO, FACE, HRV, MODEL_NAMES, TEXT
from moodtune.serving.requests import AnalyzeHrvRequest

log = logging.getLogger("bentoml.moodtune")
ERROR = {
    "type": "object",
    "required": ["error", "type"],
    "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "description": "what is wrong and what to do"},
        "type": {"type": "string", "description": "the kind of error, e.g. InvalidRequest"},
    },
}
STATUSES = {
    "400": "the body cannot be read (bad JSON, broken multipart), or an uploaded file is over its limit",
    "401": "an API key is required (when `service.api_keys` is set) and was missing or wrong",
    "413": "the request body is larger than `service.max_request_bytes`",
    "415": "the body is not a media type this operation takes (its requestBody's content): JSON where a file is "
    "required, multipart where the operation takes no file, or neither",
    "422": "the request breaks the request model (the message names each field and its rule), or the input "
    "cannot be used (unknown track id, audio that does not decode, no face, too-short RR data, ...)",
    "429": "too many writes from this client (`service.rate_limit_per_minute`); retry after `Retry-After` s",
    "500": "a bug: the service's log has the traceback",
    "503": "the models are not loaded (yet)",
    "504": "no answer within `service.timeout_s`",
}
FILE_FIELDS = {"files", "file", "image", "baseline"}
FAVICON = Path(__file__).resolve().parent / "web" / "static" / "favicon.ico"
SERVER = "/"  # requests go to the origin the page was loaded from (BentoML's "." shows as ".")
SUMMARIES = {
    "/recommend": "Rank a playlist for a listener",
    "/recommend_text": "Tracks for the emotion of a Chinese text",
    "/recommend_image": "Tracks for the emotion of the people in a photo",
    "/analyze_audio": "Emotion and genre of one audio clip",
    "/analyze_hrv": "Stress level from heart-rate variability",
    "/feedback": "Store how a listener responded to a recommended track",
    "/models": "The serving model versions",
    "/healthz": "Health check (200 while the process runs)",
    "/livez": "Liveness check",
    "/readyz": "Readiness check (200 once the models are loaded)",
    "/metrics": "Prometheus metrics",
}
BENTOML_SCHEMAS = ("TaskStatusResponse", "InvalidArgument", "NotFound", "InternalServerError")  # unused here
ERROR_TYPES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "413": "RequestTooLarge",
    "415": "UnsupportedMediaType",
    "422": "InvalidRequest",
    "429": "TooManyRequests",
    "500": "InternalError",
    "503": "ServiceUnavailable",
    "504": "Timeout",
}
# What the answers look like (the demo models' real answers, shortened). The docs page shows them
# where the serving models give no live answer (ApiDocs.live_answers): a photo and an audio clip
# cannot be made up, and feedback is a write.
_PROFILE = {
    "track_id": "debian:wesnoth-1.16-music:casualties_of_war",
    "title": "Casualties of War",
    "artist": "Tyler Johnson",
    "source": "debian",
    "package": "wesnoth-1.16-music",
    "version": "1:1.16.9-1",
    "licence": "GPL-2",
    "licence_url": "/ui/licence/wesnoth-1.16-music",
    "duration": 325.0,
    "audio_url": "/ui/audio/debian%3Awesnoth-1.16-music%3Acasualties_of_war",
    "genre": "classical",
    "emotion": "calmness",
    "emotions": {
        "tenderness": 0.2848,
        "calmness": 0.9988,
        "power": 0.0001,
        "joyful_activation": 0.0207,
        "tension": 0.0002,
        "sadness": 0.0509,
    },
    "genres": {"classical": 0.6606, "pop": 0.1187, "rock": 0.0888, "electronic": 0.1319},
    "valence": 0.535,
    "arousal": -0.3653,
    "label_genre": None,
    "text": None,
}
_STATE = {
    "valence": -0.5,
    "valence_sd": 0.35,
    "arousal": 0.0,
    "arousal_sd": 0.5,
    "stress": 0.5,
    "stress_sd": 0.25,
    "stress_level": "medium",
    "stress_probabilities": {"low": 0.2743, "medium": 0.4514, "high": 0.2743},
    "mood": 2.0,
    "sources": [{"source": "form", "valence": -0.5, "valence_sd": 0.35}],
    "from_prior": ["arousal"],
    "summary": "unpleasant (valence -0.50 ± 0.35; stress not measured) from form",
}
_VERSIONS = dict.fromkeys(MODEL_NAMES, "1")
_METRICS = dict(AnalyzeHrvRequest.EXAMPLE["metrics"])  # the /analyze_hrv example reads these
_READING = {
    "level": "low",
    "probabilities": {"low": 0.792271, "medium": 0.177145, "high": 0.030584},
    "metrics": _METRICS,
    "source": "metrics",
    "rows": 1,
    "per_row": [{"level": "low", "p_low": 0.792271, "p_medium": 0.177145, "p_high": 0.030584}],
}
_NEAREST = {
    "rank": 1,
    "track_id": _PROFILE["track_id"],
    "name": _PROFILE["title"],
    "artists": _PROFILE["artist"],
    "distance": 0.167627,
    "score": -0.167627,
    "in_catalog": True,
    "profile": _PROFILE,
    "reason": "#1: its emotion is closest to the photo's (乐 joy, 惊 surprise); emotion distance 0.168",
}
ANSWERS: dict[str, dict[str, Any]] = {
    "/recommend": {
        "tracks": [
            {
                "rank": 1,
                "track_id": _PROFILE["track_id"],
                "score": -1.428611,
                "probability": 0.339159,
                "match": 100,
                "reason": "#1 of 4 for a 30-year-old female in mood 2/5 (low): sounds calm (1.00) "
                "and tender (0.28); classical (0.66); the policy picks it first 34% of "
                "the time",
                "profile": _PROFILE,
            }
        ],
        "k": 1,
        "requested_k": 1,
        "candidates": 4,
        "listener": {"age": 30, "gender": "female", "mood": 2, "mood_name": "low"},
        "state": _STATE,
        "model_versions": _VERSIONS,
        "source": "catalog",
        "recommendation_id": "06b997e9b630420b837ee0b616f75b96",
    },
    "/recommend_text": {
        "emotion": {
            "joy": 0.0,
            "good": 0.0,
            "anger": 0.0,
            "sorrow": 1.0,
            "fear": 0.0,
            "disgust": 0.0,
            "surprise": 0.0,
        },
        "granularity": "coarse",
        "top_emotions": [{"code": "sorrow", "name": "哀 sorrow", "strength": 1.0}],
        "keywords": [
            {"word": "难过", "tfidf": 3.761126, "weight": 5.641689, "contributions": {"sorrow": 28.208443}}
        ],
        "negated": [],
        "valence_arousal": {"valence": -0.3014, "arousal": 0.1279},
        "mode": "match",
        "state": _STATE,
        "tracks": [
            {
                **_NEAREST,
                "reason": "#1: its emotion is closest to the text's (哀 sorrow); emotion distance 0.168",
            }
        ],
        "model_versions": {TEXT: "1"},
        "recommendation_id": None,
    },
    "/recommend_image": {
        "message": "1 face found",
        "width": 512,
        "height": 512,
        "faces": [
            {
                "box": [178, 67, 92, 92],
                "expressions": {
                    "angry": 0.0002,
                    "disgust": 0.0,
                    "fear": 0.0,
                    "happy": 0.9773,
                    "sad": 0.0,
                    "surprise": 0.0217,
                    "neutral": 0.0009,
                },
                "top": "happy",
                "weight": 1.0,
                "confidence": 5.827,
            }
        ],
        "emotion": {"PA": 0.9773, "PC": 0.0217, "NN": 0.0009},
        "emotion_coarse": {"joy": 0.9777, "surprise": 0.0217, "sorrow": 0.0006},
        "valence": 0.7623,
        "arousal": 0.3489,
        "top_emotions": [
            {"code": "PA", "name": "快乐 happiness", "strength": 0.9773},
            {"code": "PC", "name": "惊奇 surprise", "strength": 0.0217},
        ],
        "query_emotion": {"joy": 0.9777, "surprise": 0.0217, "sorrow": 0.0006},
        "query_top": [
            {"code": "joy", "name": "乐 joy", "strength": 0.9777},
            {"code": "surprise", "name": "惊 surprise", "strength": 0.0217},
        ],
        "mode": "match",
        "state": _STATE,
        "tracks": [_NEAREST],
        "model_versions": {FACE: "1", TEXT: "1"},
        "recommendation_id": None,
    },
    "/analyze_audio": {
        **{
            k: v
            for k, v in _PROFILE.items()
            if k in ("genre", "emotion", "emotions", "genres", "valence", "arousal", "label_genre", "text")
        },
        "track_id": "upload-2ba2ce8ecdb5fc54",
        "title": "clip.flac",
        "artist": "",
        "source": "upload",
        "model_versions": {AUDIO: "1"},
    },
    "/analyze_hrv": {**_READING, "model_versions": {HRV: "1"}},
    "/feedback": {
        "id": 1,
        "recommendation_id": "06b997e9b630420b837ee0b616f75b96",
        "track_id": _PROFILE["track_id"],
        "created_at": "2026-12-05T20:56:29.610116+00:00",
        "source": "metrics",
        "stress_level": "low",
        "reward": 1.0,
        "choice_probability": 0.339159,
        "metrics": _METRICS,
        "probabilities": _READING["probabilities"],
        "model_versions": _VERSIONS,
        "client_key": None,
        "baseline": None,
        "replayed": False,
        "reading": _READING,
    },
    "/models": {
        "models": {
            name: {
                "version": v,
                "source": f"bentoml:{name}:v{v}-62d7faca",
                "run_id": "5a21bb3153bb4d3fa07d7911eab88d82",
                "loaded_at": "2026-12-05T20:55:51.209875+00:00",
            }
            for name, v in _VERSIONS.items()
        },
        "shadow": {},
        "catalog": {
            "tracks": 333,
            "tracks_with_text": 41,
            "built_at": "2026-12-05T20:50:02+00:00",
            "fingerprint": "9f2c4e1a",
            "built_from": {AUDIO: "1"},
            "stale": {},
            "source": "bentoml:moodtune-catalog:v1-62d7faca",
            "loaded_at": "2026-12-05T20:55:51.209875+00:00",
        },
        "swaps": 0,
        "last_error": None,
    },
}
# An open object (a map) with no example of its own is drawn by Swagger UI as "additionalProp1":
# these are the maps' examples by property name, for the request forms and the schemas' properties.
MAP_EXAMPLES = {
    "metrics": _METRICS,
    "emotions": _PROFILE["emotions"],
    "genres": _PROFILE["genres"],
    "model_versions": _VERSIONS,
    "probabilities": _READING["probabilities"],
    "emotion": ANSWERS["/recommend_text"]["emotion"],
    "models": ANSWERS["/models"]["models"],
    "catalog": ANSWERS["/models"]["catalog"],
    "valence_arousal": {"valence": -0.3014, "arousal": 0.1279},
    "reading": _READING,
    "profile": _PROFILE,
}


def schema_name(name: str) -> str:
    """A readable name for BentoML's generated schema names: ``RecommendBodyIODescriptor`` ->
    ``RecommendRequest``, ``RecommendationIODescriptor`` -> ``Recommendation``."""
    if name.endswith("BodyIODescriptor"):
        return name[: -len("BodyIODescriptor")] + "Request"
    return name.removesuffix("IODescriptor")


def _walk(node: Any):
    """Every dict inside ``node`` (itself included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def is_open(schema: dict) -> bool:
    """Whether ``schema`` is an object that takes keys it does not list (Swagger UI draws them
    as ``additionalProp1``...)."""
    extra = schema.get("additionalProperties")
    return extra is not None and extra is not False


def open_without_example(node: Any, path: str = "") -> list[str]:
    """Where Swagger UI would draw ``additionalProp1``: the paths of the open objects in ``node``
    with no example of their own or above them."""
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in open_without_example(v, f"{path}/{i}")]
    if not isinstance(node, dict) or "example" in node:
        return []
    here = [path] if is_open(node) and node.get("type", "object") == "object" else []
    return here + [
        p
        for k, v in node.items()
        if k != "additionalProperties"
        for p in open_without_example(v, f"{path}/{k}")
    ]


def _examples_down(schema: dict, example: Any, schemas: dict[str, dict]) -> None:
    """Give ``schema`` (and the schemas it refers to, its properties, map values and items)
    ``example`` and its parts, where they have none."""
    if example is None or not isinstance(schema, dict):
        return
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for branch in schema.get("anyOf", ()):
        _examples_down(branch, example, schemas)
    if schema.get("type") == "object" or "properties" in schema:
        if not isinstance(example, dict):
            return
        schema.setdefault("example", example)
        for name, sub in schema.get("properties", {}).items():
            _examples_down(sub, example.get(name), schemas)
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and example:  # a map of objects: its first value
            _examples_down(values, next(iter(example.values())), schemas)
    elif schema.get("type") == "array" and isinstance(example, list) and example:
        _examples_down(schema.get("items", {}), example[0], schemas)


def _map_examples(schema: dict) -> None:
    """Examples for the open maps among ``schema``'s properties (:data:`MAP_EXAMPLES`)."""
    for name, sub in schema.get("properties", {}).items():
        branches = [sub, *sub.get("anyOf", ())]
        if (
            name in MAP_EXAMPLES
            and "example" not in sub
            and any(is_open(b) or b.get("type") == "object" for b in branches)
        ):
            sub["example"] = MAP_EXAMPLES[name]


def contract(
    spec: dict[str, Any],
    *,
    version: str,
    examples: dict[str, dict] | None = None,
    answers: dict[str, dict] | None = None,
    writes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """BentoML's OpenAPI document ``spec`` completed (see the module docstring): ``examples`` are
    the request bodies per path, ``answers`` the 200 answers (over :data:`ANSWERS`), ``writes``
    the paths rate-limited and keyed (by default :func:`bento.access.write_paths`)."""
    spec = copy.deepcopy(spec)
    writes = write_paths() if writes is None else writes
    answers = {**ANSWERS, **(answers or {})}
    spec["info"] = {
        "title": "moodtune",
        "version": version,
        "description": (
            "Music for how a listener feels: rank a playlist for a listener, read the emotion of a Chinese "
            "text or a photo, read stress from heart-rate variability, and store how the listener responded. "
            'The web page is at [/ui](/ui). Every error answers `{"error": <what to fix>, "type": <kind>}`; '
            "request bodies are strict (unknown fields are refused, numbers are not read from strings)."
        ),
    }
    spec["servers"] = [{"url": SERVER, "description": "this service"}]
    # readable schema names everywhere (keys, titles, references)
    old = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas = {schema_name(k): v for k, v in old.items()}
    for node in _walk(spec):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/components/schemas/"):
            node["$ref"] = "#/components/schemas/" + schema_name(node["$ref"].rsplit("/", 1)[-1])
        if isinstance(node.get("title"), str) and node["title"].endswith("IODescriptor"):
            node["title"] = schema_name(node["title"])
    schemas["Error"] = copy.deepcopy(ERROR)
    schemas["Error"]["example"] = {"error": "age: between 5 and 120 (whole years)", "type": "InvalidRequest"}
    spec["components"]["schemas"] = schemas
    for path, item in spec.get("paths", {}).items():
        for op in item.values():
            first = (op.get("description") or "").strip().split(". ")[0].split("\n")[0]
            op.setdefault("summary", SUMMARIES.get(path) or first or path)
        post = item.get("post")
        if post is None:
            continue
        responses = post.get("responses", {})
        ok = responses.get(200) or responses.get("200") or {}
        ok["description"] = "the answer"
        codes = ["400", "413", "415", "422", "500", "503", "504"]
        if path in writes:
            codes[1:1] = ["401", "429"]
        post["responses"] = {
            "200": ok,
            **{
                c: {
                    "description": STATUSES[c],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"},
                            "example": {"error": STATUSES[c], "type": ERROR_TYPES[c]},
                        }
                    },
                }
                for c in sorted(codes)
            },
        }
        ok_media = ok.get("content", {}).get("application/json")
        if ok_media is not None and path in answers:
            ok_media["example"] = answers[path]
            _examples_down(ok_media["schema"], answers[path], schemas)
            title = ok_media["schema"].get("title")
            if title in schemas:
                _examples_down(schemas[title], answers[path], schemas)
        body = post.get("requestBody")
        if body is None:
            continue
        body["required"] = True
        content = body.get("content", {})
        multipart = content.get("multipart/form-data")
        if multipart is not None and "application/json" not in content:
            schema = multipart["schema"]
            if not set(schema.get("required", ())) & FILE_FIELDS:  # the files are optional: JSON works too
                as_json = copy.deepcopy(schema)
                as_json["properties"] = {
                    k: v for k, v in as_json["properties"].items() if k not in FILE_FIELDS
                }
                content["application/json"] = {"schema": as_json}
        if "application/json" in content:  # JSON first: Swagger UI's default media type
            body["content"] = content = {
                "application/json": content["application/json"],
                **{k: v for k, v in content.items() if k != "application/json"},
            }
        if multipart is not None and "application/json" in content:
            name = multipart["schema"].get("title", "")
            if name.endswith("Request"):  # the form beside the JSON body: its own name
                form = name[: -len("Request")] + "Form"
                multipart["schema"]["title"] = form
                schemas[form] = copy.deepcopy(multipart["schema"])
                schemas[name] = copy.deepcopy(content["application/json"]["schema"])
                schemas[name]["title"] = name
                content["application/json"]["schema"]["title"] = name
        example = (examples or {}).get(path)
        if example is not None and "application/json" in content:
            content["application/json"]["example"] = example
            _examples_down(content["application/json"]["schema"], example, schemas)
            title = content["application/json"]["schema"].get("title")
            if title in schemas:
                _examples_down(schemas[title], example, schemas)
    for node in list(_walk(spec)):
        if "properties" in node:
            _map_examples(node)
    referenced = {n["$ref"].rsplit("/", 1)[-1] for n in _walk(spec) if isinstance(n.get("$ref"), str)}
    for name in BENTOML_SCHEMAS:
        if name not in referenced:
            schemas.pop(name, None)
    return spec


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>moodtune API</title>
  <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
  <link rel="stylesheet" href="/ui/static/fonts/noto-sans-sc.css">
  <style>header{font-family:sans-serif;padding:12px 20px;border-bottom:1px solid #ddd}
  header a{margin-left:1em}
  /* the examples' Chinese in the web page's font (its faces cover CJK only: Latin stays monospace) */
  .swagger-ui pre, .swagger-ui code, .swagger-ui textarea{font-family:"Noto Sans SC",monospace}</style>
</head>
<body>
  <header><strong>moodtune</strong> — the JSON API of the service (version %(version)s).
    <a href="/ui">the web page</a><a href="/docs.json">OpenAPI document</a></header>
  <div id="swagger-ui"></div>
  <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true,
                                   presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
    };
  </script>
</body>
</html>
"""


class ApiDocs:
    """ASGI middleware answering ``GET /docs.json`` with :func:`contract`, ``GET /`` with the
    page and ``GET /favicon.ico`` with the web page's icon; everything else passes through."""

    def __init__(self, app, service, version: str):
        self.app = app
        self.service = service
        self.version = version
        self._spec: bytes | None = None

    @staticmethod
    def examples(ids: list[str]) -> dict[str, dict]:
        """A working request body per JSON operation (its request class's), on catalog track ``ids``."""
        from moodtune.serving.requests import endpoint_requests

        found = {f"/{name}": request.example(ids) for name, request in endpoint_requests().items()}
        return {path: example for path, example in found.items() if example is not None}

    async def live(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """The request examples on the serving catalog and the serving models' answers to them
        (the writes' left out). A recommendation logged on the way (once per worker, a real one)
        is what the writes' examples name, so that the /feedback example exists and succeeds."""
        import bentoml

        try:
            svc = bentoml.get_current_service()
            ids = list(svc.holder.current.catalog.positions)[:4]
        except Exception:  # not loaded yet: examples without ids, the stored answers
            return self.examples([]), {}
        from moodtune.serving.answers import Plan, dump
        from moodtune.serving.engine import Engine
        from moodtune.serving.requests import endpoint_requests

        examples, answers, logged = self.examples(ids), {}, None
        requests = endpoint_requests()
        for path, example in examples.items():
            request = requests[path[1:]]
            method = Engine.method_for(request)
            if request.WRITES or method is None or path[1:] not in self.service.apis:
                continue
            try:
                answer = method(svc.engine, request(**example))
                if isinstance(answer, Plan):
                    rec_id = None if answer.event is None else await svc.writer.recommendation(answer.event)
                    answers[path] = json.loads(answer.json(rec_id))
                    if rec_id is not None and logged is None:
                        logged = (rec_id, answers[path]["tracks"][0]["track_id"])
                else:
                    answers[path] = json.loads(dump(answer))
            except Exception:  # the docs still load: this operation shows the stored answer
                log.warning(
                    "the API docs' live example of %s failed; showing the stored one", path, exc_info=True
                )
        for path, example in examples.items():
            if requests[path[1:]].WRITES and logged is not None and "recommendation_id" in example:
                example.update(recommendation_id=logged[0], track_id=logged[1])
        return examples, answers

    async def spec(self) -> bytes:
        if self._spec is None:
            examples, answers = await self.live()
            self._spec = json.dumps(
                contract(
                    self.service.openapi_spec.asdict(),
                    version=self.version,
                    examples=examples,
                    answers=answers,
                )
            ).encode()
        return self._spec

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] in ("/", "/docs.json", "/favicon.ico")
        ):
            if scope["path"] == "/":
                body, media = (PAGE % {"version": self.version}).encode(), b"text/html; charset=utf-8"
            elif scope["path"] == "/favicon.ico":  # the web page's icon, also for the API pages
                body, media = FAVICON.read_bytes(), b"image/x-icon"
            else:
                body, media = await self.spec(), b"application/json"
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
