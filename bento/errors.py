"""The service's one error shape: ``{"error": <what to fix>, "type": <kind>}`` with its status.

Every error answer of the service is built here: the endpoints' :class:`moodtune.errors.MoodtuneError`
answers (``bento/service.py``), the ASGI middleware's (body limit, API keys, rate limit, the
timeout), the answers of the patched request parsing (``bento/patches.py``) and the framework's
own error answers rewritten into this shape, with the 500 of an unexpected failure
(``bento/requestlog.py``, :func:`error_json`). Its own module, below all of them,
so that each imports it and none imports another for it.
"""

from __future__ import annotations

import json


def error_json(kind: str, message: str) -> bytes:
    """The error shape's body: ``{"error": <what to fix>, "type": <kind>}`` as UTF-8 JSON."""
    return json.dumps({"error": message, "type": kind}, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(status: int, kind: str, message: str):
    """The service's error answer: ``{"error": <what to fix>, "type": <kind>}`` with ``status``."""
    from starlette.responses import JSONResponse

    response = JSONResponse({"error": message, "type": kind}, status_code=status)
    response.moodtune_error = message  # for the one-line log
    return response


__all__ = ["error_body", "error_json"]
