"""One thread for the native pools (BLAS, OpenMP) around small numeric work.

Used where the summation order must not depend on where the work runs (audio features: the
cache and the CLI rely on it) and where threads cost more than they give (small sklearn calls).

On a busy 2-core machine the pools' spin-waits dominate small calls: a HistGradientBoosting
predict on 8 rows took 17 ms with sklearn's OpenMP threads and 0.9 ms with one, its fit on
20,000 rows 3.8 s against 0.26 s (measured at load 6.5).
"""

from __future__ import annotations

import sys
from typing import Any

_found: tuple[int, Any] | None = None  # (len(sys.modules) when scanned, threadpoolctl's controller)


def one_thread():
    """A context manager limiting every loaded BLAS/OpenMP pool to one thread (cheap to enter).

    threadpoolctl finds the pools by scanning the loaded libraries (milliseconds): the scan is
    kept and redone only after new modules were imported (which may have loaded a pool)."""
    global _found
    if _found is None or _found[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
        _found = (len(sys.modules), controller)
    return _found[1].limit(limits=1)


def single_threaded_pools() -> None:
    """Limit every BLAS/OpenMP pool loaded so far to one thread for the rest of the process.

    For the service's workers (one per core, many small requests at once): the policy scoring a
    whole catalog (333 x 64 matmuls) made OpenBLAS wake its threads on every request, and their
    spin-waits across two workers cost ~16 ms of CPU per ``/recommend_text``: 96 req/s against
    647 with one thread (``benchmarks/service.py``, 50 clients, 2026-12-06)."""
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().limit(limits=1)  # not a context manager: the limit stays
