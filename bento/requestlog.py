"""Request ids and the one log line per error answer (ASGI middleware, the outermost of ours).

:class:`RequestLog` gives every HTTP request an id (a client's own ``X-Request-Id`` when it is
8-64 safe characters, else a fresh one), answers it in the ``X-Request-Id`` header, and logs ONE
line for every answer with status >= 400 — whoever produced it: an endpoint, the API-key and
rate-limit middleware, the body limit, Starlette's router (404, 405):

    POST /analyze_hrv 422 request_id=5f0c… metrics has unknown keys 'A' …

at INFO for 4xx and ERROR for 5xx (an exception still gets its traceback from the server). An
error answer that is not in the service's JSON error shape (Starlette's plain-text 404 and
405) is rewritten into it, ``{"error": ..., "type": ...}``. The 504 of the request timeout
(:class:`bento.middleware.RequestTimeout`, the outermost of the service's middlewares, outside
this one) is logged there, with the same id.

Nothing a client sends can forge a log line: every line is built by :func:`line`, which
escapes control characters (``\\n`` stays the two characters ``\\n``), and :class:`EscapeControl`
does the same for any other record of the ``bentoml.moodtune`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import re
from http import HTTPStatus

from bento.errors import error_json

log = logging.getLogger("bentoml.moodtune")
REQUEST_ID = "moodtune.request_id"  # the request's id, in its ASGI scope
HEADER = b"x-request-id"
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:\-]{8,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_LOGGED = 500  # characters of an error message in its log line


def escape(text: str) -> str:
    """``text`` with every control character (newline, carriage return, escape, NUL, the
    Unicode line separators) written as its Python escape, so it cannot start a line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def request_id(scope) -> str:
    """The request's id: kept in its scope, so the timeout (outside) and this middleware agree."""
    rid = scope.get(REQUEST_ID)
    if rid is None:
        sent = next((v for k, v in scope.get("headers", ()) if k == HEADER), None)
        rid = sent.decode("ascii") if sent is not None and _CLIENT_ID.match(sent) else os.urandom(8).hex()
        scope[REQUEST_ID] = rid
    return rid


def line(method: str, path: str, status: int, rid: str, message: str) -> str:
    message = (
        message if len(message) <= MAX_LOGGED else message[:MAX_LOGGED] + f"… ({len(message)} characters)"
    )
    return escape(f"{method} {path} {status} request_id={rid} {message}")


def log_error(scope, status: int, message: str) -> None:
    """The one line of an error answer (INFO for 4xx, ERROR for 5xx)."""
    text = line(scope.get("method", "?"), scope.get("path", "?"), status, request_id(scope), message)
    log.log(logging.ERROR if status >= 500 else logging.INFO, "%s", text)


class EscapeControl(logging.Filter):
    """Escape control characters in every record of the logger it is on (its message with its
    arguments); tracebacks are formatted apart and keep their lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = escape(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_filter() -> None:
    if not any(isinstance(f, EscapeControl) for f in log.filters):
        log.addFilter(EscapeControl())


def _kind(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def _shaped(status: int, headers: list, body: bytes, head: bool) -> tuple[list, bytes, str]:
    """The error answer in the one JSON shape (rewritten when it is not) and its message."""
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if content_type.startswith(b"application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return headers, body, data["error"]
        if isinstance(data, dict) and "detail" in data:  # a framework's {"detail": ...}
            message = str(data["detail"])
        else:
            message = body.decode("utf-8", "replace")
    else:
        message = body.decode("utf-8", "replace").strip()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if not message or message == phrase:
        message = {
            404: "no such endpoint: see /docs.json for the endpoints (all POST)",
            405: "this method is not allowed here: the API's endpoints take POST (see /docs.json)",
        }.get(status, phrase)
    new = error_json(_kind(status), message)
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
    kept += [
        (b"content-type", b"application/json"),
        (b"content-length", str(0 if head else len(new)).encode()),
    ]
    return kept, (b"" if head else new), message


class RequestLog:
    """ASGI middleware: ``X-Request-Id`` on every answer; one log line per error answer, in the
    JSON error shape (see the module doc)."""

    def __init__(self, app):
        self.app = app
        install_filter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = request_id(scope)
        id_header = (b"x-request-id", rid.encode("ascii"))
        head = scope.get("method") == "HEAD"
        held: dict | None = None  # an error answer's start, held until its body is complete
        chunks: list[bytes] = []
        started = False

        async def logged_send(message):
            nonlocal held, started
            kind = message["type"]
            if kind == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != HEADER] + [id_header]
                if message["status"] < 400:
                    started = True
                    return await send({**message, "headers": headers})
                held = {**message, "headers": headers}
                return None
            if kind == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return None
                status = held["status"]
                headers, body, error = _shaped(status, held["headers"], b"".join(chunks), head)
                log_error(scope, status, error)
                started = True
                await send({**held, "headers": headers})
                held = None
                return await send({"type": "http.response.body", "body": body})
            return await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except Exception as exc:
            log_error(scope, 500, f"{type(exc).__name__}: {exc}")
            if not started:
                body = error_json(
                    "InternalServerError",
                    f"the service failed on this request; it is logged with its request id {rid}",
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            id_header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise
