"""Every change moodtune makes to BentoML's and circus's private internals, in one place.

BentoML is pinned (``bentoml==1.4.39``, which pins its circus); each patch checks that version
and that what it replaces exists, and :func:`apply` raises :class:`PatchError` at start-up
when either does not hold, so an upgrade fails loudly instead of silently serving without a
fix. Each patch is idempotent, and ``MOODTUNE_BENTO_PATCHES_OFF`` (comma-separated names)
leaves some out, for the benchmark that measures what each buys (``benchmarks/service.py
--without NAME``).

* ``error_answers`` (:func:`error_answers`): request errors answer in the service's one error
  shape: a body that does not match the request model is 422 naming every problem (BentoML:
  400 with a list); a body that cannot be parsed (bad JSON, multipart without a boundary, a
  part without headers) is 400 (BentoML turned Starlette's 400 into a 500); a media type other
  than JSON or multipart is 415 (BentoML read it as JSON), and so is multipart where the
  operation takes no file and JSON where its file is required (as the OpenAPI lists them); a
  repeated JSON key or multipart field, a file under a name that takes none and a multipart body
  cut off before its closing boundary are refused naming what is wrong (BentoML kept the last
  value, failed to decode the file as text, or read the cut-off form as fields missing). Each
  error answer is logged in one line by :mod:`bento.requestlog` (BentoML: a traceback at ERROR
  per bad request).
* ``refuse_remote_files`` (:func:`refuse_remote_files`): BentoML's multipart parser downloads a
  file field given as a URL; moodtune never fetches what a client names (a security fix, no
  speed figure).
* ``request_timeout`` (:class:`RequestTimeout`): BentoML's ``TimeoutMiddleware`` left a 60 s
  timer per request, and full GC passes over ~10,000 of them stalled a worker 15-65 ms.
* ``per_worker_sockets`` (:func:`per_worker_sockets`): one ``SO_REUSEPORT`` listening socket per
  worker; with the shared one a burst of connections landed mostly on one worker (46 of 50;
  per-client means ~19 ms against ~57 ms).
* ``bind_api_methods_once`` (:func:`bind_api_methods_once`): BentoML rebuilt each API method's
  bound caller per request (``inspect.signature``, ~28 µs).

The figures are from ``benchmarks/service.py`` (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import weakref
from collections.abc import Callable

from bento.errors import error_body

BENTOML_VERSION = "1.4.39"
log = logging.getLogger("bentoml.moodtune")  # under "bentoml": BentoML's log configuration shows it


class PatchError(RuntimeError):
    """A patch whose target is not the BentoML/circus it was written for."""


def _require(name: str, owner, attribute: str) -> None:
    import bentoml

    if bentoml.__version__ != BENTOML_VERSION:
        raise PatchError(f"patch {name!r} was written for BentoML {BENTOML_VERSION}, this is "
                         f"{bentoml.__version__}: check bento/patches.py against the new version before serving")
    if not hasattr(owner, attribute):
        raise PatchError(f"patch {name!r}: {getattr(owner, '__name__', owner)}.{attribute} no longer exists in "
                         f"BentoML {bentoml.__version__}; update bento/patches.py")


# --- request errors, in the one error shape (bento/errors.py) -----------------------------------


MEDIA_TYPES = ("application/json", "multipart/form-data")


def _unsupported_media(request):
    content_type = request.headers.get("content-type")
    if content_type is None:
        empty = request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers
        if empty:
            return None  # no body: BentoML reads it as {}
        return error_body(415, "UnsupportedMediaType",
                          "send the body as application/json (or multipart/form-data with files)")
    media = content_type.split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        return error_body(415, "UnsupportedMediaType",
                          f"{media or 'this media type'} is not accepted: send application/json "
                          "(or multipart/form-data with files)")
    return None


def _file_fields(spec) -> tuple[str, ...]:
    return tuple(getattr(spec, "multipart_fields", ()) or ())


def _no_files_here(spec):
    """Multipart on an operation that takes no file: 415 (the OpenAPI lists JSON only)."""
    if _file_fields(spec):
        return None
    return error_body(415, "UnsupportedMediaType", "this endpoint takes no file: send the body as application/json")


def _files_required(spec):
    """JSON on an operation whose file is required (the OpenAPI lists multipart only): 415."""
    fields = getattr(spec, "model_fields", {})
    required = [f for f in _file_fields(spec) if f in fields and fields[f].is_required()]
    if not required:
        return None
    return error_body(415, "UnsupportedMediaType", f"this endpoint takes an uploaded file: send multipart/form-data "
                                                   f"with the file in {required[0]!r} (-F {required[0]}=@path)")


async def _read_form(request):
    """The parsed multipart form, and whether the body ended with its closing boundary
    (Starlette's parser accepts a body cut off before it and drops the part it was in)."""
    import re

    boundary = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
    closing = b"--" + boundary.group(1).encode("latin-1") + b"--" if boundary else None
    tail = bytearray()
    receive = request._receive

    async def watched():
        message = await receive()
        if message.get("type") == "http.request":
            tail.extend(message.get("body", b"")[-(len(closing or b"") + 8):])
            del tail[:-(len(closing or b"") + 8)]
        return message

    request._receive = watched
    try:
        form = await request.form()
    finally:
        request._receive = receive
    complete = closing is None or bytes(tail).rstrip(b"\r\n \t").endswith(closing)
    return form, complete


def _form_problem(form, complete: bool, spec):
    """A multipart form moodtune would otherwise misread: cut off before its closing boundary,
    a file under a name that takes none (or an unknown name), a value field sent twice."""
    from collections import Counter

    from starlette.datastructures import UploadFile

    if not complete:
        return error_body(400, "InvalidBody", "the body cannot be read: the multipart body ends before its closing "
                                              "boundary (it was cut off); send the whole form")
    files = _file_fields(spec)
    fields = getattr(spec, "model_fields", {})
    counts: Counter = Counter()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key not in files:
                what = "takes a value, not a file" if key in fields else "is not a field"
                return error_body(422, "InvalidRequest",
                                  f"{key!r} {what}: upload files as {' or '.join(repr(f) for f in files)}")
        elif key in files:
            return error_body(400, "BadRequest", f"{key!r} takes an uploaded file (multipart/form-data: -F {key}=@path), "
                                                 "not a value; URLs and paths are not fetched")
        else:
            counts[key] += 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        key = repeated[0]
        if _is_list(fields.get(key)):
            return error_body(422, "InvalidRequest",
                              f"{key!r} was sent {counts[key]} times: send a list as one field holding a JSON array, "
                              f"e.g. -F '{key}=[\"a\",\"b\"]' (or send the whole body as JSON)")
        return error_body(422, "InvalidRequest", "each field once: " + ", ".join(
            f"{k!r} was sent {counts[k]} times" for k in repeated))
    return None


def _is_list(info) -> bool:
    from typing import get_args, get_origin

    if info is None:
        return False
    kinds = [info.annotation, *get_args(info.annotation)]
    return any(get_origin(k) is list or k is list for k in kinds) or any(
        get_origin(a) is list for k in kinds for a in get_args(k))


def _repeated_keys(body: bytes) -> list[str] | None:
    """The keys a JSON body repeats within one object (``{"mood": 2, "mood": 3}``), at any depth
    (a JSON parser keeps the last one); ``None`` when the body is not JSON."""
    import json

    repeated: list[str] = []

    def pairs(items):
        seen = set()
        for key, _ in items:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except ValueError:  # not JSON (or a number past Python's digit limit): BentoML's parser answers
        return None
    return repeated


def _duplicate_answer(repeated: list[str]):
    if not repeated:
        return None
    names = ", ".join(repr(k[:60]) for k in repeated[:5])
    return error_body(422, "InvalidRequest", f"the body gives {names} more than once; give each field once")


def _validation_answer(exc, model):
    from moodtune.fields import describe

    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        detail = next(e for e in errors if e["type"] == "json_invalid").get("ctx", {}).get("error", "")
        return error_body(400, "InvalidBody", f"the body is not valid JSON ({detail})")
    return error_body(422, "InvalidRequest", describe(exc, model))


def error_answers() -> None:
    """Wrap ``ServiceAppFactory.api_endpoint`` so request errors answer in the one shape."""
    from _bentoml_impl.server.app import ServiceAppFactory

    _require("error_answers", ServiceAppFactory, "api_endpoint")
    if getattr(ServiceAppFactory.api_endpoint, "moodtune_patched", False):
        return
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException

    from bento.middleware import TooLarge

    endpoint = ServiceAppFactory.api_endpoint

    async def api_endpoint(self, name, request):
        response = _unsupported_media(request)
        if response is None:
            try:
                spec = self.service.apis[name].input_spec
                media = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if media == "multipart/form-data":
                    # parsed here (Starlette caches it on this Request for BentoML's parser)
                    form, complete = await _read_form(request)  # an unreadable form is 400 first
                    response = _no_files_here(spec) or _form_problem(form, complete, spec)
                elif media == "application/json":
                    repeated = _repeated_keys(await request.body())  # None: not JSON, BentoML answers 400
                    if repeated is not None:
                        response = _files_required(spec) or _duplicate_answer(repeated)
                if response is None:
                    response = await endpoint(self, name, request)
            except TooLarge as exc:  # a chunked body cut off at the limit (bento/middleware.py)
                response = error_body(413, "RequestTooLarge", str(exc))
            except ValidationError as exc:
                response = _validation_answer(exc, self.service.apis[name].input_spec)
            except HTTPException as exc:  # Starlette's form parser: missing boundary, a part without headers
                if exc.status_code >= 500:
                    raise
                response = error_body(exc.status_code, "InvalidBody", f"the body cannot be read: {exc.detail}")
            except MultiPartException as exc:
                response = error_body(400, "InvalidBody", f"the body cannot be read: {exc.message}")
            except BentoMLException as exc:
                if exc.error_code.value >= 500:
                    raise
                response = error_body(exc.error_code.value, "BadRequest", str(exc))
            except ValueError as exc:  # e.g. a form field of more than 4,300 digits (int parsing limit)
                if not _from_parsing(exc):
                    raise
                response = error_body(400, "InvalidBody", f"the body cannot be read: {exc}")
        # the one log line of an error answer is the request log's (bento/requestlog.py)
        return response

    api_endpoint.moodtune_patched = True
    ServiceAppFactory.api_endpoint = api_endpoint


def _from_parsing(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "parse_request":
            return True
        tb = tb.tb_next
    return False


# --- remote files ----------------------------------------------------------------------------------


def refuse_remote_files() -> None:
    """A file field given as a URL string is refused (400), never downloaded."""
    from _bentoml_impl import serde

    _require("refuse_remote_files", serde.MultipartSerde, "ensure_file")
    if getattr(serde.MultipartSerde.ensure_file, "moodtune_patched", False):
        return
    from bentoml.exceptions import BadInput
    from starlette.datastructures import UploadFile

    async def ensure_file(obj):
        if isinstance(obj, UploadFile):
            return obj
        raise BadInput("file fields take an uploaded file (multipart/form-data); URLs and paths are not fetched")

    ensure_file.moodtune_patched = True
    serde.MultipartSerde.ensure_file = staticmethod(ensure_file)


# --- request timeout -------------------------------------------------------------------------------


class RequestTimeout:
    """The request timeout of BentoML's ``TimeoutMiddleware`` (``traffic.timeout``: 504 when
    the response has not started in time), with its timer cancelled once the response starts.

    BentoML 1.4.39's middleware starts ``loop.call_later(timeout, ...)`` for every request and
    never cancels it, so each request leaves a timer, a future and a bound method alive for the
    whole timeout (60 s): ~10,000 per worker at 1,000 requests/s in the load test. They reach
    the GC's oldest generation, and every full collection then walked them all, stalling the
    worker 15 to 65 ms at a time."""

    def __init__(self, app, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        deadline = asyncio.timeout(self.timeout)

        async def started(message):
            deadline.reschedule(None)  # a response under way is not timed out
            await send(message)

        if scope["type"] == "http":
            from bento.requestlog import request_id

            request_id(scope)  # the id the request log (inside) answers and logs with
        try:
            async with deadline:
                await self.app(scope, receive, started)
        except TimeoutError:
            if not deadline.expired():  # the app's own TimeoutError
                raise
            from bento.requestlog import REQUEST_ID, log_error

            message = f"Not able to process the request in {self.timeout} seconds"
            response = error_body(504, "Timeout", message)
            if REQUEST_ID in scope:
                response.headers["X-Request-Id"] = scope[REQUEST_ID]
                log_error(scope, 504, message)
            await response(scope, receive, send)


def request_timeout() -> None:
    """Make BentoML build :class:`RequestTimeout` where it builds its ``TimeoutMiddleware``
    (it looks the class up in its module each time it assembles the app)."""
    from bentoml._internal.server.http import traffic

    _require("request_timeout", traffic, "TimeoutMiddleware")
    if not getattr(traffic.TimeoutMiddleware, "moodtune_fixed", False):
        fixed = type("TimeoutMiddleware", (RequestTimeout, traffic.TimeoutMiddleware), {"moodtune_fixed": True})
        traffic.TimeoutMiddleware = fixed


# --- one listening socket per worker ------------------------------------------------------------

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
    """Patch the circus arbiter that ``bentoml serve`` runs in-process so each HTTP worker
    listens on its own ``SO_REUSEPORT`` socket; the kernel then hashes new connections over
    the workers. Returns whether the patch is in place (not on platforms without the option).

    BentoML 1.4.39 hands every worker the same listening socket (circus binds it once and
    passes its fd) and whichever worker's loop wakes first accepts. Here the API server's
    socket is bound with ``SO_REUSEPORT`` but never listens: it only reserves the port (a port
    already in use still fails at start-up: it is first bound without the option), and each
    worker gets its own listening socket on that address. Circus has this itself
    (``so_reuseport``) but only for sockets named in the watcher's ``cmd``; BentoML names it in
    ``args``. As with any ``SO_REUSEPORT`` listener, a process of the same user that sets the
    option too could join the group; the kernel refuses it to other users."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    from circus.process import Process
    from circus.sockets import CircusSocket

    _require("per_worker_sockets", Process, "_get_sockets_fds")
    _require("per_worker_sockets", CircusSocket, "bind_and_listen")
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


# --- API methods bound once ----------------------------------------------------------------------


def bind_api_methods_once() -> bool:
    """Patch ``APIMethod._local_call`` to reuse the bound caller per (instance, method).

    BentoML 1.4.39 finds the function to call with ``getattr(instance, name).local`` per
    request, and ``APIMethod.__get__`` rebuilds it each time: ``inspect.signature``, a new
    closure and ``functools.wraps``, about 28 µs. What it builds depends only on the method and
    the instance. Returns whether the patch is in place."""
    from _bentoml_sdk.method import APIMethod

    _require("bind_api_methods_once", APIMethod, "_local_call")
    if getattr(APIMethod._local_call, "moodtune_cached", False):
        return True
    build = APIMethod._local_call
    bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # instance -> {id(method): caller}

    def local_call(self, instance):
        try:
            callers = bound.setdefault(instance, {})
        except TypeError:  # an instance that cannot be a weak key: build every time, as BentoML does
            return build(self, instance)
        caller = callers.get(id(self))
        if caller is None:
            caller = callers[id(self)] = build(self, instance)
        return caller

    local_call.moodtune_cached = True
    APIMethod._local_call = local_call
    return True


PATCHES: dict[str, Callable[[], object]] = {
    "error_answers": error_answers,
    "refuse_remote_files": refuse_remote_files,
    "request_timeout": request_timeout,
    "per_worker_sockets": per_worker_sockets,
    "bind_api_methods_once": bind_api_methods_once,
}


def apply() -> list[str]:
    """Apply every patch (but those named in ``MOODTUNE_BENTO_PATCHES_OFF``); the names applied.
    Raises :class:`PatchError` when a target is not what the patch was written for."""
    off = {n.strip() for n in os.environ.get("MOODTUNE_BENTO_PATCHES_OFF", "").split(",") if n.strip()}
    unknown = off - set(PATCHES)
    if unknown:
        raise PatchError(f"MOODTUNE_BENTO_PATCHES_OFF names unknown patches {sorted(unknown)}; "
                         f"they are {', '.join(PATCHES)}")
    applied = []
    for name, patch in PATCHES.items():
        if name not in off:
            patch()
            applied.append(name)
    return applied


__all__ = ["PATCHES", "PatchError", "RequestTimeout", "apply"]
