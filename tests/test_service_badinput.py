"""A corpus of bad input against the real served service (issue #32): every case with its
expected status and a fragment of its message, generated here (no committed binaries), sent over
one keep-alive connection to one service for the whole module. Then: every error answer carries
an ``X-Request-Id`` and is logged exactly once with it; nothing a client sends forges a log line;
a 1,000,000-interval upload is refused in under a second and the worker answers at once after it;
a random ``X-API-Key`` per write (no keys configured) does not escape the rate limit."""

from __future__ import annotations

import io
import json
import re
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]

FORGED = "2026-12-05T00:00:00+0000 [ERROR] [entry_service:moodtune:1] FORGED"
METRICS = {"MEAN_RR": 850, "SDRR": 55, "HR": 70.5, "RMSSD": 38, "pNN50": 18, "VLF": 900, "LF": 700, "HF": 650}
LISTENER = {"age": 30, "gender": "female", "mood": 3}


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): its request limit (SHARED_LIMITS, 12 MB)
    lets a 4 MB, 1,000,000-interval RR file reach the endpoint, so the work budget refuses it."""
    assert int(_shared_service["env"]["MOODTUNE_SERVICE__MAX_REQUEST_BYTES"]) >= 12_000_000
    return _shared_service


# The shared service's writes are rate-limited per client address: this module's hundreds of
# writes (the corpus, the rate-limit bypass) come from an address of its own on the loopback, so
# they never empty the bucket of the modules that share the service (127.0.0.1).
SOURCE = "127.0.0.2"


def _client(url: str, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout, transport=httpx.HTTPTransport(local_address=SOURCE))


@pytest.fixture(scope="module")
def svc(service_stack):
    with _client(service_stack["url"], 120) as client:
        yield {**service_stack, "client": client}


@dataclass
class Case:
    name: str
    path: str
    status: int
    fragment: str
    method: str = "POST"
    kwargs: dict[str, Any] = field(default_factory=dict)


def _wav(rate: int, seconds: float = 2.0, declared: int | None = None) -> bytes:
    """A short tone as 16-bit WAV, its header declaring ``declared`` Hz (default: ``rate``)."""
    import soundfile as sf

    n = int(8000 * seconds)
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(np.arange(n) / 5)).astype("float32"), 8000, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    hz = declared if declared is not None else rate
    data[24:28] = struct.pack("<I", hz)
    data[28:32] = struct.pack("<I", hz * 2)  # byte rate: mono, 16 bit
    return bytes(data)


def _raw_multipart(fields: list[tuple[str, str]], close: bool) -> tuple[bytes, dict]:
    boundary = "moodtuneXbound"
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    )
    if close:
        parts += f"--{boundary}--\r\n".encode()
    return parts, {"content-type": f"multipart/form-data; boundary={boundary}"}


def form(data: dict | None = None, files: dict | None = None) -> dict:
    """httpx keyword arguments of a multipart/form-data body (value fields as parts without a file
    name; a list value is the field repeated), even with no file in it."""
    parts = []
    for key, value in (data or {}).items():
        for v in value if isinstance(value, list) else [value]:
            parts.append((key, (None, v)))
    parts += [(key, f) for key, f in (files or {}).items()]
    return {"files": parts}


def corpus() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    rec = {"track_ids": ["demo-x"], **LISTENER}
    fb = {"recommendation_id": "r" * 32, "track_id": "demo-x"}

    # 1. enums take their exact values (the schema lists lower case)
    genders = [
        "FEMALE",
        "Female",
        "MALE",
        "Male",
        " female",
        "male ",
        "f",
        "m",
        "woman",
        "",
        "FEMALE\n",
        "fEmale",
        "other",
        "none",
        "femal",
    ]
    for g in genders:
        add(
            Case(
                f"json gender {g!r}",
                "/recommend",
                422,
                "gender must be 'female' or 'male'",
                kwargs={"json": {**rec, "gender": g}},
            )
        )
        add(
            Case(
                f"form gender {g!r}",
                "/recommend",
                422,
                "gender must be 'female' or 'male'",
                kwargs=form({"age": "30", "gender": g, "mood": "3", "track_ids": '["demo-x"]'}),
            )
        )
        add(
            Case(
                f"text gender {g!r}",
                "/recommend_text",
                422,
                "gender must be 'female' or 'male'",
                kwargs={"json": {"text": "今天很开心", **LISTENER, "gender": g}},
            )
        )
    for s in ["LOW", "Low", "MEDIUM", "Medium", "HIGH", "High", "lo", "none", "", "calm"]:
        add(
            Case(
                f"stress_level {s!r}",
                "/feedback",
                422,
                "stress_level must be one of 'low', 'medium', 'high'",
                kwargs={"json": {**fb, "stress_level": s}},
            )
        )

    # 2. unknown keys inside metrics are refused, named, with the eight listed
    unknown = [
        "SDNN",
        "MEAN RR",
        "LF/HF",
        "hr_",
        "rmssd2",
        "TP",
        "A",
        "x" * 200,
        "ÄÖ",
        "0",
        "MEAN_RR ",
        "HF\t",
        "pNN20",
        "lf_hf",
        "A\n" + FORGED,
        "B\r\n" + FORGED,
        "C\x1b[31m",
        "D\u2028" + FORGED,
    ]
    for key in unknown:
        if key.strip().lower() in {m.lower() for m in METRICS}:
            continue
        add(
            Case(
                f"hrv metric key {key[:20]!r}",
                "/analyze_hrv",
                422,
                "unknown keys",
                kwargs={"json": {"metrics": {**METRICS, key: 1}}},
            )
        )
        add(
            Case(
                f"hrv metric key alone {key[:20]!r}",
                "/analyze_hrv",
                422,
                "MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF",
                kwargs={"json": {"metrics": {key: "x"}}},
            )
        )
    for key in unknown[:8]:
        add(
            Case(
                f"feedback metric key {key[:20]!r}",
                "/feedback",
                422,
                "unknown keys",
                kwargs={"json": {**fb, "metrics": {**METRICS, key: 1}}},
            )
        )
    for a, b in [("HR", "hr"), ("pNN50", "PNN50"), ("LF", "lf"), ("MEAN_RR", "mean_rr")]:
        add(
            Case(
                f"metric twice {a}/{b}",
                "/analyze_hrv",
                422,
                "twice",
                kwargs={"json": {"metrics": {**METRICS, b: 1}}},
            )
        )

    # 3. a repeated field is refused and named: JSON keys, multipart value fields
    dup_json = [
        (
            "/recommend",
            '{"track_ids": ["demo-x"], "age": 30, "gender": "male", "mood": 2, "mood": 3}',
            "'mood'",
        ),
        (
            "/recommend",
            '{"track_ids": ["demo-x"], "age": 30, "age": 31, "gender": "male", "mood": 2}',
            "'age'",
        ),
        (
            "/recommend",
            '{"track_ids": ["a"], "track_ids": ["b"], "age": 30, "gender": "male", "mood": 2}',
            "'track_ids'",
        ),
        (
            "/recommend",
            '{"track_ids": ["a"], "age": 30, "gender": "male", "gender": "female", "mood": 2}',
            "'gender'",
        ),
        ("/recommend", '{"track_ids": ["a"], "age": 30, "gender": "male", "mood": 2, "k": 1, "k": 2}', "'k'"),
        ("/recommend_text", '{"text": "好", "text": "坏"}', "'text'"),
        ("/recommend_text", '{"text": "好", "k": 1, "k": 3}', "'k'"),
        ("/analyze_hrv", '{"metrics": {"HR": 70, "HR": 71}}', "'HR'"),
        ("/analyze_hrv", '{"rr": [800], "rr": [900]}', "'rr'"),
        ("/analyze_hrv", '{"metrics": {}, "metrics": {}}', "'metrics'"),
        (
            "/feedback",
            '{"recommendation_id": "a", "track_id": "t", "stress_level": "low", "stress_level": "high"}',
            "'stress_level'",
        ),
        (
            "/feedback",
            '{"recommendation_id": "a", "recommendation_id": "b", "track_id": "t", "stress_level": "low"}',
            "'recommendation_id'",
        ),
        (
            "/feedback",
            '{"recommendation_id": "a", "track_id": "t", "track_id": "u", "stress_level": "low"}',
            "'track_id'",
        ),
        ("/models", '{"a": 1, "a": 2}', "'a'"),
    ]
    for path, body, name in dup_json:
        add(
            Case(
                f"json repeats {name} on {path}",
                path,
                422,
                f"{name} more than once",
                kwargs={"content": body.encode(), "headers": {"content-type": "application/json"}},
            )
        )
    fields = {"age": "30", "gender": "male", "mood": "2", "track_ids": '["demo-x"]', "k": "1"}
    for name in ("age", "gender", "mood", "k"):
        values = [fields[name], fields[name]] if name != "mood" else ["2", "3"]
        add(
            Case(
                f"form repeats {name}",
                "/recommend",
                422,
                f"'{name}' was sent 2 times",
                kwargs=form({**fields, name: values}),
            )
        )
    add(
        Case(
            "form repeats mood 3x",
            "/recommend",
            422,
            "'mood' was sent 3 times",
            kwargs=form({**fields, "mood": ["1", "2", "3"]}),
        )
    )
    for ids in (["a", "b"], ["a", "b", "c"], ["demo-x", "demo-x"]):
        add(
            Case(
                f"form list as repeated fields {ids}",
                "/recommend",
                422,
                "send a list as one field holding a JSON array",
                kwargs=form({**fields, "track_ids": ids}),
            )
        )
    add(
        Case(
            "form repeats stress_level",
            "/feedback",
            422,
            "'stress_level' was sent 2 times",
            kwargs=form({**fb, "stress_level": ["low", "high"]}),
        )
    )
    add(
        Case(
            "form repeats track_id",
            "/feedback",
            422,
            "'track_id' was sent 2 times",
            kwargs=form({**fb, "track_id": ["a", "b"], "stress_level": "low"}),
        )
    )
    add(
        Case(
            "form repeats sampling_rate",
            "/analyze_hrv",
            422,
            "'sampling_rate' was sent 2 times",
            kwargs=form({"sampling_rate": ["250", "500"]}, {"file": ("e.csv", b"ecg\n1\n2\n")}),
        )
    )
    add(
        Case(
            "form repeats k on image",
            "/recommend_image",
            422,
            "'k' was sent 2 times",
            kwargs=form({"k": ["1", "2"]}, {"image": ("p.jpg", b"x")}),
        )
    )

    # 4. sampling_rate only with an uploaded file
    for rate in (250, 1000.0, 1, 99999):
        add(
            Case(
                f"sampling_rate {rate} with rr",
                "/analyze_hrv",
                422,
                "sampling_rate applies only to an uploaded ECG/PPG file",
                kwargs={"json": {"rr": [800.0] * 100, "sampling_rate": rate}},
            )
        )
        add(
            Case(
                f"sampling_rate {rate} with metrics",
                "/analyze_hrv",
                422,
                "sampling_rate applies only",
                kwargs={"json": {"metrics": METRICS, "sampling_rate": rate}},
            )
        )
    for rate in (250, 500.0):
        add(
            Case(
                f"feedback sampling_rate {rate} with stress",
                "/feedback",
                422,
                "sampling_rate applies only",
                kwargs={"json": {**fb, "stress_level": "low", "sampling_rate": rate}},
            )
        )
        add(
            Case(
                f"feedback sampling_rate {rate} with metrics",
                "/feedback",
                422,
                "sampling_rate applies only",
                kwargs={"json": {**fb, "metrics": METRICS, "sampling_rate": rate}},
            )
        )
    add(
        Case(
            "form sampling_rate without file",
            "/analyze_hrv",
            422,
            "sampling_rate applies only",
            kwargs=form({"sampling_rate": "250", "rr": "[800, 810]"}),
        )
    )

    # 5. media types per operation, as the OpenAPI lists them
    for path in ("/recommend_text", "/models"):
        add(
            Case(
                f"multipart on {path}",
                path,
                415,
                "takes no file",
                kwargs=form({"text": "好"}, {"f": ("a", b"x")}),
            )
        )
        add(
            Case(
                f"multipart fields only on {path}",
                path,
                415,
                "send the body as application/json",
                kwargs=form({"text": "好", "k": "1"}),
            )
        )
    for path, name in (("/analyze_audio", "file"), ("/recommend_image", "image")):
        for body in ({}, {name: "/etc/passwd"}, {"k": 1}):
            add(Case(f"json on {path} {sorted(body)}", path, 415, f"in '{name}'", kwargs={"json": body}))
    for media in ("text/plain", "application/xml", "application/x-www-form-urlencoded", "image/png"):
        add(
            Case(
                f"media {media}",
                "/recommend",
                415,
                "application/json",
                kwargs={"content": b"{}", "headers": {"content-type": media}},
            )
        )

    # 6. a file under a name that takes none: named, with the file fields there are
    for path, names, expected in (
        ("/analyze_hrv", ("data", "rr", "upload", "File", "files", "metrics"), "'file' or 'baseline'"),
        ("/feedback", ("data", "hrv", "rr_file"), "'file' or 'baseline'"),
        ("/analyze_audio", ("audio", "song", "files", "clip"), "'file'"),
        ("/recommend_image", ("photo", "file", "img"), "'image'"),
        ("/recommend", ("file", "song", "track_ids", "age"), "'files'"),
    ):
        for name in names:
            add(
                Case(
                    f"file field {name!r} on {path}",
                    path,
                    422,
                    expected,
                    kwargs=form(files={name: ("x.bin", b"\xac\xed\x00\x05binary")}),
                )
            )
    for path, name in (("/analyze_hrv", "file"), ("/analyze_audio", "file"), ("/recommend_image", "image")):
        add(
            Case(
                f"value in file field {name} on {path}",
                path,
                400,
                "takes an uploaded file",
                kwargs=form({name: "http://example.com/x"}),
            )
        )

    # 7. a multipart body cut off before its closing boundary is unreadable (400), not "age is required"
    for path, fields in (
        ("/recommend", [("age", "30"), ("gender", "male")]),
        ("/recommend", [("age", "30"), ("gender", "male"), ("mood", "2"), ("track_ids", '["a"]')]),
        ("/analyze_hrv", [("rr", "[800, 810]")]),
        ("/feedback", [("recommendation_id", "a")]),
        ("/analyze_audio", [("x", "1")]),
        ("/recommend_image", [("k", "3")]),
    ):
        for cut in ("", "\r\n--moodtuneXbound", "\r\n--moodtuneXbound-"):
            content, headers = _raw_multipart(fields, close=False)
            add(
                Case(
                    f"no closing boundary {path} {len(fields)} {cut!r}",
                    path,
                    400,
                    "closing boundary",
                    kwargs={"content": content + cut.encode(), "headers": headers},
                )
            )

    # 8. a bad ECG sampling rate says what is wrong with the rate
    ecg = ("e.csv", b"ecg\n" + b"\n".join(str(v).encode() for v in range(1, 60)) + b"\n")
    for rate in ("0", "-250", "fast", "nan", "inf", "-inf", "1e9", "0.5", "true", '"250"', "[250]"):
        add(
            Case(
                f"form sampling_rate {rate}",
                "/analyze_hrv",
                422,
                "sampling_rate must be a number of samples per second",
                kwargs=form({"sampling_rate": rate}, {"file": ecg}),
            )
        )
    for rate in (0, -250, "fast", True, 1e9, "250", [250], 0.2):
        add(
            Case(
                f"json sampling_rate {rate!r}",
                "/analyze_hrv",
                422,
                "sampling_rate must be",
                kwargs={"json": {"rr": [800] * 60, "sampling_rate": rate}},
            )
        )
    for value in ("fast", "-250", "0", "nan", "", "inf"):
        body = f"# sampling_rate: {value}\necg\n".encode() + b"\n".join(b"%d" % v for v in range(60))
        add(
            Case(
                f"rate comment {value!r}",
                "/analyze_hrv",
                422,
                "gives the sampling rate as",
                kwargs=form(files={"file": ("c.csv", body)}),
            )
        )
    for label, times in (
        ("zero", [0.0] * 60),
        ("reversed", list(np.arange(60)[::-1] / 250)),
        ("one", [0.0]),
        ("constant", [5.0] * 60),
    ):
        rows = "\n".join(f"{t},{i % 7}" for i, t in enumerate(times))
        add(
            Case(
                f"time column {label}",
                "/analyze_hrv",
                422,
                "the time column 'time'",
                kwargs=form(files={"file": ("t.csv", f"time,ecg\n{rows}\n".encode())}),
            )
        )

    # 9. the work budget: counted before the work starts, answered naming the cap
    for n in (20_002, 20_500, 60_000, 250_000):
        add(
            Case(
                f"rr file {n} intervals",
                "/analyze_hrv",
                413,
                "the limit is 20,000 RR intervals",
                kwargs=form(files={"file": ("rr.txt", b"800\n" * n)}),
            )
        )
    add(
        Case(
            "rr file 30k with header",
            "/analyze_hrv",
            413,
            "20,000 RR intervals",
            kwargs=form(files={"file": ("rr.csv", b"rr\n" + b"800\n" * 30_000)}),
        )
    )
    rr = "\n".join(str(800 + v) for v in np.random.default_rng(3).integers(-40, 41, 400)).encode()
    add(
        Case(
            "baseline rr file 30k",
            "/analyze_hrv",
            413,
            "20,000 RR intervals",
            kwargs=form(files={"file": ("rr.txt", rr), "baseline": ("base.txt", b"810\n" * 30_000)}),
        )
    )
    add(
        Case(
            "json rr 20001",
            "/analyze_hrv",
            422,
            "the limit is 20,000",
            kwargs={"json": {"rr": [800] * 20_001}},
        )
    )
    row = ",".join(str(v) for v in METRICS.values()).encode()
    header = ",".join(METRICS).encode()
    for n in (1_001, 5_000):
        add(
            Case(
                f"metrics csv {n} rows",
                "/analyze_hrv",
                413,
                "the limit is 1,000 rows",
                kwargs=form(files={"file": ("m.csv", header + b"\n" + b"\n".join([row] * n))}),
            )
        )
    add(
        Case(
            "signal 1,000,001 samples",
            "/analyze_hrv",
            413,
            "the limit is 1,000,000 samples",
            kwargs=form({"sampling_rate": "1000"}, {"file": ("s.csv", b"ecg\n" + b"1\n" * 1_000_001)}),
        )
    )
    add(
        Case(
            "signal 1000 s at 250 Hz",
            "/analyze_hrv",
            413,
            "is longer than 900 s",
            kwargs=form(files={"file": ("s.csv", b"# sampling_rate: 250\nppg\n" + b"1\n" * 250_000)}),
        )
    )
    add(
        Case(
            "signal 2000 s at 100 Hz (form rate)",
            "/analyze_hrv",
            413,
            "s of signal at 100 Hz",
            kwargs=form({"sampling_rate": "100"}, {"file": ("s.csv", b"ecg\n" + b"1\n" * 200_000)}),
        )
    )
    for hz in (1, 100, 4000, 7999, 192_001, 384_000):
        add(
            Case(
                f"wav declaring {hz} Hz",
                "/analyze_audio",
                422,
                f"declares a sample rate of {hz:,} Hz",
                kwargs=form(files={"file": (f"tone{hz}.wav", _wav(8000, declared=hz))}),
            )
        )
    add(
        Case(
            "wav 1 Hz in a playlist",
            "/recommend",
            422,
            "declares a sample rate of 1 Hz",
            kwargs=form(
                {"age": "30", "gender": "male", "mood": "2"}, {"files": ("one.wav", _wav(8000, declared=1))}
            ),
        )
    )

    # 10. 404 and 405 in the JSON error shape
    for path in (
        "/recommend",
        "/recommend_text",
        "/analyze_hrv",
        "/feedback",
        "/models",
        "/analyze_audio",
        "/recommend_image",
    ):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            add(Case(f"{method} {path}", path, 405, "not allowed", method=method))
    for path in (
        "/nothere",
        "/recommend/x",
        "/v1/recommend",
        "/recommendx",
        "/%0A" + FORGED.replace(" ", "%20"),
        "/a%0d%0ab",
        "/admin",
        "/.env",
        "/docs.json/x",
    ):
        add(Case(f"POST {path}", path, 404, "no such endpoint"))

    # 11. what the request models already refused stays refused
    for age in (-1, 0, 4, 121, 1000, "30", 30.5, True, None, [30], {"v": 30}, 10**40):
        add(Case(f"age {age!r}", "/recommend", 422, "age", kwargs={"json": {**rec, "age": age}}))
    for mood in (0, 6, -3, "2", 2.5, False, None, "happy"):
        add(Case(f"mood {mood!r}", "/recommend", 422, "mood", kwargs={"json": {**rec, "mood": mood}}))
    for k in (0, 51, -1, "3", 1.5, True):
        add(Case(f"k {k!r}", "/recommend", 422, "k", kwargs={"json": {**rec, "k": k}}))
        add(Case(f"text k {k!r}", "/recommend_text", 422, "k", kwargs={"json": {"text": "好", "k": k}}))
    for name in ("moood", "Age", "GENDER", "trackids", "Files", "a\n" + FORGED, "x\x00y"):
        add(
            Case(
                f"unknown field {name[:12]!r}",
                "/recommend",
                422,
                "unknown field",
                kwargs={"json": {**rec, name: 1}},
            )
        )
    for text in ("", "   ", "好" * 201, 5, None, ["好"]):
        add(Case(f"text {str(text)[:10]!r}", "/recommend_text", 422, "text", kwargs={"json": {"text": text}}))
    for body in (b'{"age": 3', b"[1, 2", b"{'a': 1}", b"nul", b'{"a": }'):
        add(
            Case(
                f"invalid json {body!r}",
                "/recommend",
                400,
                "not valid JSON",
                kwargs={"content": body, "headers": {"content-type": "application/json"}},
            )
        )
    for key in ("abc", "x" * 65, "with space", "ü" * 10):
        add(
            Case(
                f"client_key {key[:10]!r}",
                "/feedback",
                422,
                "client_key",
                kwargs={"json": {**fb, "stress_level": "low", "client_key": key}},
            )
        )
    return cases


def _send(client: httpx.Client, case: Case) -> httpx.Response:
    return client.request(case.method, case.path, **case.kwargs)


@pytest.fixture(scope="module")
def corpus_run(svc):
    cases = corpus()
    answers = [(case, _send(svc["client"], case)) for case in cases]
    return cases, answers


def test_the_corpus_has_300_cases_each_answered_with_its_status_and_message(corpus_run):
    cases, answers = corpus_run
    assert len(cases) >= 300, len(cases)
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    wrong = []
    for case, r in answers:
        try:
            body = r.json()
        except ValueError:
            body = None
        if (
            r.status_code != case.status
            or not isinstance(body, dict)
            or set(body) != {"error", "type"}
            or case.fragment not in body["error"]
        ):
            wrong.append(
                f"{case.name}: {r.status_code} {r.text[:300]} (wanted {case.status} with {case.fragment!r})"
            )
    assert not wrong, f"{len(wrong)} of {len(cases)} cases wrong:\n" + "\n".join(wrong)
    assert all(r.status_code < 500 for _, r in answers)


def test_every_error_answer_has_a_request_id_and_one_log_line(svc, corpus_run):
    _, answers = corpus_run
    ids = [r.headers.get("x-request-id") for _, r in answers]
    assert all(ids) and len(set(ids)) == len(ids)
    deadline = time.time() + 20
    while time.time() < deadline and f"request_id={ids[-1]} " not in svc["service"].log():
        time.sleep(0.2)
    log = svc["service"].log()
    counts = {rid: len(re.findall(rf"request_id={rid} ", log)) for rid in ids}
    assert all(n == 1 for n in counts.values()), {k: v for k, v in counts.items() if v != 1}
    lines = log.splitlines()
    for (case, r), rid in zip(answers, ids, strict=True):
        [line] = [ln for ln in lines if f"request_id={rid} " in ln]
        assert f"{case.method} " in line and f" {r.status_code} request_id=" in line, line
    # a client-sent id is used when it is plain, replaced when it is not
    c = svc["client"]
    assert (
        c.post("/nothere", headers={"x-request-id": "client-id-0001"}).headers["x-request-id"]
        == "client-id-0001"
    )
    assert c.post("/nothere", headers={"x-request-id": "bad\tid"}).headers["x-request-id"] != "bad\tid"
    assert c.get("/livez").headers.get("x-request-id")  # success answers carry one too


def test_nothing_a_client_sends_forges_a_log_line(svc, corpus_run):
    c = svc["client"]
    r = c.post(
        "/analyze_hrv",
        content=json.dumps({"metrics": {"A\n" + FORGED: "x"}}).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "unknown keys" in r.json()["error"]
    rid = r.headers["x-request-id"]
    deadline = time.time() + 10
    while time.time() < deadline and rid not in svc["service"].log():
        time.sleep(0.2)
    lines = svc["service"].log().splitlines()
    assert not [
        ln for ln in lines if ln.startswith(FORGED[:30]) or "FORGED" in ln and "request_id=" not in ln
    ]
    ours = [ln for ln in lines if "request_id=" in ln]
    assert not [
        ln for ln in ours if re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", ln)
    ]  # no raw control bytes
    [line] = [ln for ln in lines if rid in ln]
    assert "\\n2026-12-05" in line  # the newline is written as \n, in the one line


def test_a_million_interval_upload_is_refused_from_its_line_count_and_the_worker_stays_free(svc, tmp_path):
    rng = np.random.default_rng(1)
    lines = [str(800 + int(v)) for v in rng.integers(-40, 41, 1_000_000)]
    lines[-1] = "not-a-number"  # parsed first, the file would be refused for this line instead
    big = "\n".join(lines).encode() + b"\n"
    assert len(big) > 3_000_000
    c = svc["client"]
    r = c.post("/analyze_hrv", files={"file": ("rr_1M.txt", big)})
    assert r.status_code == 413 and "1,000,000 lines" in r.json()["error"] and "20,000" in r.json()["error"]
    # two at once, and a small request beside them: it is answered at its normal speed
    results: list[httpx.Response] = []

    def upload():
        with _client(svc["url"], 60) as other:
            results.append(other.post("/analyze_hrv", files={"file": ("rr_1M.txt", big)}))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    ok = c.post("/analyze_hrv", json={"metrics": METRICS})
    for t in threads:
        t.join()
    assert ok.status_code == 200, ok.text
    assert [x.status_code for x in results] == [413, 413]


def test_a_random_api_key_per_write_does_not_escape_the_rate_limit(svc, corpus_run):
    """No keys configured: the limit is per address (600 a minute, a burst of 100 per worker)."""
    c = svc["client"]
    statuses = [
        c.post(
            "/feedback",
            json={"recommendation_id": "r" * 32, "track_id": "t", "stress_level": "low"},
            headers={"x-api-key": uuid.uuid4().hex},
        ).status_code
        for _ in range(150)
    ]
    assert 429 in statuses, statuses
    assert statuses.count(429) >= 40 and set(statuses) <= {422, 429}
