"""Optional API keys and a per-client rate limit on the write endpoints (ASGI middleware).

The writes are the endpoints whose request class says so (``Request.WRITES``: ``/feedback``).

* ``service.api_keys`` (``MOODTUNE_SERVICE__API_KEYS='["k1","k2"]'``): when set, the writes
  and ``/metrics`` need one, as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``
  (401 otherwise). Reads (recommend, analyze, the page) stay open.
* ``service.rate_limit_per_minute``: writes per client per minute, a token
  bucket per client in each worker: its API key when keys are configured (a valid one: /feedback
  needs one then), else its address, so a made-up ``X-API-Key`` never buys a fresh bucket; over it, 429 with
  ``Retry-After`` (seconds). 0 turns it off.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Sequence

METRICS = "/metrics"  # keyed besides the writes
MAX_CLIENTS = 10_000  # buckets kept (least recently used dropped)


def write_paths() -> tuple[str, ...]:
    """The paths of the write endpoints: those whose request class has ``WRITES``."""
    from moodtune.serving.requests import endpoint_requests

    return tuple(f"/{name}" for name, request in endpoint_requests().items() if request.WRITES)


def _key_of(headers: dict[bytes, bytes]) -> str | None:
    key = headers.get(b"x-api-key")
    if key is None:
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            key = auth[7:]
    return key.decode("latin-1").strip() if key else None


class AccessControl:
    """ASGI middleware: API keys on the writes and :data:`METRICS`, a rate limit on the writes
    (``writes``: their paths, by default :func:`write_paths`)."""

    def __init__(
        self,
        app,
        api_keys=(),
        per_minute: int = 0,
        clock=time.monotonic,
        writes: Sequence[str] | None = None,
    ):
        self.app = app
        self.writes = frozenset(write_paths() if writes is None else writes)
        self.keyed = self.writes | {METRICS}
        self.keys = tuple(str(k) for k in api_keys if str(k))
        self.rate = float(per_minute) / 60.0  # tokens per second
        self.burst = float(per_minute) / 6.0 if per_minute else 0.0  # ten seconds' worth at once
        self.burst = max(self.burst, 1.0) if per_minute else 0.0
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _allowed(self, key: str | None) -> bool:
        return key is not None and any(hmac.compare_digest(key, k) for k in self.keys)

    def _client(self, scope, key: str | None) -> str:
        """Whose bucket a write takes from: its API key only when keys are configured and this
        one is valid (any other header value would buy a fresh bucket), else its address."""
        if key is not None and self.keys and self._allowed(key):
            return "key:" + key
        return "addr:" + str((scope.get("client") or ("?",))[0])

    def _take(self, client: str) -> float:
        """0 when the request may go, else the seconds until a token is there."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in self.keyed:
            return await self.app(scope, receive, send)
        from bento.errors import error_body

        headers = dict(scope.get("headers", ()))
        key = _key_of(headers)
        if self.keys and path in self.keyed and not self._allowed(key):
            response = error_body(
                401,
                "Unauthorized",
                f"{path} needs an API key: send X-API-Key: <key> (or Authorization: Bearer <key>)",
            )
            return await response(scope, receive, send)
        if self.rate and path in self.writes and scope.get("method") == "POST":
            client = self._client(scope, key)
            wait = self._take(client)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = error_body(
                    429,
                    "TooManyRequests",
                    f"more than {round(self.rate * 60)} writes a minute from this client; retry in {retry} s",
                )
                response.headers["Retry-After"] = str(retry)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)
