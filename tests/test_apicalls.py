"""BentoML API methods bound to the service instance once (bento/patches.py)."""

from __future__ import annotations

import asyncio
import inspect

import bentoml
from pydantic import Field

from bento.patches import bind_api_methods_once


@bentoml.service
class Echo:
    def __init__(self) -> None:
        self.calls = 0

    @bentoml.api
    async def echo(self, text: str, k: int = 10, tags: list[str] = Field(default_factory=list)) -> dict:
        self.calls += 1
        return {"text": text, "k": k, "tags": tags, "who": id(self)}


def test_the_bound_caller_is_built_once_per_instance_and_still_fills_defaults():
    assert bind_api_methods_once() and bind_api_methods_once()  # idempotent
    first, second = Echo.inner(), Echo.inner()
    caller = first.echo.local
    assert first.echo.local is caller  # reused: BentoML's own builds a new one per request
    assert second.echo.local is not caller and second.echo.local is second.echo.local
    assert list(inspect.signature(caller).parameters) == ["text", "k", "tags"]

    answer = asyncio.run(caller("hi"))
    assert answer == {"text": "hi", "k": 10, "tags": [], "who": id(first)}
    assert asyncio.run(caller("yo", 3, tags=["a"])) == {"text": "yo", "k": 3, "tags": ["a"], "who": id(first)}
    tags_1, tags_2 = asyncio.run(caller("a"))["tags"], asyncio.run(caller("b"))["tags"]
    assert tags_1 == tags_2 == [] and tags_1 is not tags_2  # a fresh default per call, as before
    assert first.calls == 4 and second.calls == 0
    assert asyncio.run(second.echo.local("x"))["who"] == id(second)
