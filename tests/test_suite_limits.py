"""The suite's own guard rails: a hung test fails with every thread's stack instead of holding up
CI (pytest-timeout, thread method, pyproject.toml), and the order is random (pytest-randomly)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_suite_has_a_per_test_limit_and_a_random_order():
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < int(ini["timeout"]) <= 600 and ini["timeout_method"] == "thread"
    import pytest_randomly  # noqa: F401  (the plugin is installed, so the order is shuffled)


def test_a_hung_test_fails_with_its_stack_within_the_limit(tmp_path):
    """A test blocked on a lock nobody releases (the shape of the Pool hang) fails after the
    limit, and the report shows where it was blocked."""
    (tmp_path / "test_hang.py").write_text(
        "import threading\n\ndef test_blocked_forever():\n    threading.Lock().acquire() or None\n"
        "    lock = threading.Lock(); lock.acquire(); lock.acquire()\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=3",
            str(tmp_path / "test_hang.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Timeout" in out and "Stack of" in out and "lock.acquire()" in out, out[-3000:]
