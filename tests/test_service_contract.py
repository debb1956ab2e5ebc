"""The service's HTTP contract, tried as an outside client would (issue: the OpenAPI is the
contract): strict request models, framework parse errors as 400 with a message, one error
shape, every status listed per operation, body limits before reading, client errors logged
in one line, and workers that never outlive their supervisor."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from moodtune.serving.requests import endpoint_requests

pytestmark = [pytest.mark.service, pytest.mark.slow]
POSTS = tuple(endpoint_requests())  # every endpoint (named after its request class)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts only rows it wrote."""
    return _shared_service


@pytest.fixture(scope="module")
def svc(service_stack):
    with httpx.Client(base_url=service_stack["url"], timeout=120) as client:
        yield {**service_stack, "client": client}


@pytest.fixture(scope="module")
def some_ids(svc):
    return list(
        svc["client"].get("/ui/api/catalog", params={"limit": 6}).json()["tracks"][i]["track_id"]
        for i in range(6)
    )


def shape(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body) == {"error", "type"} and body["error"], body  # the one error shape
    return body


def test_framework_parse_errors_are_400_with_a_message_on_every_endpoint(svc):
    c = svc["client"]
    for name in POSTS:  # the two reproducers (they were 500 on all seven)
        r = c.post(f"/{name}", content=b"x", headers={"content-type": "multipart/form-data"})
        assert r.status_code == 400 and "boundary" in shape(r)["error"].lower(), (name, r.text)
        r = c.post(
            f"/{name}",
            content=b"--b\r\n[]--b--\r\n",
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert r.status_code == 400 and shape(r)["type"] == "InvalidBody", (name, r.text)
        r = c.post(f"/{name}", content=b'{"age": 3', headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in shape(r)["error"], (name, r.text)


def test_strict_request_models(svc, some_ids):
    c = svc["client"]
    body = {"track_ids": some_ids, "age": 30, "gender": "male", "mood": 3, "k": 2}
    assert c.post("/recommend", json=body).status_code == 200
    r = c.post("/recommend", json={**body, "moood": 2})
    assert r.status_code == 422 and "unknown field 'moood'" in shape(r)["error"]
    r = c.post("/recommend", json={**body, "mood": "2"})  # no string -> number coercion
    assert r.status_code == 422 and "mood must be a whole number" in shape(r)["error"]
    r = c.post("/recommend", json={**body, "age": True})
    assert r.status_code == 422 and "age" in shape(r)["error"]
    r = c.post("/recommend", content=json.dumps(body), headers={"content-type": "text/plain"})
    assert r.status_code == 415 and shape(r)["type"] == "UnsupportedMediaType"
    rec = c.post("/recommend", json=body).json()
    r = c.post(
        "/feedback",
        json={
            "recommendation_id": rec["recommendation_id"],
            "track_id": rec["tracks"][0]["track_id"],
            "stress_level": "low",
            "reward": 1.0,
            "id": 7,
        },
    )
    assert (
        r.status_code == 422 and "unknown field 'reward'" in r.json()["error"] and "'id'" in r.json()["error"]
    )


def test_huge_integers_are_422_not_500(svc, some_ids):
    c = svc["client"]
    huge = 10**320
    for name, body in (
        ("recommend", {"track_ids": some_ids, "age": huge, "gender": "male", "mood": 3}),
        ("recommend", {"track_ids": some_ids, "age": 30, "gender": "male", "mood": -huge}),
        ("recommend_text", {"text": "开心", "age": 30, "gender": "male", "mood": huge}),
        ("analyze_hrv", {"rr": [huge] * 3}),
    ):
        r = c.post(f"/{name}", content=json.dumps(body), headers={"content-type": "application/json"})
        assert r.status_code == 422, (name, r.text)
        assert len(shape(r)["error"]) < 2000  # the number is shortened in the message
    r = c.post(
        "/recommend_image",
        data={"age": "9" * 5000, "gender": "male", "mood": "3"},
        files={"image": ("x.jpg", b"\xff\xd8", "image/jpeg")},
    )
    assert 400 <= r.status_code < 500, r.text


def test_body_limits_before_reading(svc):
    limit = int(svc["env"]["MOODTUNE_SERVICE__MAX_REQUEST_BYTES"])
    with socket.create_connection(("127.0.0.1", int(svc["url"].rsplit(":", 1)[1])), timeout=30) as s:
        # a Content-Length over the limit is answered before one byte of the body is sent
        s.sendall(
            f"POST /analyze_hrv HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n".encode()
        )
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413")

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536

    r = svc["client"].post("/analyze_hrv", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and shape(r)["type"] == "RequestTooLarge"


def test_the_openapi_lists_every_status_bounds_and_examples(svc):
    c = svc["client"]
    spec = c.get("/docs.json").json()
    assert spec["info"]["title"] == "moodtune" and spec["info"]["version"] not in ("", "None", None)
    for name in POSTS:
        op = spec["paths"][f"/{name}"]["post"]
        assert {"200", "400", "413", "415", "422", "503"} <= set(op["responses"]), name
        assert op["requestBody"]["required"] is True
        assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    props = spec["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"
    ]
    assert (
        props["age"]["minimum"],
        props["age"]["maximum"],
        props["mood"]["maximum"],
        props["k"]["maximum"],
    ) == (5, 120, 5, 50)
    assert props["gender"]["enum"] == ["female", "male"]
    text = spec["paths"]["/recommend_text"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert text["properties"]["text"]["maxLength"] == 200 and text["additionalProperties"] is False
    # each example from the page works as it is
    for name in (
        n
        for n, request in endpoint_requests().items()
        if request.example([]) is not None and not request.WRITES
    ):
        example = spec["paths"][f"/{name}"]["post"]["requestBody"]["content"]["application/json"]["example"]
        assert c.post(f"/{name}", json=example).status_code == 200, name
    page = c.get("/")
    assert page.status_code == 200 and "moodtune" in page.text and 'href="/ui"' in page.text
    assert "BentoML" not in page.text and "googletagmanager" not in page.text


def test_the_openapi_reads_well_on_the_docs_page(svc):
    """Issue 31: JSON first with an example that succeeds wherever JSON is taken (feedback too:
    its example names a logged recommendation), an example for every schema and answer, a
    summary per operation, readable schema names, the server at "/"."""
    from bento.apidocs import open_without_example

    c = svc["client"]
    text = c.get("/docs.json").text
    spec = json.loads(text)
    assert "IODescriptor" not in text and spec["servers"] == [{"url": "/", "description": "this service"}]
    assert not re.search(r"additionalProp\d", text) and open_without_example(spec) == []
    schemas = spec["components"]["schemas"]
    assert {
        "RecommendRequest",
        "RecommendForm",
        "Recommendation",
        "FeedbackRequest",
        "StoredFeedback",
    } <= set(schemas)
    # every schema but the upload forms (shown as form fields, their maps with examples) has an example
    forms = {n for n, s in schemas.items() if "binary" in json.dumps(s)}
    assert forms == {
        "RecommendForm",
        "RecommendImageRequest",
        "AnalyzeAudioRequest",
        "AnalyzeHrvForm",
        "FeedbackForm",
    }
    assert [n for n, s in schemas.items() if "example" not in s and n not in forms] == []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), (method, path)
        post = item.get("post")
        if post is None:
            continue
        assert "example" in post["responses"]["200"]["content"]["application/json"], path
        content = post["requestBody"]["content"]
        if "application/json" in content:
            assert next(iter(content)) == "application/json", path
            assert "binary" not in json.dumps(content["application/json"]["schema"]), path  # no file in JSON
            r = c.post(path, json=content["application/json"]["example"])
            assert r.status_code == 200, (path, r.text)
    # the answers shown are the serving models' own, on the serving catalog's tracks
    shown = spec["paths"]["/recommend"]["post"]["responses"]["200"]["content"]["application/json"]["example"]
    asked = spec["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert {t["track_id"] for t in shown["tracks"]} <= set(asked["track_ids"]) and len(
        shown["recommendation_id"]
    ) == 32


def test_client_errors_are_logged_in_one_line_at_info(svc):
    svc["client"].post("/recommend", json={"age": 30, "gender": "male", "mood": 3, "moood": 1})
    deadline = time.time() + 10
    while time.time() < deadline and "unknown field 'moood'" not in svc["service"].log():
        time.sleep(0.2)
    lines = svc["service"].log().splitlines()
    line = [ln for ln in lines if "POST /recommend 422" in ln and "moood" in ln][-1]
    after = lines[lines.index(line) + 1 : lines.index(line) + 3]
    assert "INFO" in line and not any("Traceback" in ln for ln in after)


CHILD = textwrap.dedent("""
    import json, sys, time
    from bento.testing import ServiceProcess
    service = ServiceProcess(json.loads(sys.argv[1]), sys.argv[2]).start()
    print(json.dumps({"pid": service.proc.pid, "port": service.port}), flush=True)
    time.sleep(600)
""")


def _alive(pids) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _gone(pids, port: int, timeout: float = 60.0) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline and (_alive(pids) or _port_taken(port)):
        time.sleep(0.25)
    return _alive(pids)


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_two_workers_serve_and_killing_the_arbiter_or_the_test_run_frees_the_port(svc, tmp_path):
    """Two workers on the port circus binds, every client answered; then the arbiter killed (and,
    on a second service, the process that started it): no worker is left holding the port. One
    two-worker service serves both halves (a start costs ~15 s of the suite's critical path)."""
    import http.client

    import psutil

    from bento.testing import ServiceProcess

    env = {**svc["env"], "MOODTUNE_SERVICE__WORKERS": "2", "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "0"}
    service = ServiceProcess(env, tmp_path / "two-workers.log").start()
    workers = [p.pid for p in psutil.Process(service.proc.pid).children(recursive=True)]
    assert len(workers) >= 2
    conns = [http.client.HTTPConnection("127.0.0.1", service.port, timeout=60) for _ in range(40)]
    try:
        for c in conns:  # 40 keep-alive clients, each answered
            c.request("GET", "/livez")
            assert c.getresponse().read() is not None
    finally:
        for c in conns:
            c.close()
    # while it serves, another server cannot take the port, nor can a second moodtune
    with socket.socket() as other, pytest.raises(OSError):
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", service.port))
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "bento.service:Moodtune",
            "--host",
            "127.0.0.1",
            "--port",
            str(service.port),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode != 0
    assert "Address already in use" in second.stdout + second.stderr

    # 1. the arbiter's process group killed (the workers run in groups of their own)
    os.killpg(service.proc.pid, signal.SIGKILL)
    service.proc.wait(30)
    assert _gone(workers, service.port) == [] and not _port_taken(service.port)
    # 2. the process that started the service (a test run stopped by SIGKILL) dies
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(env), str(tmp_path / "orphan.log")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    started = json.loads(child.stdout.readline())
    tree = [started["pid"], *(p.pid for p in psutil.Process(started["pid"]).children(recursive=True))]
    child.kill()
    child.wait(30)
    assert _gone(tree, started["port"]) == [] and not _port_taken(started["port"])
