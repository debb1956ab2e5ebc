"""bento/uploads.py in process: the files of a multipart request are read from its kept body,
after the endpoint's own parser consumed it (as BentoML's does), through public APIs only."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from bento import uploads as up
from moodtune.errors import MoodtuneError


def endpoint(field: str, limit: int = 1_000_000, one: bool = False):
    """An ASGI app that parses the form on its own Request (consuming the body, as BentoML's
    parser does), then reads ``field`` through bento.uploads from another Request on the
    same scope (as BentoML's ``ctx.request`` is)."""

    async def app(scope, receive, send):
        await Request(scope, receive).form()  # the endpoint's parser: the body is consumed here
        ctx = SimpleNamespace(request=Request(scope))  # BentoML's context request: same scope, no body
        try:
            if one:
                got = await up.upload(ctx, field, "HRV file", limit)
                answer = None if got is None else [got.name, got.data.decode()]
            else:
                answer = [
                    [u.name, u.data.decode()] for u in await up.uploads(ctx, field, "audio file", limit)
                ]
        except MoodtuneError as exc:
            answer = {"error": str(exc)}
        seen["form_kept"] = up.FORM_KEY in scope
        await JSONResponse(answer)(scope, receive, send)

    seen: dict = {}
    return up.KeepUploadBody(app), seen


def post(app, **kwargs):
    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post("/", **kwargs)

    return asyncio.run(main())


def test_files_and_their_names_come_from_the_kept_body():
    app, seen = endpoint("files")
    files = [("files", ("a.mp3", b"first")), ("files", ("b.wav", b"second")), ("other", ("c.txt", b"no"))]
    answer = post(app, files=files, data={"k": "3"})
    assert answer.json() == [["a.mp3", "first"], ["b.wav", "second"]]
    assert seen["form_kept"]  # parsed once, kept for the request (closed after the answer)


def test_a_body_past_the_spool_size_is_read_whole(monkeypatch):
    monkeypatch.setattr(up, "SPOOL_BYTES", 1000)
    monkeypatch.setattr(up, "CHUNK", 777)  # the replay spans many chunks, not a multiple of them
    data = bytes(range(48, 58)) * 5000
    app, _ = endpoint("file", one=True)
    assert post(app, files={"file": ("rr.csv", data)}).json() == ["rr.csv", data.decode()]


def test_json_has_no_uploads_and_limits_and_values_are_refused():
    app, _ = endpoint("files")
    assert post(app, json={"track_ids": ["x"]}).json() == []
    app, _ = endpoint("files", limit=3)
    assert post(app, files={"files": ("a.mp3", b"four")}).json() == {
        "error": "audio file is 4 bytes; the limit is 3"
    }
    app, _ = endpoint("files")
    assert (
        "paths are not read"
        in post(app, data={"files": "/etc/passwd"}, files={"x": ("y", b"z")}).json()["error"]
    )
    app, _ = endpoint("file", one=True)
    two = [("file", ("a.csv", b"1")), ("file", ("b.csv", b"2"))]
    assert post(app, files=two).json() == {"error": "HRV file: send one file in 'file', not 2"}


@pytest.mark.parametrize("content_type", [b"Multipart/Form-Data; boundary=x", b"multipart/form-data"])
def test_multipart_is_recognised_whatever_its_case(content_type):
    assert up._multipart({"headers": [(b"content-type", content_type)]})
    assert not up._multipart({"headers": [(b"content-type", b"application/json")]})
