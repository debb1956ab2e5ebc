"""Start the real service in a subprocess (``bentoml serve`` on a free port), for the tests and
the benchmark: the champions are imported first (``python -m bento.models``), readiness is
``/readyz``, and the whole process group is stopped at the end. The service gets SIGTERM when
the process that started it dies (a test run stopped by a CI limit or ``timeout`` included),
and its workers die with it (:mod:`bento.lifecycle`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bento.lifecycle import child_dies_with_us

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_table(port: int) -> dict[int, str]:
    """Socket inode -> TCP state (hex, as in /proc/net/tcp) of the sockets whose local port is ``port``."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                table[int(fields[9])] = fields[3]
    return table


def listening_sockets(port: int) -> int:
    """How many TCP sockets listen on ``port`` (Linux /proc)."""
    return sum(1 for state in _tcp_table(port).values() if state == "0A")


def connections_by_process(pids, port: int) -> dict[int, int]:
    """Established TCP connections on local ``port`` held by each of ``pids`` (Linux /proc):
    which worker serves how many clients."""
    established = {inode for inode, state in _tcp_table(port).items() if state == "01"}
    counts = {}
    for pid in pids:
        inodes = set()
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except OSError:
            continue
        counts[pid] = len(inodes & established)
    return counts


def sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite database through its backup API (consistent even while it is open, WAL included)."""
    import sqlite3

    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def copy_stores(data_dir: Path, mlflow_db: Path, dest: Path) -> None:
    """A private copy of a stack's stores in ``dest``: the data dir (stored outputs, catalog,
    feedback database) as ``dest/data`` and the MLflow database as ``dest/mlflow.db``, so a test
    or a drill may move champions and write feedback without the original seeing it. Artifacts
    stay where they are: runs in the copy write under new run ids, and nothing rewrites an
    existing artifact."""
    import shutil

    databases = ("*.db", "*.db-wal", "*.db-shm", "*.lock")
    shutil.copytree(data_dir, dest / "data", ignore=shutil.ignore_patterns(*databases))
    for db in Path(data_dir).rglob("*.db"):
        sqlite_copy(db, dest / "data" / db.relative_to(data_dir))
    sqlite_copy(mlflow_db, dest / "mlflow.db")


def import_models(env: Mapping[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m bento.models`` with ``env``, run in ``cwd`` as :class:`ServiceProcess` is
    (raises with its output when it fails)."""
    done = subprocess.run(
        [sys.executable, "-m", "bento.models"],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"python -m bento.models failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


class ServiceProcess:
    """``bentoml serve bento.service:Moodtune`` on 127.0.0.1:<port>, output in ``log_path``; run
    in ``cwd`` (by default this repository; a copy serves its own code when ``env``'s
    ``PYTHONPATH`` names it too)."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None, cwd: Path = ROOT):
        self.env = dict(env)
        self.cwd = Path(cwd)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "bento.service:Moodtune",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_dies_with_us(),
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.url} not ready after {timeout:.0f} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
