"""ASGI middleware of the service, and one fix to BentoML's own.

* :class:`BodyLimit`: a request body over the limit is refused with 413 before it is read.
* :func:`cancel_request_timers`: BentoML's ``TimeoutMiddleware`` replaced by one that
  cancels its timer when the response starts (see there).
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413 before reading it all."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return await self._refuse(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send):
        response = JSONResponse({"error": f"the request is larger than {self.max_bytes:,} bytes; "
                                 "upload fewer or smaller files", "type": "RequestTooLarge"}, status_code=413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(Exception):
    pass


class RequestTimeout:
    """The request timeout of BentoML's ``TimeoutMiddleware`` (``traffic.timeout``: 504 when
    the response has not started in time), with its timer cancelled once the response starts.

    BentoML 1.4.39's middleware starts ``loop.call_later(timeout, ...)`` for every request and
    never cancels it, so each request leaves a timer, a future and a bound method alive for the
    whole timeout (60 s): ~10,000 per worker at 1,000 requests/s in the load test. They reach
    the GC's oldest generation, and every full collection then walked them all, stalling the
    worker 15 to 65 ms at a time."""

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

        try:
            async with deadline:
                await self.app(scope, receive, started)
        except TimeoutError:
            if not deadline.expired():  # the app's own TimeoutError
                raise
            await JSONResponse({"error": f"Not able to process the request in {self.timeout} seconds"},
                               status_code=504)(scope, receive, send)


def cancel_request_timers() -> None:
    """Make BentoML build :class:`RequestTimeout` where it builds its ``TimeoutMiddleware``
    (it looks the class up in its module each time it assembles the app)."""
    from bentoml._internal.server.http import traffic

    if not getattr(traffic.TimeoutMiddleware, "moodtune_fixed", False):
        fixed = type("TimeoutMiddleware", (RequestTimeout, traffic.TimeoutMiddleware), {"moodtune_fixed": True})
        traffic.TimeoutMiddleware = fixed
