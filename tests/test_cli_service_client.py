"""How the command line finds and asks the service (moodtune/serving/client.py), against a stub
HTTP server: which side answers, error answers as the local path's errors and exit codes, a
service that cannot be reached, the catalog's pages. The real service: tests/test_service_cli.py."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from moodtune import cli, errors
from moodtune.serving import client

ROWS = [
    {
        "track_id": f"debian:pkg:t{i}",
        "title": f"T{i}",
        "artist": "A",
        "genre": "pop",
        "emotion": "joyful_activation",
    }
    for i in range(2500)
]


class _Stub(BaseHTTPRequestHandler):
    """/readyz, the catalog (paged as the service pages it), and fixed answers per path."""

    answers: dict[str, tuple[int, dict]] = {}
    seen: list[tuple[str, str, dict, bytes]] = []

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        self.seen.append(("GET", url.path, dict(self.headers), b""))
        if url.path == "/readyz":
            return self._send(200, {})
        if url.path == "/ui/api/catalog":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            rows = [r for r in ROWS if q.get("q", "") in r["track_id"]]
            offset, limit = int(q.get("offset", 0)), min(1000, int(q.get("limit", 500)))
            return self._send(
                200, {"total": len(rows), "offset": offset, "tracks": rows[offset : offset + limit]}
            )
        return self._send(404, {"error": "no such path", "type": "NotFound"})

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.seen.append(("POST", self.path, dict(self.headers), body))
        status, answer = self.answers.get(self.path, (404, {"error": "no such path", "type": "NotFound"}))
        return self._send(status, answer)

    def log_message(self, *args):
        return None


@pytest.fixture
def stub():
    _Stub.answers, _Stub.seen = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(autouse=True)
def _cli_environment(monkeypatch):
    """main() quiets the libraries through the environment: restore it after each test; no
    service from the environment."""
    for key in ("MLFLOW_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(key, os.environ.get(key, "ERROR" if key.startswith("MLFLOW") else "3"))
    monkeypatch.delenv(client.ENV, raising=False)
    monkeypatch.delenv(client.KEY_ENV, raising=False)
    monkeypatch.delenv("MOODTUNE_DATA_DIR")  # the default stack: make up's service is looked for


def test_which_side_answers(stub, dead_url, monkeypatch, capsys):
    local = lambda: "local"  # noqa: E731
    remote = lambda service: service.url  # noqa: E731
    monkeypatch.setattr(client, "DEFAULT_URL", dead_url)
    assert client.answer(None, remote, local) == "local"  # nothing at make up's address
    assert capsys.readouterr().err == f"moodtune: answered by the local models (no service at {dead_url})\n"
    monkeypatch.setattr(client, "DEFAULT_URL", stub)
    assert client.answer(None, remote, local) == stub  # make up's address is ready
    assert capsys.readouterr().err == f"moodtune: answered by the service at {stub}\n"
    assert client.answer("local", remote, local) == "local"
    monkeypatch.setenv("MOODTUNE_DATA_DIR", "/elsewhere")  # another stack: only a named service is asked
    assert client.answer(None, remote, local) == "local"
    assert "MOODTUNE_DATA_DIR is set" in capsys.readouterr().err
    assert client.answer(stub, remote, local) == stub
    monkeypatch.setenv(client.ENV, "local")
    assert client.answer(None, remote, local) == "local"
    assert "MOODTUNE_SERVICE_URL is local" in capsys.readouterr().err
    monkeypatch.setenv(client.ENV, dead_url)  # named: asked without a probe ...
    monkeypatch.setattr(client, "DEFAULT_URL", dead_url)
    assert client.answer(None, remote, local) == dead_url
    assert client.answer(stub + "/", remote, local) == stub  # the option wins over the environment


def test_an_unreachable_service_falls_back_only_when_it_was_not_named(stub, dead_url, monkeypatch, capsys):
    def remote(service):  # the service went away after its /readyz answered
        service.url = dead_url
        service.http.base_url = dead_url
        return service.call("POST", "/recommend", json={})

    monkeypatch.setattr(client, "DEFAULT_URL", stub)
    assert client.answer(None, remote, lambda: "local") == "local"
    assert "stopped answering" in capsys.readouterr().err
    with pytest.raises(client.Unreachable, match="no service answers at"):
        client.answer(dead_url, remote, lambda: "local")


def test_a_named_service_that_is_not_there_is_one_line_and_exit_1(dead_url, capsys):
    code = cli.main(
        ["recommend", "debian:a:b", "--age", "30", "--gender", "female", "--mood", "3", "--service", dead_url]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert (
        err.startswith(f"moodtune recommend: error: no service answers at {dead_url}")
        and err.count("\n") == 1
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("status", "kind", "cls", "code"),
    [
        (422, "InvalidRequest", errors.InvalidInput, 2),  # the request models' refusal
        (422, "InvalidFeedback", errors.InvalidFeedback, 2),
        (413, "TooMuchHRV", errors.TooMuchHRV, 2),
        (503, "ModelNotFound", errors.ModelNotFound, 2),
        (500, "InternalError", client.ServiceFailed, 1),
        (504, "Timeout", client.ServiceFailed, 1),
    ],
)
def test_error_answers_are_the_local_errors(stub, capsys, status, kind, cls, code):
    _Stub.answers["/feedback"] = (status, {"error": "what to fix", "type": kind})
    assert cli.main(["feedback", "0" * 32, "debian:a:b", "--stress", "low", "--service", stub]) == code
    err = capsys.readouterr().err
    assert err.startswith("moodtune feedback: error: ") and "what to fix" in err and err.count("\n") == 1
    service, _ = client.find(stub)
    with pytest.raises(cls):
        service.call("POST", "/feedback", json={})
    service.close()


def test_an_api_key_is_sent_and_a_missing_one_named(stub, monkeypatch, capsys):
    _Stub.answers["/feedback"] = (401, {"error": "a valid API key is required", "type": "Unauthorized"})
    assert cli.main(["feedback", "0" * 32, "debian:a:b", "--stress", "low", "--service", stub]) == 2
    assert client.KEY_ENV in capsys.readouterr().err
    monkeypatch.setenv(client.KEY_ENV, "k-123")
    _Stub.answers["/feedback"] = (200, {"id": 7, "stress_level": "low", "reward": 0.5, "replayed": False})
    assert cli.main(["feedback", "0" * 32, "debian:a:b", "--stress", "low", "--service", stub]) == 0
    assert capsys.readouterr().out == "stored feedback #7: stress low, reward 0.50\n"
    method, path, headers, body = _Stub.seen[-1]
    assert headers.get("X-API-Key") == "k-123"
    assert json.loads(body) == {
        "recommendation_id": "0" * 32,
        "track_id": "debian:a:b",
        "stress_level": "low",
    }


def test_uploads_go_as_multipart_with_the_list_as_one_json_field(stub, tmp_path, capsys):
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF-not-really")
    _Stub.answers["/recommend"] = (422, {"error": "song.wav: not audio", "type": "InvalidAudio"})
    assert (
        cli.main(
            [
                "recommend",
                "debian:a:b",
                "debian:a c:d",
                str(song),
                "--age",
                "30",
                "--gender",
                "male",
                "--mood",
                "2",
                "--service",
                stub,
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == "moodtune recommend: error: song.wav: not audio\n"
    _, _, headers, body = _Stub.seen[-1]
    assert headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="track_ids"\r\n\r\n["debian:a:b", "debian:a c:d"]' in body
    assert b'name="files"; filename="song.wav"' in body and b"RIFF-not-really" in body
    assert b'name="age"\r\n\r\n30' in body and b'name="k"' not in body  # k left to the service's default


def test_the_catalog_pages_through_the_service(stub, capsys):
    assert cli.main(["catalog", "--ids", "-n", "0", "--service", stub]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [r["track_id"] for r in ROWS]  # three pages of 1000
    assert captured.err == f"moodtune: answered by the service at {stub}\n"
    assert cli.main(["catalog", "t12", "-n", "3", "--service", stub]) == 0
    lines = capsys.readouterr().out.splitlines()
    matching = [r for r in ROWS if "t12" in r["track_id"]]
    assert lines[0] == "debian:pkg:t12  T12 — A  [pop, joyful activation]"
    assert lines[-1] == f"3 of {len(matching)} track(s) matching 't12' (-n 0 lists them all)"
    assert cli.main(["catalog", "t12", "-n", "2", "--json", "--service", stub]) == 0
    assert json.loads(capsys.readouterr().out) == {"total": len(matching), "tracks": matching[:2]}
