"""ASGI middleware of the service (BentoML's public ``add_asgi_middleware``).

:class:`BodyLimit`: a request body over the limit is refused with 413 before it is stored:
``Content-Length`` is checked before anything is read, and a chunked body is counted as it
streams and cut off at the limit.
"""

from __future__ import annotations

from bento.errors import error_body


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                return await self._refuse(send, value)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.message())
            return message

        try:
            await self.app(scope, limited_receive, send)
        except TooLarge:  # read outside an API endpoint (those answer 413 themselves, bento/patches.py)
            await self._refuse(send)

    def message(self) -> str:
        return f"the request is larger than {self.max_bytes:,} bytes; upload fewer or smaller files"

    async def _refuse(self, send, length: bytes | None = None):
        if length is not None and not length.isdigit():
            response = error_body(400, "InvalidBody", f"Content-Length {length[:40].decode('latin-1')!r} is not a number")
        else:
            response = error_body(413, "RequestTooLarge", self.message())
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class TooLarge(Exception):
    """A streamed body went over the limit while it was being read."""
