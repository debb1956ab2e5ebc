"""The command line's own behaviour (no models): --json on every command, errors as one line,
the playlist split and the score words shared with the service."""

from __future__ import annotations

import json
import os

import pytest

from moodtune import cli
from moodtune.serving.cli import split_playlist
from moodtune.serving.engine import first_pick_words, match_percent


@pytest.fixture(autouse=True)
def _cli_environment(monkeypatch):
    """main() quiets the libraries through the environment: restore it after each test."""
    for key in ("MLFLOW_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(key, os.environ.get(key, "ERROR" if key.startswith("MLFLOW") else "3"))


def test_every_command_takes_json():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"recommend", "feedback", "taxonomy", "settings"} <= set(sub.choices)
    for name, p in sub.choices.items():
        assert any("--json" in a.option_strings for a in p._actions), name


def test_json_output_of_native_and_wrapped_commands(capsys):
    assert cli.main(["taxonomy", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"taxonomy", "label", "dlut_code", "weight"} <= set(rows[0])
    assert any(r["dlut_chinese"] == "快乐" for r in rows)  # Chinese kept as is, not \\u escapes

    @cli.command("echo-lines", "test only", lambda p: p.add_argument("word"))
    def _echo(args):
        print(f"one {args.word}")
        print("two")
        return 0

    try:
        assert cli.main(["echo-lines", "x", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"command": "echo-lines", "lines": ["one x", "two"]}
        assert cli.main(["echo-lines", "y"]) == 0
        assert capsys.readouterr().out == "one y\ntwo\n"
    finally:
        cli._COMMANDS.pop("echo-lines")


def test_recommend_needs_the_listener(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["recommend", "t1"])
    assert exc.value.code == 2 and "--age" in capsys.readouterr().err


def test_playlist_items_are_files_or_catalog_ids(tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    ids, files = split_playlist([str(song), "track-7", "track-9"])
    assert ids == ["track-7", "track-9"] and files == [song]


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (0.0, "the policy would rarely pick it first (less than a 1 in 100 chance)"),
        (0.0049, "the policy would rarely pick it first (less than a 1 in 100 chance)"),
        (0.006, "the policy picks it first 1% of the time"),
        (0.234, "the policy picks it first 23% of the time"),
        (0.9999, "the policy is all but certain to pick it first"),
    ],
)
def test_first_pick_in_words(p, words):
    assert first_pick_words(p) == words
    assert "0.00" not in first_pick_words(p)


def test_match_is_the_score_on_0_to_100_within_the_playlist():
    assert [match_percent(s, -2.0, 0.5) for s in (0.5, -2.0, -0.75)] == [100, 0, 50]
    assert match_percent(1.0, 1.0, 1.0) == 100  # one song, or all equal


def test_loading_shows_a_spinner_on_a_terminal_only(monkeypatch):
    import io
    import sys
    import time

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli.loading("loading the audio model"):
        time.sleep(0.3)
    assert "loading the audio model…" in terminal.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with cli.loading("loading the audio model"):
        time.sleep(0.1)
    assert pipe.getvalue() == ""  # piped or --json: nothing but the answer


# What `moodtune --help`, a command's --help and an argument error must not import (issue #31:
# they took 4-6 s, nearly all of it importing these): each loads in the command that needs it.
HEAVY_MODULES = (
    "mlflow",
    "torch",
    "dagster",
    "bentoml",
    "librosa",
    "sklearn",
    "pandas",
    "scipy",
    "cv2",
    "catboost",
    "neurokit2",
    "jieba",
)

_IMPORTS_AFTER = """
import contextlib, io, json, sys
import moodtune.cli as cli
for argv in sys.argv[1:]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli.main(json.loads(argv))
        except SystemExit:
            pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.slow  # starts a Python process: sys.modules of a fresh interpreter
def test_help_and_argument_errors_import_no_heavy_library():
    import subprocess
    import sys

    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    argvs = [["--help"], ["recommend", "t1"], ["no-such-command"]] + [
        [c, "--help"] for c in sorted(sub.choices)
    ]
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS_AFTER, *map(json.dumps, argvs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert not loaded & set(HEAVY_MODULES), (
        f"imported by --help or a usage error: {sorted(loaded & set(HEAVY_MODULES))}"
    )


def test_catalog_lists_the_ids_recommend_takes(settings, capsys):
    import numpy as np
    import pandas as pd

    from moodtune.serving.catalog import SONG_COLUMNS, build_catalog, catalog_dir, save_catalog

    ids = ["debian:pkg:calm", "debian:pkg:storm", "demo-rock-tension-000"]
    clips = pd.DataFrame(
        {
            "track_id": ids,
            "path": "",
            "title": ["Calm Sea", "Storm", ""],
            "artist": "a",
            "genre": "rock",
            "source": ["debian", "debian", "demo"],
        }
    )
    predicted = pd.DataFrame(np.full((3, len(SONG_COLUMNS)), 0.25), index=ids, columns=list(SONG_COLUMNS))
    save_catalog(*build_catalog(clips, predicted, None, model_versions={}), catalog_dir(settings))

    assert cli.main(["catalog", "--ids"]) == 0
    assert capsys.readouterr().out.split() == ids
    assert cli.main(["catalog", "STORM", "--json"]) == 0  # the page's search: any value, any case
    answer = json.loads(capsys.readouterr().out)
    assert answer["total"] == 1 and answer["tracks"][0]["track_id"] == "debian:pkg:storm"
    assert cli.main(["catalog", "-n", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0].startswith("debian:pkg:calm  Calm Sea — a")
        and lines[-1] == "1 of 3 track(s) (-n 0 lists them all)"
    )
    assert cli.main(["catalog", "-n", "-1"]) == 2 and "-n" in capsys.readouterr().err
