"""Processes that die with the process that started them (Linux ``PR_SET_PDEATHSIG``).

BentoML's workers each run in their own process group, so killing the arbiter (``bentoml
serve``) or its group left them serving, unsupervised, on the port. Each worker asks the
kernel for SIGTERM when its parent dies (:func:`die_with_parent`, called when the service
instance is built); the test and benchmark harness (:mod:`bento.testing`) does the same for the
``bentoml serve`` it starts, so a test run that is itself killed leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Have the kernel send ``sig`` to this process when its parent exits. ``parent``: the
    pid the caller expects as its parent; if it is already gone (the parent died before the
    request took effect) this process signals itself at once. Returns whether it is in place
    (``False`` off Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if (parent is not None and os.getppid() != parent) or os.getppid() == 1:  # orphaned already
        os.kill(os.getpid(), sig)
    return True


def child_dies_with_us(sig: int = signal.SIGTERM):
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets ``sig`` when the process
    that started it exits (however it exits, SIGKILL included)."""
    parent = os.getpid()

    def preexec() -> None:
        os.setsid()  # its own session and process group, as start_new_session=True gives
        die_with_parent(sig, parent)

    return preexec
