"""`moodtune recommend` and `moodtune feedback` against the running service: the same input
gives the same answer in the terminal as over HTTP, and a recommendation made on one side
takes feedback on the other (one feedback store). The local path runs with
MOODTUNE_SERVICE_URL=local; the commands that ask the service (`--service URL`) print what the
local path prints, and turn its error answers into the local path's errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from moodtune import cli
from moodtune.feedback import FeedbackStore, default_url

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts only rows it wrote."""
    return _shared_service


@pytest.fixture(autouse=True)
def _cli_environment(monkeypatch):
    """main() quiets the libraries through the environment: restore it after each test."""
    for key in ("MLFLOW_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(key, os.environ.get(key, "ERROR" if key.startswith("MLFLOW") else "3"))


COMPARED = ("rank", "track_id", "score", "probability", "match", "reason", "profile")


@pytest.fixture(scope="module")
def svc(service_stack):
    with httpx.Client(base_url=service_stack["url"], timeout=120) as client:
        yield {**service_stack, "client": client}


@pytest.fixture
def stack_env(svc, monkeypatch):
    """This process reads the service's stores and limits (what the CLI of that machine sees);
    the commands answer locally unless a test names the service."""
    from moodtune.settings import get_settings

    env = {**svc["env"], "MOODTUNE_SERVICE_URL": "local"}
    for key, value in env.items():
        if key.startswith(("MOODTUNE_", "MLFLOW_")):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _ids(svc, n: int, seed: int) -> list[str]:
    catalog = pd.read_parquet(svc["settings"].data_path("catalog", "catalog.parquet"))
    return list(np.random.default_rng(seed).choice(catalog["track_id"].to_numpy(), size=n, replace=False))


def _run_cli(argv, capsys) -> tuple[int, dict]:
    code = cli.main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_recommend_in_the_terminal_is_the_api_answer(svc, stack_env):
    ids = _ids(svc, 12, seed=3)
    body = {"track_ids": ids, "age": 41, "gender": "female", "mood": 4, "k": 4}
    api = svc["client"].post("/recommend", json=body).json()
    # the real entry point, in a fresh process: JSON on stdout, nothing coloured anywhere
    env = {**stack_env, "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodtune.cli",
            "recommend",
            *ids,
            "--age",
            "41",
            "--gender",
            "female",
            "--mood",
            "4",
            "-k",
            "4",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=os.getcwd(),
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout + done.stderr, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    terminal = json.loads(done.stdout)
    assert [{k: t[k] for k in COMPARED} for t in terminal["tracks"]] == [
        {k: t[k] for k in COMPARED} for t in api["tracks"]
    ]
    for key in ("k", "requested_k", "candidates", "listener", "model_versions", "source"):
        assert terminal[key] == api[key], key
    assert terminal["recommendation_id"] != api["recommendation_id"]  # each logged its own event
    store = FeedbackStore(default_url(svc["settings"]), settings=svc["settings"])
    logged = store.get_recommendation(terminal["recommendation_id"])
    assert logged.chosen == [t["track_id"] for t in api["tracks"]] and (logged.age, logged.mood) == (41, 4)
    assert terminal["tracks"][0]["match"] == 100 and all(0 <= t["match"] <= 100 for t in terminal["tracks"])


def test_feedback_crosses_between_the_terminal_and_the_api(svc, stack_env, capsys, tmp_path):
    from moodtune.hrv.simulate import simulate_rr

    ids = _ids(svc, 8, seed=5)
    code, mine = _run_cli(
        ["recommend", *ids, "--age", "27", "--gender", "male", "--mood", "2", "-k", "3", "--json"], capsys
    )
    assert code == 0 and len(mine["tracks"]) == 3
    track = mine["tracks"][1]["track_id"]
    # the terminal's recommendation takes feedback over HTTP ...
    row = (
        svc["client"]
        .post(
            "/feedback",
            json={"recommendation_id": mine["recommendation_id"], "track_id": track, "stress_level": "low"},
        )
        .json()
    )
    assert row["recommendation_id"] == mine["recommendation_id"] and row["stress_level"] == "low"
    assert row["choice_probability"] == pytest.approx(mine["tracks"][1]["probability"], abs=1e-6)
    # ... and the API's takes feedback from the terminal, from an HRV file, read as the API reads it
    api = (
        svc["client"]
        .post("/recommend", json={"track_ids": ids, "age": 27, "gender": "male", "mood": 2, "k": 3})
        .json()
    )
    rr = tmp_path / "rr.txt"
    np.savetxt(rr, simulate_rr(0.8, 300, np.random.default_rng(2)), fmt="%.1f")
    code, stored = _run_cli(
        ["feedback", api["recommendation_id"], api["tracks"][0]["track_id"], "--hrv", str(rr), "--json"],
        capsys,
    )
    assert code == 0 and stored["source"] == "rr"
    with rr.open("rb") as fh:
        reading = svc["client"].post("/analyze_hrv", files={"file": ("rr.txt", fh, "text/plain")}).json()
    assert stored["stress_level"] == reading["level"]
    assert stored["reading"]["probabilities"] == pytest.approx(reading["probabilities"], abs=1e-9)
    assert stored["reading"]["metrics"] == pytest.approx(reading["metrics"], abs=1e-9)
    # the same client key again is the stored row, as over HTTP
    argv = [
        "feedback",
        api["recommendation_id"],
        api["tracks"][1]["track_id"],
        "--stress",
        "high",
        "--client-key",
        "cli-retry-0001",
        "--json",
    ]
    first, again = _run_cli(argv, capsys)[1], _run_cli(argv, capsys)[1]
    assert again["id"] == first["id"] and again["replayed"] and not first["replayed"]


def test_terminal_errors_are_one_line_and_exit_2(svc, stack_env, capsys):
    ids = _ids(svc, 3, seed=1)
    assert (
        cli.main(["recommend", *ids, "no-such-track", "--age", "30", "--gender", "female", "--mood", "3"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("moodtune recommend: error:") and "no-such-track" in err and "\n" not in err
    assert cli.main(["recommend", *ids, "--age", "30", "--gender", "female", "--mood", "9"]) == 2
    assert "mood" in capsys.readouterr().err
    assert cli.main(["feedback", "0" * 32, ids[0], "--stress", "low"]) == 2
    assert capsys.readouterr().err.startswith("moodtune feedback: error:")


# --- the domain commands: --json is the API's answer for the same input ---------------------------


def _clean(captured) -> None:
    """No library warning or coloured log line reached the terminal."""
    for stream in (captured.out, captured.err):
        assert "\x1b[" not in stream and "Warning" not in stream, stream[-2000:]


def _catalog_clip(svc):
    from moodtune.serving.catalog import Catalog

    track = _ids(svc, 1, seed=0)[0]
    return track, str(Catalog.load(svc["settings"].data_path("catalog")).audio_path(track))


def test_analyze_audio_json_is_the_api_analysis(svc, stack_env, capsys):
    from pathlib import Path

    _, path = _catalog_clip(svc)
    assert cli.main(["analyze-audio", path, "--json"]) == 0
    captured = capsys.readouterr()
    _clean(captured)
    (line,) = captured.out.strip().splitlines()  # one JSON object per file
    terminal = json.loads(line)
    data = Path(path).read_bytes()
    api = svc["client"].post("/analyze_audio", files={"file": (Path(path).name, data, "audio/flac")}).json()
    assert terminal["genre"] == api["genre"]
    assert terminal["model_version"] == api["model_versions"]["moodtune-audio"]
    assert terminal["genres"] == pytest.approx(api["genres"], abs=5e-5)  # the API rounds to 4 digits
    assert terminal["emotions"] == pytest.approx(api["emotions"], abs=5e-5)
    assert max(terminal["emotions"], key=terminal["emotions"].get) == api["emotion"]


def test_analyze_hrv_json_is_the_api_reading(svc, stack_env, capsys, tmp_path):
    from moodtune.hrv.simulate import simulate_rr

    rr = tmp_path / "rr.txt"
    np.savetxt(rr, simulate_rr(0.6, 300, np.random.default_rng(4)), fmt="%.1f")
    assert cli.main(["analyze-hrv", str(rr), "--json"]) == 0
    captured = capsys.readouterr()
    _clean(captured)
    (line,) = captured.out.strip().splitlines()  # one JSON object per row: an RR file is one row
    terminal = json.loads(line)
    api = svc["client"].post("/analyze_hrv", files={"file": ("rr.txt", rr.read_bytes(), "text/plain")}).json()
    assert terminal["level"] == api["level"]
    assert {lvl: terminal[f"p_{lvl}"] for lvl in ("low", "medium", "high")} == pytest.approx(
        api["probabilities"], abs=1e-6
    )
    assert {m: terminal[m] for m in api["metrics"]} == pytest.approx(api["metrics"], abs=1e-6)
    assert terminal["n_intervals"] == api["recording"]["n_intervals"]


def test_recommend_text_json_is_the_api_answer(svc, stack_env, capsys):
    text = "想念你，好难过，心里很伤心"
    assert cli.main(["recommend-text", text, "-k", "5", "--json"]) == 0
    captured = capsys.readouterr()
    _clean(captured)
    terminal = json.loads(captured.out)
    api = svc["client"].post("/recommend_text", json={"text": text, "k": 5, "mode": "match"}).json()
    for key in (
        "emotion",
        "granularity",
        "top_emotions",
        "keywords",
        "negated",
        "valence_arousal",
        "model_versions",
    ):
        assert terminal[key] == api[key], key
    fields = ("rank", "track_id", "name", "artists", "distance")
    assert terminal["tracks"] == [{k: t[k] for k in fields} for t in api["tracks"]]
    assert len(terminal["tracks"]) == 5 and terminal["top_emotions"][0]["code"] == "sorrow"


def test_analyze_image_json_is_the_api_reading_of_the_photo(svc, stack_env, capsys, tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    assert cli.main(["analyze-image", str(photo), "--json"]) == 0
    captured = capsys.readouterr()
    _clean(captured)
    terminal = json.loads(captured.out)
    api = (
        svc["client"]
        .post(
            "/recommend_image",
            files={"image": ("astronaut.jpg", photo.read_bytes(), "image/jpeg")},
            data={"k": "3"},
        )
        .json()
    )
    assert (terminal["width"], terminal["height"]) == (api["width"], api["height"])
    assert len(terminal["faces"]) == len(api["faces"]) == 1
    assert terminal["faces"][0]["box"] == api["faces"][0]["box"] and terminal["faces"][0]["top"] == "happy"
    assert terminal["faces"][0]["expressions"] == pytest.approx(api["faces"][0]["expressions"], abs=1e-6)
    assert terminal["emotion"] == pytest.approx(api["emotion"], abs=1e-6)
    assert terminal["model_version"] == api["model_versions"]["moodtune-face"]


# --- the commands that ask the running service: the local path's output and errors ------------------


def _both(argv, svc, capsys) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(code, stdout, stderr) of ``argv`` answered by the service, then by the local models."""
    runs = []
    for where in (svc["url"], "local"):
        code = cli.main([*argv, "--service", where])
        captured = capsys.readouterr()
        runs.append((code, captured.out, captured.err))
    return runs[0], runs[1]


def test_recommend_through_the_service_prints_what_the_local_path_prints(svc, stack_env, capsys):
    ids = _ids(svc, 10, seed=7)
    song = str(_catalog_clip(svc)[1])  # an uploaded file beside the ids: multipart
    argv = ["recommend", *ids[:6], song, "--age", "35", "--gender", "male", "--mood", "1", "-k", "4"]
    (rcode, remote, rerr), (lcode, local, lerr) = _both(argv, svc, capsys)
    assert rcode == lcode == 0, rerr + lerr
    assert rerr == f"moodtune: answered by the service at {svc['url']}\n"
    assert lerr == "moodtune: answered by the local models (--service is local)\n"
    *rlines, rlast = remote.splitlines()
    *llines, llast = local.splitlines()
    assert rlines == llines and len(rlines) == 2 + 4 and "upload-" in remote  # only the ids differ
    assert rlast.split()[:1] == llast.split()[:1] == ["recommendation"] and rlast != llast
    (rcode, remote, _), (lcode, local, _) = _both([*argv, "--json"], svc, capsys)
    remote, local = json.loads(remote), json.loads(local)
    assert [{k: t[k] for k in COMPARED} for t in remote["tracks"]] == [
        {k: t[k] for k in COMPARED} for t in local["tracks"]
    ]
    api = (
        svc["client"]
        .post("/recommend", json={"track_ids": ids[:6], "age": 35, "gender": "male", "mood": 1, "k": 4})
        .json()
    )
    assert set(remote) == set(api)  # the API's answer as it is
    # the service's recommendation takes feedback from the terminal, through the service
    track = remote["tracks"][0]["track_id"]
    assert (
        cli.main(
            [
                "feedback",
                remote["recommendation_id"],
                track,
                "--stress",
                "medium",
                "--json",
                "--service",
                svc["url"],
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out)
    assert (row["recommendation_id"], row["track_id"], row["stress_level"]) == (
        remote["recommendation_id"],
        track,
        "medium",
    )
    assert row["choice_probability"] == pytest.approx(remote["tracks"][0]["probability"], abs=1e-6)


def test_feedback_with_hrv_through_the_service_prints_what_the_local_path_prints(
    svc, stack_env, capsys, tmp_path
):
    from moodtune.hrv.simulate import simulate_rr

    ids = _ids(svc, 5, seed=9)
    rr = tmp_path / "rr.txt"
    np.savetxt(rr, simulate_rr(0.3, 300, np.random.default_rng(6)), fmt="%.1f")
    rec = (
        svc["client"]
        .post("/recommend", json={"track_ids": ids, "age": 50, "gender": "female", "mood": 3, "k": 2})
        .json()
    )
    outputs = []
    for where, track in ((svc["url"], ids[0]), ("local", ids[1])):
        assert (
            cli.main(["feedback", rec["recommendation_id"], track, "--hrv", str(rr), "--service", where]) == 0
        )
        outputs.append(capsys.readouterr().out.splitlines())
    (r_stored, *r_reading), (l_stored, *l_reading) = outputs
    assert r_reading == l_reading and len(r_reading) == 2  # the same reading of the same file
    assert r_stored.split("#")[0] == l_stored.split("#")[0] == "stored feedback "
    assert r_stored.split(":", 1)[1] == l_stored.split(":", 1)[1]


def test_service_errors_are_the_local_errors(svc, stack_env, capsys, tmp_path):
    ids = _ids(svc, 3, seed=2)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    for argv in (
        ["recommend", *ids, "no-such-track", "--age", "30", "--gender", "female", "--mood", "3"],
        ["recommend", *ids, "--age", "30", "--gender", "female", "--mood", "9"],
        ["recommend", *ids, "--age", "30", "--gender", "female", "--mood", "3", "-k", "0"],
        ["recommend", *ids, str(not_audio), "--age", "30", "--gender", "female", "--mood", "3"],
        ["feedback", "0" * 32, ids[0], "--stress", "low"],
        ["feedback", "not-an-id", ids[0], "--stress", "low"],
        ["feedback", "0" * 32, ids[0], "--hrv", str(tmp_path / "missing.txt")],
        ["recommend-text", "   "],
    ):
        (rcode, rout, rerr), (lcode, lout, lerr) = _both(argv, svc, capsys)
        assert (rcode, rout, rerr) == (lcode, lout, lerr) == (2, "", rerr), argv
        assert rerr.startswith(f"moodtune {argv[0]}: error: ") and rerr.count("\n") == 1, rerr


def test_catalog_and_text_through_the_service_print_what_the_local_path_prints(svc, stack_env, capsys):
    for argv in (
        ["catalog"],
        ["catalog", "-n", "0", "--ids"],
        ["catalog", "sadness", "-n", "3", "--json"],
        ["catalog", "no-such-thing"],
        ["recommend-text", "想念你，好难过，心里很伤心", "-k", "5"],
        ["recommend-text", "今天很开心，阳光真好", "--json"],
    ):
        (rcode, remote, rerr), (lcode, local, _) = _both(argv, svc, capsys)
        assert rcode == lcode == 0, rerr
        assert remote == local and remote.strip(), argv
        assert rerr == f"moodtune: answered by the service at {svc['url']}\n"


# --- analyze-audio, analyze-image, analyze-hrv through the service: the API's answer, printed ------


def _served(argv, svc, capsys) -> tuple[int, str, str]:
    code = cli.main([*argv, "--service", svc["url"]])
    captured = capsys.readouterr()
    _clean(captured)
    return code, captured.out, captured.err


def test_analyze_audio_through_the_service_is_the_api_answer(svc, stack_env, capsys):
    from pathlib import Path

    _, path = _catalog_clip(svc)
    code, out, err = _served(["analyze-audio", path, "--json"], svc, capsys)
    assert code == 0 and err == f"moodtune: answered by the service at {svc['url']}\n"
    terminal = json.loads(out)
    api = (
        svc["client"]
        .post("/analyze_audio", files={"file": (Path(path).name, Path(path).read_bytes())})
        .json()
    )
    assert terminal == {
        "file": path,
        "model_version": api["model_versions"]["moodtune-audio"],
        "genre": api["genre"],
        "genres": api["genres"],
        "emotions": api["emotions"],
    }  # as the API gives them (4 decimals)
    (rcode, remote, _), (lcode, local, lerr) = _both(["analyze-audio", path], svc, capsys)
    assert rcode == lcode == 0 and remote == local and len(remote.splitlines()) == 3, lerr


def test_analyze_image_through_the_service_is_the_api_reading(svc, stack_env, capsys, tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    code, out, err = _served(["analyze-image", str(photo), "--json"], svc, capsys)
    assert code == 0 and err == f"moodtune: answered by the service at {svc['url']}\n"
    terminal = json.loads(out)
    api = (
        svc["client"]
        .post(
            "/recommend_image",
            files={"image": ("astronaut.jpg", photo.read_bytes())},
            data={"mode": "match", "k": "1"},
        )
        .json()
    )
    for key in ("message", "width", "height", "faces", "emotion", "emotion_coarse", "valence", "arousal"):
        assert terminal[key] == api[key], key
    assert terminal["model_version"] == api["model_versions"]["moodtune-face"] and terminal["found"]
    assert [t["code"] for t in terminal["top_emotions"][:3]] == [t["code"] for t in api["top_emotions"]]
    (rcode, remote, _), (lcode, local, lerr) = _both(["analyze-image", str(photo)], svc, capsys)
    assert rcode == lcode == 0 and remote == local and "face 1:" in remote, lerr
    # a photo without a face: the service refuses it (422); the terminal says so, exit code 1 as locally
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
    (rcode, remote, rerr), (lcode, local, _) = _both(["analyze-image", str(blank)], svc, capsys)
    assert rcode == lcode == 1 and remote.splitlines()[-1] == local.splitlines()[-1], (remote, local)
    assert remote.splitlines()[-1].startswith("no person found") and "answered by the service" in rerr


def test_analyze_hrv_through_the_service_is_the_api_reading(svc, stack_env, capsys, tmp_path):
    from moodtune.hrv.constants import METRIC_COLUMNS
    from moodtune.hrv.simulate import simulate_rr

    rng = np.random.default_rng(8)
    rr, rest = tmp_path / "rr.txt", tmp_path / "rest.txt"
    np.savetxt(rr, simulate_rr(0.7, 300, rng), fmt="%.1f")
    np.savetxt(rest, simulate_rr(0.1, 300, rng), fmt="%.1f")
    code, out, err = _served(["analyze-hrv", str(rr), "--baseline", str(rest), "--json"], svc, capsys)
    assert code == 0 and err == f"moodtune: answered by the service at {svc['url']}\n"
    (row,) = [json.loads(line) for line in out.splitlines()]
    api = (
        svc["client"]
        .post(
            "/analyze_hrv",
            files={"file": ("rr.txt", rr.read_bytes()), "baseline": ("rest.txt", rest.read_bytes())},
        )
        .json()
    )
    assert row["level"] == api["level"] and {m: row[m] for m in METRIC_COLUMNS} == api["metrics"]
    assert {lvl: round(row[f"p_{lvl}"], 6) for lvl in ("low", "medium", "high")} == api["probabilities"]
    assert {k: row[k] for k in api["recording"]} == api["recording"] and "dlog_RMSSD" in row
    # the printed lines are the local ones: a recording, against a baseline, and a two-row metrics CSV
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        ",".join(METRIC_COLUMNS) + "\n850,55,70.5,38,18,900,700,650\n700,30,85.7,18,3,600,900,300\n"
    )
    one_row = tmp_path / "one.csv"
    one_row.write_text("\n".join(metrics.read_text().splitlines()[:2]) + "\n")
    for argv in (
        ["analyze-hrv", str(rr)],
        ["analyze-hrv", str(rr), "--baseline", str(rest)],
        ["analyze-hrv", str(metrics)],
        ["analyze-hrv", str(one_row), "--json"],
    ):
        (rcode, remote, rerr), (lcode, local, _) = _both(argv, svc, capsys)
        assert rcode == lcode == 0 and remote == local and remote.strip(), argv
        assert rerr == f"moodtune: answered by the service at {svc['url']}\n", argv
    # what the service answers otherwise (each row's metrics; metrics against a baseline) the local model
    # reads, and says why
    for argv, why in (
        (["analyze-hrv", str(metrics), "--json"], "the service returns the mean metrics of the 2 rows"),
        (["analyze-hrv", str(metrics), "--baseline", str(rest)], "the service gives no per-row changes"),
    ):
        code, out, err = _served(argv, svc, capsys)
        assert code == 0 and out.strip(), out
        assert err.startswith(f"moodtune: answered by the local models ({why}"), err


def test_analyze_errors_through_the_service_are_the_api_message_and_exit_2(svc, stack_env, capsys, tmp_path):
    bad = {
        "analyze-audio": ("/analyze_audio", "file", "notes.wav"),
        "analyze-image": ("/recommend_image", "image", "notes.jpg"),
        "analyze-hrv": ("/analyze_hrv", "file", "notes.txt"),
    }
    for name, (endpoint, field, filename) in bad.items():
        path = tmp_path / filename
        path.write_text("not what it says\n")
        code, out, err = _served([name, str(path)], svc, capsys)
        api = svc["client"].post(
            endpoint,
            files={field: (filename, path.read_bytes())},
            data={"mode": "match", "k": "1"} if name == "analyze-image" else None,
        )
        assert api.status_code == 422, api.text
        # analyze-audio reads each file in turn (the note, then an error line per bad file); the others stop
        assert (code, out) == (2, "") and err.splitlines()[
            -1
        ] == f"moodtune {name}: error: {api.json()['error']}", (name, err)
