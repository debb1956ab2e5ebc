"""docs/architecture.md's recipe "Add an endpoint", followed once: a copy of the repository (its
tracked files) gains a toy endpoint, ``echo`` (the listener's age group), in the recipe's three
places and nowhere else, and the copy's service serves it, documented with its example, on the
already-built test stack."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from recipe import append, changed, copy_env, copy_tracked, edit

pytestmark = [pytest.mark.service, pytest.mark.slow]

# 1. the request and response models
REQUEST = '''

class EchoRequest(Request):
    """The listener's age group (a toy endpoint)."""

    age: Age

    EXAMPLE = {"age": 34}
'''
RESPONSE = """

class Echo(Answer):
    age_group: str = Field(description="the listener's decade, e.g. 30-39")
"""
# 2. the engine method (Engine is the last class of engine.py)
METHOD = '''
    def echo(self, req: EchoRequest) -> Echo:
        """The listener's age group."""
        low = req.age // 10 * 10
        return build(Echo, age_group=f"{low}-{low + 9}")
'''
# 3. the service method
ENDPOINT = '''
    @bentoml.api
    @answers
    async def echo(self, req: EchoRequest, /) -> answers_.Echo:
        """The listener's age group."""
        return self.engine.echo(req)
'''
REQUESTS_IMPORT = "from moodtune.serving.requests import (\n"
RESPONSES_IMPORT = "from moodtune.serving.responses import (\n"
SERVICE_END = "\n\nMoodtune.add_asgi_middleware("


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service: its BentoML store holds the stack's champions."""
    return _shared_service


def add_echo(repo: Path) -> None:
    """The recipe's edits, as text."""
    serving = repo / "moodtune" / "serving"
    append(serving / "requests.py", REQUEST)
    append(serving / "responses.py", RESPONSE)
    engine = serving / "engine.py"
    edit(engine, REQUESTS_IMPORT, REQUESTS_IMPORT + "    EchoRequest,\n")
    edit(engine, RESPONSES_IMPORT, RESPONSES_IMPORT + "    Echo,\n")
    append(engine, METHOD)
    service = repo / "bento" / "service.py"
    edit(service, REQUESTS_IMPORT, REQUESTS_IMPORT + "    EchoRequest,\n")
    edit(service, SERVICE_END, "\n" + ENDPOINT + SERVICE_END)


def test_an_endpoint_added_in_three_places_builds_and_serves(service_stack, tmp_path):
    from bento.testing import ServiceProcess

    env = service_stack["env"]
    service_stack["url"]  # the shared service started: the champions are in its BentoML store
    repo = tmp_path / "repo"
    tracked = copy_tracked(repo)
    add_echo(repo)
    assert changed(repo, tracked) == {
        "moodtune/serving/requests.py",
        "moodtune/serving/responses.py",
        "moodtune/serving/engine.py",
        "bento/service.py",
    }
    with ServiceProcess(copy_env(env, repo), tmp_path / "echo.log", cwd=repo) as service:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            r = client.post("/echo", json={"age": 34})
            assert r.status_code == 200 and r.json() == {"age_group": "30-39"}, r.text
            # the request model's bounds and strictness hold at once
            r = client.post("/echo", json={"age": 3})
            assert r.status_code == 422 and "age" in r.json()["error"] and set(r.json()) == {"error", "type"}
            r = client.post("/echo", json={"age": 34, "mood": 2})
            assert r.status_code == 422 and "unknown field 'mood'" in r.json()["error"]
            # documented: the request class's example, the engine's live answer to it
            op = client.get("/docs.json").json()["paths"]["/echo"]["post"]
            assert op["requestBody"]["content"]["application/json"]["example"] == {"age": 34}
            assert op["responses"]["200"]["content"]["application/json"]["example"] == {"age_group": "30-39"}
            assert op["summary"] == "The listener's age group."
            # a read: rate limits and API keys stay on the writes
            assert "429" not in op["responses"]
