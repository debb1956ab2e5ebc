"""ASGI middleware of the service (BentoML's public ``add_asgi_middleware``).

:class:`RequestTimeout`: 504 in the service's error shape when the response has not started
within ``timeout_s``. :class:`BodyLimit`: a request body over the limit is refused with 413
before it is stored: ``Content-Length`` is checked before anything is read, and a chunked body
is counted as it streams and cut off at the limit.
"""

from __future__ import annotations

import asyncio

from bento.errors import error_body

# BentoML's own TimeoutMiddleware (``traffic.timeout``, outside every user middleware) is set this
# much later than :class:`RequestTimeout`, so the service's 504 is always ours (bento/service.py)
TIMEOUT_BACKSTOP_S = 5


class RequestTimeout:
    """ASGI middleware: 504 ``{"error": ..., "type": "Timeout"}`` when the response has not started
    within ``timeout`` seconds (BentoML's semantics), answered with the request's id and logged in
    one line (:mod:`bento.requestlog`); a response under way is not cut.

    Added as the outermost of the service's own middlewares. BentoML's ``TimeoutMiddleware``
    still wraps the app at ``timeout + TIMEOUT_BACKSTOP_S`` (its timeout cannot be switched off),
    and still leaves one uncancelled 60 s timer per request (BentoML 1.4.39): the extra full-GC
    work that costs was measured under 5 % on ``benchmarks/service.py``, so the patch that
    replaced BentoML's middleware with this one was dropped (docs/performance.md, "Patches of
    library internals")."""

    def __init__(self, app, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        deadline = asyncio.timeout(self.timeout)

        async def started(message):
            deadline.reschedule(None)  # a response under way is not timed out
            await send(message)

        if scope["type"] == "http":
            from bento.requestlog import request_id

            request_id(scope)  # the id the request log (inside) answers and logs with
        try:
            async with deadline:
                await self.app(scope, receive, started)
        except TimeoutError:
            if not deadline.expired():  # the app's own TimeoutError
                raise
            from bento.requestlog import REQUEST_ID, log_error

            message = f"Not able to process the request in {self.timeout} seconds"
            response = error_body(504, "Timeout", message)
            if REQUEST_ID in scope:
                response.headers["X-Request-Id"] = scope[REQUEST_ID]
                log_error(scope, 504, message)
            await response(scope, receive, send)


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
            response = error_body(
                400, "InvalidBody", f"Content-Length {length[:40].decode('latin-1')!r} is not a number"
            )
        else:
            response = error_body(413, "RequestTooLarge", self.message())
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})


class TooLarge(Exception):
    """A streamed body went over the limit while it was being read."""
