"""Worker processes: how many a step may start, and the one kind of pool moodtune starts."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def worker_count(requested: int, jobs: int | None = None) -> int:
    """``requested`` workers, at most one per job and at least one; 1 inside a daemonic process
    (a Celery worker's task process may not have children, so the work runs in it)."""
    n = max(1, int(requested))
    if jobs is not None:
        n = min(n, max(1, jobs))
    return 1 if multiprocessing.current_process().daemon else n


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes: fresh interpreters, never forked copies of one
    whose torch or OpenMP threads run (a forked OpenMP runtime can hang)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
