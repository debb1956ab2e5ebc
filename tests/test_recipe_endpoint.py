"""docs/architecture.md's recipe "Add an endpoint", followed once: a copy of the repository (its
tracked files) gains a toy endpoint, ``echo`` (the listener's age group), in the recipe's three
places and nowhere else, and the copy's service serves it, documented with its example, on the
already-built test stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent

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


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_echo(repo: Path) -> None:
    """The recipe's edits, as text."""
    serving = repo / "moodtune" / "serving"
    with (serving / "requests.py").open("a", encoding="utf-8") as f:
        f.write(REQUEST)
    with (serving / "responses.py").open("a", encoding="utf-8") as f:
        f.write(RESPONSE)
    engine = serving / "engine.py"
    _edit(engine, REQUESTS_IMPORT, REQUESTS_IMPORT + "    EchoRequest,\n")
    _edit(engine, RESPONSES_IMPORT, RESPONSES_IMPORT + "    Echo,\n")
    with engine.open("a", encoding="utf-8") as f:
        f.write(METHOD)
    service = repo / "bento" / "service.py"
    _edit(service, REQUESTS_IMPORT, REQUESTS_IMPORT + "    EchoRequest,\n")
    _edit(service, SERVICE_END, "\n" + ENDPOINT + SERVICE_END)


def test_an_endpoint_added_in_three_places_builds_and_serves(service_stack, tmp_path):
    from bento.testing import ServiceProcess

    env = service_stack["env"]
    service_stack["url"]  # the shared service started: the champions are in its BentoML store
    repo = tmp_path / "repo"
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    add_echo(repo)
    changed = {n for n in filter(None, tracked) if (repo / n).read_bytes() != (ROOT / n).read_bytes()}
    assert changed == {
        "moodtune/serving/requests.py",
        "moodtune/serving/responses.py",
        "moodtune/serving/engine.py",
        "bento/service.py",
    }
    copy_env = {**env, "PYTHONPATH": str(repo), "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "0"}
    with ServiceProcess(copy_env, tmp_path / "echo.log", cwd=repo) as service:
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
