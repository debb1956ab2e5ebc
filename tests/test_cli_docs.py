"""Every ``moodtune`` command the docs show runs, against the running service.

The lines of a fenced code block in README.md and docs/*.md that run ``moodtune`` (at the start
of the line, as ``.venv/bin/moodtune``, or inside ``$(…)``/``<(…)``) are run in order, one bash
per block, in a folder that links the test stack's ``data/`` and the project's ``.venv/`` and
holds the example files the docs name (:func:`example_files`), with the shared test service as
``MOODTUNE_SERVICE_URL``. Each must exit 0 and print something; the commands with a service path
must say the service answered (docs/serving.md, "The command line").
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNS_MOODTUNE = re.compile(r"^(\.venv/bin/)?moodtune\s|[$<]\((\.venv/bin/)?moodtune\s")
ASSIGNS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")  # a shell variable the block's commands use
SERVED = {
    "recommend",
    "feedback",
    "catalog",
    "recommend-text",
    "analyze-audio",
    "analyze-image",
    "analyze-hrv",
}  # the commands that ask the service
# a line that asks for another model than the champion: the local models answer
LOCAL_ONLY = re.compile(r"--service local|--model (package|challenger)|--alias (?!champion)")


def doc_blocks() -> list[tuple[str, list[tuple[int, str]]]]:
    """(``file:line`` of the block, its lines that run ``moodtune`` or set a shell variable, with
    their line numbers) per code block that runs ``moodtune``."""
    blocks = []
    for path in DOCS:
        fence, lines, start = None, [], 0
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                if fence is None:
                    fence, lines, start = stripped, [], n
                else:
                    if any(RUNS_MOODTUNE.search(text) for _, text in lines):
                        blocks.append((f"{path.relative_to(ROOT)}:{start}", lines))
                    fence = None
            elif fence is not None and (RUNS_MOODTUNE.search(stripped) or ASSIGNS.match(stripped)):
                lines.append((n, stripped))
    return blocks


BLOCKS = doc_blocks()


def test_the_docs_show_moodtune_commands():
    files = {where.split(":")[0] for where, _ in BLOCKS}
    assert {
        "README.md",
        "docs/serving.md",
        "docs/audio.md",
        "docs/hrv.md",
        "docs/image.md",
        "docs/text.md",
    } <= files
    assert sum(bool(RUNS_MOODTUNE.search(text)) for _, lines in BLOCKS for _, text in lines) >= 15


def _subcommand(line: str) -> str | None:
    words = [w for w in re.split(r"\s+", line) if w]
    for i, w in enumerate(words):
        if w.endswith("moodtune") or w.endswith("(moodtune"):
            return next((x for x in words[i + 1 :] if not x.startswith("-")), None)
    return None


def example_files(work: Path, data_dir: Path) -> None:
    """The files the docs' examples name, made in ``work``."""
    import soundfile as sf
    from PIL import Image
    from skimage import data

    from moodtune.hrv.constants import METRIC_COLUMNS
    from moodtune.hrv.simulate import simulate_rr

    rng = np.random.default_rng(31)
    rr = {
        name: simulate_rr(stress, 300, rng)
        for name, stress in (("rr.txt", 0.5), ("now.txt", 0.8), ("resting.txt", 0.1))
    }
    for name, values in rr.items():
        np.savetxt(work / name, values, fmt="%.1f")
    beats = np.cumsum(rr["rr.txt"]) / 1000.0
    for name, rate, width, header in (
        ("strap.csv", 250.0, 0.01, "# sampling_rate: 250\necg\n"),
        ("watch.csv", 64.0, 0.12, "ppg\n"),
    ):
        t = np.arange(0, beats[-1] + 1, 1 / rate)
        x = rng.normal(0, 0.01, t.size)
        for b in beats:  # an R wave (ECG) or a pulse (PPG) per beat
            x += np.exp(-0.5 * ((t - b) / width) ** 2)
        (work / name).write_text(header + "\n".join(f"{v:.4f}" for v in x) + "\n")
    rows = [[850, 55, 70.5, 38, 18, 900, 700, 650], [700, 30, 85.7, 18, 3, 600, 900, 300]]
    (work / "metrics.csv").write_text(
        ",".join(METRIC_COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    )
    clips = sorted((data_dir / "audio" / "clips").rglob("*.flac"))
    assert len(clips) >= 2, "the test stack has no demo clips"
    for clip, name in ((clips[0], "song.mp3"), (clips[-1], "other.wav")):
        audio, rate = sf.read(clip)
        sf.write(work / name, audio, rate)
    Image.fromarray(data.astronaut()).save(work / "photo.jpg", quality=92)


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): the docs' writes are a few rows of their own."""
    return _shared_service


@pytest.fixture(scope="module")
def docs_env(service_stack, tmp_path_factory):
    work = tmp_path_factory.mktemp("docs_examples")
    data_dir = Path(service_stack["settings"].data_dir)
    (work / "data").symlink_to(data_dir)
    (work / ".venv").symlink_to(ROOT / ".venv")
    example_files(work, data_dir)
    env = {
        **service_stack["env"],
        "MOODTUNE_SERVICE_URL": service_stack["url"],
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "MLFLOW_LOGGING_LEVEL": "ERROR",
    }
    return work, env


@pytest.mark.parametrize(("where", "lines"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_every_moodtune_line_of_the_docs_runs(docs_env, where, lines, tmp_path):
    work, env = docs_env
    out = tmp_path / "out"
    out.mkdir()
    script = ["set -uo pipefail"]
    for i, (_, line) in enumerate(lines):
        code = line.split("  #")[0].strip()  # the docs' comments are two spaces away
        # each line's own output and exit code; a failing line stops the block
        script.append(
            f"{{ {code}\n}} > {shlex.quote(str(out / f'{i}.out'))} 2> {shlex.quote(str(out / f'{i}.err'))}; "
            f"echo $? > {shlex.quote(str(out / f'{i}.rc'))}; "
            f'[ "$(cat {shlex.quote(str(out / f"{i}.rc"))})" = 0 ] || exit 1'
        )
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    for i, (n, line) in enumerate(lines):
        rc_file = out / f"{i}.rc"
        assert rc_file.exists(), f"{where}: line {n} did not run: {line}\n{done.stderr[-2000:]}"
        stdout, stderr = (out / f"{i}.out").read_text(), (out / f"{i}.err").read_text()
        assert rc_file.read_text().strip() == "0", f"{where.split(':')[0]}:{n}: {line}\n{stderr[-3000:]}"
        assert "Traceback" not in stderr, stderr[-3000:]
        if not (line.startswith("mapfile") or ASSIGNS.match(line) or " > " in line):
            assert stdout.strip(), f"{where.split(':')[0]}:{n}: {line} printed nothing"
        if _subcommand(line) in SERVED and not LOCAL_ONLY.search(line):
            assert f"answered by the service at {env['MOODTUNE_SERVICE_URL']}" in stderr, (line, stderr)
    assert done.returncode == 0, done.stderr[-2000:]
