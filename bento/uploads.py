"""Uploaded files of a request, read from the request's own multipart body, through public APIs.

:class:`KeepUploadBody` (ASGI middleware, added with BentoML's public ``add_asgi_middleware``)
keeps the raw body of a ``multipart/form-data`` request as the app reads it (in a spooled
temporary file: memory up to 1 MB, then disk); the first time an endpoint asks for a file,
:func:`uploads` parses that body with Starlette's own form parser (``Request.form()``, the
parser BentoML uses) and keeps the form in the request's scope until the response is sent.
The file's bytes and the name the client gave come from that form, so nothing depends on how
BentoML names its temporary files or on a patch of its internals, and no path is ever opened.

BentoML's context request (``ctx.request``) is another ``Request`` object on the same scope
whose body the endpoint's parser has already consumed, so reading its form directly would wait
for a body that never comes; hence the kept copy. The cost is a second parse of a multipart
body (JSON requests pass through untouched): measured in docs/performance.md ("Uploads").
"""

from __future__ import annotations

import tempfile

from moodtune.errors import MoodtuneError
from moodtune.serving.answers import Upload

BODY_KEY = "moodtune.upload_body"  # the multipart body as read, in the request's ASGI scope
FORM_KEY = "moodtune.upload_form"  # its parsed form, once an endpoint asked for a file
SPOOL_BYTES = 1 << 20  # a kept body stays in memory up to this size, then goes to a temporary file
CHUNK = 1 << 20


def _multipart(scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            return value[:19].lower() == b"multipart/form-data"
    return False


class KeepUploadBody:
    """ASGI middleware: keep the body of a multipart request, as the app reads it, for
    :func:`uploads`; close what was kept (and parsed) once the app has answered."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _multipart(scope):
            return await self.app(scope, receive, send)
        body = scope[BODY_KEY] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)

        async def kept():
            message = await receive()
            if message["type"] == "http.request":
                body.write(message.get("body", b""))
            return message

        try:
            await self.app(scope, kept, send)
        finally:
            form = scope.pop(FORM_KEY, None)
            if form is not None:
                await form.close()
            scope.pop(BODY_KEY, None)
            body.close()


async def _form(scope):
    """The request's multipart form, parsed from the kept body (once per request);
    ``None`` for a request that is not multipart."""
    form = scope.get(FORM_KEY)
    if form is not None or scope.get(BODY_KEY) is None:
        return form
    from starlette.requests import Request

    body = scope[BODY_KEY]
    body.seek(0)

    async def replay():
        chunk = body.read(CHUNK)
        return {"type": "http.request", "body": chunk, "more_body": len(chunk) == CHUNK}

    # the endpoint's own parser already read this body without error: it parses again alike
    form = scope[FORM_KEY] = await Request(scope, replay).form()
    return form


async def uploads(ctx, field: str, what: str, limit: int) -> list[Upload]:
    """The files sent in multipart field ``field`` (``[]`` for a JSON request), each checked
    against ``limit`` bytes before it is read."""
    from starlette.datastructures import UploadFile

    form = await _form(ctx.request.scope)
    if form is None:  # a JSON request
        return []
    out = []
    for item in form.getlist(field):
        if not isinstance(item, UploadFile):
            raise MoodtuneError(f"{what}: upload the file itself (multipart/form-data); paths are not read")
        size = item.size
        if size is None:
            item.file.seek(0, 2)
            size = item.file.tell()
        if size > limit:
            raise MoodtuneError(f"{what} is {size:,} bytes; the limit is {limit:,}")
        item.file.seek(0)
        out.append(Upload(item.filename or what, item.file.read()))
    return out


async def upload(ctx, field: str, what: str, limit: int) -> Upload | None:
    """The one file of field ``field``, or ``None``."""
    files = await uploads(ctx, field, what, limit)
    if len(files) > 1:
        raise MoodtuneError(f"{what}: send one file in {field!r}, not {len(files)}")
    return files[0] if files else None
