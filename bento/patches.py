"""Every change moodtune makes to BentoML's private internals, in one place: two, both for
behaviour (the service's error answers, and no fetching of what a client names), not speed.

BentoML is pinned (``bentoml==1.4.39``); each patch checks that version and that what it
replaces exists, and :func:`apply` raises :class:`PatchError` at start-up when either does not
hold, so an upgrade fails loudly instead of silently serving without a fix. Each patch is
idempotent, and ``MOODTUNE_BENTO_PATCHES_OFF`` (comma-separated names) leaves some out, for the
benchmark that measures what each costs (``benchmarks/service.py --without NAME``). Each names
its upstream issue (or the issue to file, docs/performance.md "Patches of library internals")
and the condition for removing it in a comment above it.

* ``error_answers`` (:func:`error_answers`): request errors answer in the service's one error
  shape (:mod:`bento.errors`): a body that does not match the request model is 422 naming every
  problem (BentoML: 400 with a list); a body that cannot be parsed (bad JSON, multipart without
  a boundary, a part without headers) is 400 (BentoML turned Starlette's 400 into a 500); a
  media type other than JSON or multipart is 415 (BentoML read it as JSON), and so is multipart
  where the operation takes no file and JSON where its file is required (as the OpenAPI lists
  them); a repeated JSON key or multipart field, a file under a name that takes none and a
  multipart body cut off before its closing boundary are refused naming what is wrong (BentoML
  kept the last value, failed to decode the file as text, or read the cut-off form as fields
  missing). Each error answer is logged in one line by :mod:`bento.requestlog` (BentoML: a
  traceback at ERROR per bad request).
* ``refuse_remote_files`` (:func:`refuse_remote_files`): BentoML's multipart parser downloads a
  file field given as a URL; moodtune never fetches what a client names (a security fix).

Three speed patches were dropped (issue #30: each gained under 5 % on ``benchmarks/service.py``;
the measurements are in docs/performance.md): ``request_timeout`` (its 504 in the service's
shape is now the ordinary ASGI middleware :class:`bento.middleware.RequestTimeout`),
``per_worker_sockets`` (circus) and ``bind_api_methods_once``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from bento.errors import error_body

BENTOML_VERSION = "1.4.39"
log = logging.getLogger("bentoml.moodtune")  # under "bentoml": BentoML's log configuration shows it


class PatchError(RuntimeError):
    """A patch whose target is not the BentoML it was written for."""


def _require(name: str, owner, attribute: str) -> None:
    import bentoml

    if bentoml.__version__ != BENTOML_VERSION:
        raise PatchError(
            f"patch {name!r} was written for BentoML {BENTOML_VERSION}, this is "
            f"{bentoml.__version__}: check bento/patches.py against the new version before serving"
        )
    if not hasattr(owner, attribute):
        raise PatchError(
            f"patch {name!r}: {getattr(owner, '__name__', owner)}.{attribute} no longer exists in "
            f"BentoML {bentoml.__version__}; update bento/patches.py"
        )


# --- request errors, in the one error shape (bento/errors.py) -----------------------------------


MEDIA_TYPES = ("application/json", "multipart/form-data")


def _unsupported_media(request):
    content_type = request.headers.get("content-type")
    if content_type is None:
        empty = (
            request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers
        )
        if empty:
            return None  # no body: BentoML reads it as {}
        return error_body(
            415,
            "UnsupportedMediaType",
            "send the body as application/json (or multipart/form-data with files)",
        )
    media = content_type.split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        return error_body(
            415,
            "UnsupportedMediaType",
            f"{media or 'this media type'} is not accepted: send application/json "
            "(or multipart/form-data with files)",
        )
    return None


def _file_fields(spec) -> tuple[str, ...]:
    return tuple(getattr(spec, "multipart_fields", ()) or ())


def _no_files_here(spec):
    """Multipart on an operation that takes no file: 415 (the OpenAPI lists JSON only)."""
    if _file_fields(spec):
        return None
    return error_body(
        415, "UnsupportedMediaType", "this endpoint takes no file: send the body as application/json"
    )


def _files_required(spec):
    """JSON on an operation whose file is required (the OpenAPI lists multipart only): 415."""
    fields = getattr(spec, "model_fields", {})
    required = [f for f in _file_fields(spec) if f in fields and fields[f].is_required()]
    if not required:
        return None
    return error_body(
        415,
        "UnsupportedMediaType",
        f"this endpoint takes an uploaded file: send multipart/form-data "
        f"with the file in {required[0]!r} (-F {required[0]}=@path)",
    )


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
            tail.extend(message.get("body", b"")[-(len(closing or b"") + 8) :])
            del tail[: -(len(closing or b"") + 8)]
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
        return error_body(
            400,
            "InvalidBody",
            "the body cannot be read: the multipart body ends before its closing "
            "boundary (it was cut off); send the whole form",
        )
    files = _file_fields(spec)
    fields = getattr(spec, "model_fields", {})
    counts: Counter = Counter()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key not in files:
                what = "takes a value, not a file" if key in fields else "is not a field"
                return error_body(
                    422,
                    "InvalidRequest",
                    f"{key!r} {what}: upload files as {' or '.join(repr(f) for f in files)}",
                )
        elif key in files:
            return error_body(
                400,
                "BadRequest",
                f"{key!r} takes an uploaded file (multipart/form-data: -F {key}=@path), "
                "not a value; URLs and paths are not fetched",
            )
        else:
            counts[key] += 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        key = repeated[0]
        if _is_list(fields.get(key)):
            return error_body(
                422,
                "InvalidRequest",
                f"{key!r} was sent {counts[key]} times: send a list as one field holding a JSON array, "
                f'e.g. -F \'{key}=["a","b"]\' (or send the whole body as JSON)',
            )
        return error_body(
            422,
            "InvalidRequest",
            "each field once: " + ", ".join(f"{k!r} was sent {counts[k]} times" for k in repeated),
        )
    return None


def _is_list(info) -> bool:
    from typing import get_args, get_origin

    if info is None:
        return False
    kinds = [info.annotation, *get_args(info.annotation)]
    return any(get_origin(k) is list or k is list for k in kinds) or any(
        get_origin(a) is list for k in kinds for a in get_args(k)
    )


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


# Upstream: no BentoML issue asks for this (searched bentoml/BentoML, 2026-12); the nearest is
# PR #4520 (the client refuses non-JSON media types; its review: "Should restrict from server
# side"). The issue to file is in docs/performance.md ("Patches of library internals").
# Gain: behaviour, not speed (the error shape, statuses and one log line); its cost on
# benchmarks/service.py is in docs/performance.md. Remove when a BentoML > 1.4.39 lets a service
# answer request-parsing errors itself (a handler for ValidationError, BadInput and Starlette's
# form errors) and answers 4xx for an unreadable body and 415 for another media type: then these
# checks move into that handler and ServiceAppFactory.api_endpoint is left alone.
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
                response = error_body(
                    exc.status_code, "InvalidBody", f"the body cannot be read: {exc.detail}"
                )
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


# Upstream: BentoML fetches a URL given for a file field since PR #4411 ("allow url as file
# input"); advisory GHSA-mrmq-3q62-6cc8 (CVE-2025-54381, SSRF) made it refuse private addresses
# (make_safe_connect) but it still fetches public ones, and no issue asks for a switch to turn it
# off (searched 2026-12; the issue to file is in docs/performance.md). Gain: security, not
# speed. Remove when a BentoML > 1.4.39 lets a service turn URL fetching for file fields off
# (then turn it off in bento/service.py) or stops fetching them.
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
        raise BadInput(
            "file fields take an uploaded file (multipart/form-data); URLs and paths are not fetched"
        )

    ensure_file.moodtune_patched = True
    serde.MultipartSerde.ensure_file = staticmethod(ensure_file)


PATCHES: dict[str, Callable[[], object]] = {
    "error_answers": error_answers,
    "refuse_remote_files": refuse_remote_files,
}


def apply() -> list[str]:
    """Apply every patch (but those named in ``MOODTUNE_BENTO_PATCHES_OFF``); the names applied.
    Raises :class:`PatchError` when a target is not what the patch was written for."""
    off = {n.strip() for n in os.environ.get("MOODTUNE_BENTO_PATCHES_OFF", "").split(",") if n.strip()}
    unknown = off - set(PATCHES)
    if unknown:
        raise PatchError(
            f"MOODTUNE_BENTO_PATCHES_OFF names unknown patches {sorted(unknown)}; "
            f"they are {', '.join(PATCHES)}"
        )
    applied = []
    for name, patch in PATCHES.items():
        if name not in off:
            patch()
            applied.append(name)
    return applied


__all__ = ["PATCHES", "PatchError", "apply"]
