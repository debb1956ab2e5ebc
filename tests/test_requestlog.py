"""Request ids and the one log line per error answer (bento/requestlog.py), in-process over ASGI,
with the request timeout (bento/patches.py) outside it as in the service."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.responses import JSONResponse, PlainTextResponse

from bento.errors import error_body
from bento.middleware import RequestTimeout
from bento.requestlog import EscapeControl, RequestLog, escape


@pytest.fixture
def lines():
    """The records of the service's logger, formatted as its handler would."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(f"[{record.levelname}] {record.getMessage()}")

    logger = logging.getLogger("bentoml.moodtune")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def call(app, method="POST", path="/x", headers=None):
    async def main():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, headers=headers or {})

    return asyncio.run(main())


async def ok(scope, receive, send):
    await JSONResponse({"ok": True})(scope, receive, send)


async def plain_404(scope, receive, send):
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


async def refused(scope, receive, send):
    await error_body(422, "InvalidRequest", "metrics has unknown keys 'A\n2026 [ERROR] FORGED'")(
        scope, receive, send
    )


async def slow(scope, receive, send):
    await asyncio.sleep(1)
    await ok(scope, receive, send)


async def broken(scope, receive, send):
    raise RuntimeError("a bug")


def test_escape_writes_control_characters_as_their_escapes():
    assert escape("a\nb\rc\x1b[31md\x00e\u2028f\x85g\tz") == "a\\nb\\rc\\x1b[31md\\x00e\\u2028f\\x85g\\tz"
    assert escape("plain text, ünïcode 好") == "plain text, ünïcode 好"


def test_a_success_gets_an_id_and_no_line(lines):
    r = call(RequestLog(ok))
    assert r.status_code == 200 and len(r.headers["x-request-id"]) == 16 and lines == []
    assert (
        call(RequestLog(ok), headers={"x-request-id": "client-given-1"}).headers["x-request-id"]
        == "client-given-1"
    )
    assert call(RequestLog(ok), headers={"x-request-id": "x\ny"}).headers["x-request-id"] != "x\ny"


def test_a_plain_text_error_is_rewritten_into_the_json_shape_and_logged_once(lines):
    r = call(RequestLog(plain_404), path="/nothere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert r.json() == {"error": r.json()["error"], "type": "NotFound"} and "/docs.json" in r.json()["error"]
    rid = r.headers["x-request-id"]
    assert lines == [f"[INFO] POST /nothere 404 request_id={rid} {r.json()['error']}"]


def test_a_client_error_line_cannot_be_forged(lines):
    r = call(RequestLog(refused))
    assert r.status_code == 422 and "\n" in r.json()["error"]  # the answer keeps what the client sent
    [line] = lines
    assert "\n" not in line and "'A\\n2026 [ERROR] FORGED'" in line


def test_the_timeout_504_is_logged_once_with_the_request_id(lines):
    r = call(RequestTimeout(RequestLog(slow), timeout=0.1))
    assert r.status_code == 504 and r.json()["type"] == "Timeout"
    rid = r.headers["x-request-id"]
    assert len(lines) == 1 and lines[0].startswith(f"[ERROR] POST /x 504 request_id={rid} ")


def test_an_exception_is_a_json_500_and_one_error_line(lines):
    r = call(RequestLog(broken))
    assert r.status_code == 500 and r.json()["type"] == "InternalServerError"
    assert r.headers["x-request-id"] in r.json()["error"]
    assert len(lines) == 1 and lines[0].startswith("[ERROR] POST /x 500 request_id=") and "a bug" in lines[0]


def test_the_filter_escapes_any_record_of_the_logger():
    record = logging.LogRecord("bentoml.moodtune", logging.INFO, __file__, 1, "got %s", ("a\nFORGED",), None)
    assert EscapeControl().filter(record) and record.getMessage() == "got a\\nFORGED"
