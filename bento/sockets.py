"""One listening socket per BentoML worker, so the kernel spreads connections evenly.

BentoML 1.4.39 hands every HTTP worker the same listening socket (circus binds it once and
passes its fd). Whichever worker's event loop wakes first accepts, so a burst of keep-alive
connections can land mostly on one worker: one core then serves most of the clients while the
other idles, and those clients see two to three times the latency.

:func:`per_worker_sockets` changes two things in the circus arbiter that ``bentoml serve``
runs in-process:

* the API server's socket is bound with ``SO_REUSEPORT`` but never listens: it only reserves
  the port. A port already in use still fails at start-up, also when the holder set
  ``SO_REUSEPORT`` itself (another moodtune on that port): the port is first bound without it;
* each worker process gets its own socket bound to that address with ``SO_REUSEPORT`` and
  listening; Linux then hashes each new connection to one of the listening sockets.

As with any ``SO_REUSEPORT`` listener, a process of the same user that sets the option too
could join the group; the kernel refuses it to other users and to sockets without it.

Circus has this feature itself (``so_reuseport``), but it only triggers when the socket is
named in the watcher's ``cmd``, and BentoML names it in ``args``. Platforms without
``SO_REUSEPORT`` keep the shared socket.
"""

from __future__ import annotations

import socket

API_SOCKET = "_bento_api_server"  # the name BentoML gives the HTTP socket in circus


def _per_worker(sock) -> bool:
    return (getattr(sock, "name", None) == API_SOCKET and sock.family in (socket.AF_INET, socket.AF_INET6)
            and sock.type == socket.SOCK_STREAM)


def worker_socket(address: tuple, family: int, backlog: int) -> socket.socket:
    """A non-blocking, inheritable TCP socket listening on ``address`` with ``SO_REUSEPORT``."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def per_worker_sockets() -> bool:
    """Patch circus (once per process) so each BentoML HTTP worker listens on its own
    ``SO_REUSEPORT`` socket. Returns whether the patch is in place."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    from circus.process import Process
    from circus.sockets import CircusSocket

    if getattr(Process._get_sockets_fds, "moodtune_per_worker", False):
        return True
    bind_and_listen = CircusSocket.bind_and_listen
    get_sockets_fds = Process._get_sockets_fds

    def reserve_port(self):
        if not _per_worker(self):
            return bind_and_listen(self)
        try:
            with socket.socket(self.family, socket.SOCK_STREAM) as probe:  # is anyone on the port?
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((self.host, self.port))
            self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.bind((self.host, self.port))
        except OSError as e:
            raise OSError(e.errno, f"cannot serve on {self.host}:{self.port}: {e.strerror} "
                                   "(choose another --port, or stop what holds it)") from e
        self.setblocking(False)

    def own_socket_fds(self):
        fds = get_sockets_fds(self)
        shared = (self.watcher.sockets or {}).get(API_SOCKET) if self.watcher is not None else None
        if fds and shared is not None and API_SOCKET in fds and _per_worker(shared):
            own = worker_socket(shared.getsockname(), shared.family, shared.backlog)
            fds[API_SOCKET] = own.fileno()
            self._sockets.append(own)  # circus drops (and so closes) these once the worker is forked
        return fds

    own_socket_fds.moodtune_per_worker = True
    CircusSocket.bind_and_listen = reserve_port
    Process._get_sockets_fds = own_socket_fds
    return True
