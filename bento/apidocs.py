"""The API's own docs: ``/docs.json`` (the OpenAPI contract) and the page at ``/`` to try it.

BentoML generates the OpenAPI document from the request models; :func:`contract` completes
it: moodtune's title, version and description, every status an operation can answer with in
the service's one error shape (``{"error": <what to fix>, "type": <kind>}``), the request body
marked required, JSON beside multipart where the files are optional, and a working example
per operation. :class:`ApiDocs` serves it and a Swagger UI page built from the bundle BentoML
ships (no network needed), with a link to the web page at ``/ui``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ERROR = {"type": "object", "required": ["error", "type"], "additionalProperties": False,
         "properties": {"error": {"type": "string", "description": "what is wrong and what to do"},
                        "type": {"type": "string", "description": "the kind of error, e.g. InvalidRequest"}}}
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
FILE_FIELDS = {"files", "file", "image"}
FAVICON = Path(__file__).resolve().parent / "web" / "static" / "favicon.ico"
WRITES = ("/feedback",)  # rate-limited and, with API keys, keyed (besides /metrics)


def contract(spec: dict[str, Any], *, version: str, examples: dict[str, dict] | None = None) -> dict[str, Any]:
    """BentoML's OpenAPI document ``spec`` completed (see the module docstring)."""
    spec = copy.deepcopy(spec)
    spec["info"] = {
        "title": "moodtune",
        "version": version,
        "description": (
            "Music for how a listener feels: rank a playlist for a listener, read the emotion of a Chinese "
            "text or a photo, read stress from heart-rate variability, and store how the listener responded. "
            "The web page is at [/ui](/ui). Every error answers `{\"error\": <what to fix>, \"type\": <kind>}`; "
            "request bodies are strict (unknown fields are refused, numbers are not read from strings)."),
    }
    spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path, item in spec.get("paths", {}).items():
        post = item.get("post")
        if post is None:
            continue
        responses = post.get("responses", {})
        ok = responses.get(200) or responses.get("200") or {}
        ok["description"] = "the answer"
        codes = ["400", "413", "415", "422", "500", "503", "504"]
        if path in WRITES:
            codes[1:1] = ["401", "429"]
        post["responses"] = {"200": ok, **{c: {"description": STATUSES[c], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}} for c in sorted(codes)}}
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
                as_json["properties"] = {k: v for k, v in as_json["properties"].items() if k not in FILE_FIELDS}
                content["application/json"] = {"schema": as_json}
        example = (examples or {}).get(path)
        if example is not None and "application/json" in content:
            content["application/json"]["example"] = example
    return spec


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>moodtune API</title>
  <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
  <style>header{font-family:sans-serif;padding:12px 20px;border-bottom:1px solid #ddd}
  header a{margin-left:1em}</style>
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

    def _examples(self) -> dict[str, dict]:
        import bentoml

        try:
            ids = list(bentoml.get_current_service().holder.current.catalog.positions)[:4]
        except Exception:  # not loaded yet: an example without ids
            ids = []
        listener = {"age": 30, "gender": "female", "mood": 2}
        return {
            "/recommend": {"track_ids": ids, **listener, "k": 2},
            "/recommend_text": {"text": "想念你，好难过", "k": 5},
            "/analyze_hrv": {"metrics": {"MEAN_RR": 850, "SDRR": 55, "HR": 70.5, "RMSSD": 38, "pNN50": 18,
                                         "VLF": 900, "LF": 700, "HF": 650}},
            "/feedback": {"recommendation_id": "<the recommendation_id a /recommend answer gave>",
                          "track_id": ids[0] if ids else "<one of its track ids>", "stress_level": "low"},
            "/models": {},
        }

    def spec(self) -> bytes:
        if self._spec is None:
            self._spec = json.dumps(contract(self.service.openapi_spec.asdict(), version=self.version,
                                             examples=self._examples())).encode()
        return self._spec

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in ("/", "/docs.json", "/favicon.ico"):
            if scope["path"] == "/":
                body, media = (PAGE % {"version": self.version}).encode(), b"text/html; charset=utf-8"
            elif scope["path"] == "/favicon.ico":  # the web page's icon, also for the API pages
                body, media = FAVICON.read_bytes(), b"image/x-icon"
            else:
                body, media = self.spec(), b"application/json"
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
