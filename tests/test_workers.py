"""The one worker-count rule: capped by the jobs, and 1 inside a daemonic process (a Celery
worker's task process may not have children)."""

from __future__ import annotations

import multiprocessing

from moodtune.workers import spawn_pool, worker_count


def _count_in_child(queue) -> None:
    queue.put(worker_count(4, 10))


def test_worker_count_is_capped_by_jobs_and_at_least_one():
    assert worker_count(4, 10) == 4
    assert worker_count(4, 2) == 2
    assert worker_count(0, 5) == 1 and worker_count(3, 0) == 1


def test_a_daemonic_process_gets_one_worker():
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_count_in_child, args=(queue,), daemon=True)
    child.start()
    assert queue.get(timeout=60) == 1
    child.join(timeout=60)


def test_spawn_pool_runs_jobs_in_other_processes():
    import os

    with spawn_pool(2) as pool:
        pids = set(pool.map(_pid, range(4)))
    assert os.getpid() not in pids


def _pid(_job) -> int:
    import os

    return os.getpid()
