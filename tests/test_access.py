"""API keys and the per-client write rate limit (bento/access.py), in-process over ASGI."""

from __future__ import annotations

import asyncio

import httpx
from starlette.responses import JSONResponse

from bento.access import AccessControl


async def ok(scope, receive, send):
    await JSONResponse({"ok": True})(scope, receive, send)


def calls(app, requests):
    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return [
                await client.request(method, path, headers=headers or {})
                for method, path, headers in requests
            ]

    return asyncio.run(main())


def test_without_keys_or_limit_everything_passes():
    answers = calls(AccessControl(ok), [("POST", "/feedback", None)] * 50 + [("GET", "/metrics", None)])
    assert [a.status_code for a in answers] == [200] * 51


def test_keys_guard_feedback_and_metrics_only():
    app = AccessControl(ok, api_keys=["s3cret-key"])
    a = calls(
        app,
        [
            ("POST", "/feedback", None),
            ("GET", "/metrics", {"x-api-key": "wrong"}),
            ("POST", "/feedback", {"x-api-key": "s3cret-key"}),
            ("GET", "/metrics", {"authorization": "Bearer s3cret-key"}),
            ("POST", "/recommend", None),
            ("GET", "/", None),
        ],
    )
    assert [r.status_code for r in a] == [401, 401, 200, 200, 200, 200]
    assert (
        a[0].json() == {"error": a[0].json()["error"], "type": "Unauthorized"}
        and "X-API-Key" in a[0].json()["error"]
    )


def test_writes_over_the_rate_get_429_with_retry_after_per_client():
    now = [0.0]
    app = AccessControl(ok, per_minute=60, clock=lambda: now[0])  # 1/s, a burst of 10
    first = calls(app, [("POST", "/feedback", None)] * 12)
    assert [r.status_code for r in first] == [200] * 10 + [429] * 2
    assert first[-1].headers["retry-after"] == "1" and first[-1].json()["type"] == "TooManyRequests"
    assert calls(app, [("POST", "/recommend", None)])[0].status_code == 200  # reads are not limited
    # no keys configured: a made-up key is no other client (it was a bypass: a bucket per value)
    assert calls(app, [("POST", "/feedback", {"x-api-key": "another-client"})])[0].status_code == 429
    now[0] += 2.0  # two tokens back
    assert [r.status_code for r in calls(app, [("POST", "/feedback", None)] * 3)] == [200, 200, 429]


def test_a_random_key_per_request_without_keys_configured_still_hits_the_limit():
    import uuid

    app = AccessControl(ok, per_minute=60, clock=lambda: 0.0)  # a burst of 10, no keys
    answers = calls(app, [("POST", "/feedback", {"x-api-key": uuid.uuid4().hex}) for _ in range(40)])
    assert [r.status_code for r in answers] == [200] * 10 + [429] * 30
    bearer = calls(app, [("POST", "/feedback", {"authorization": f"Bearer {uuid.uuid4().hex}"})])
    assert bearer[0].status_code == 429


def test_with_keys_configured_each_valid_key_has_its_own_bucket():
    app = AccessControl(ok, api_keys=["key-one-1234", "key-two-5678"], per_minute=60, clock=lambda: 0.0)
    one = calls(app, [("POST", "/feedback", {"x-api-key": "key-one-1234"})] * 11)
    assert [r.status_code for r in one] == [200] * 10 + [429]
    two = calls(app, [("POST", "/feedback", {"x-api-key": "key-two-5678"})] * 2)
    assert [r.status_code for r in two] == [200, 200]  # the other key's writes do not count against it
    assert calls(app, [("POST", "/feedback", {"x-api-key": "made-up-key"})])[0].status_code == 401
