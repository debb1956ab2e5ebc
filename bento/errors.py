"""The service's one error shape: ``{"error": <what to fix>, "type": <kind>}`` with its status.

Every error answer of the service is built here: the endpoints' :class:`moodtune.errors.MoodtuneError`
answers (``bento/service.py``), the ASGI middleware's (body limit, API keys, rate limit) and the
answers of the patched request parsing (``bento/patches.py``). Its own module, below all of them,
so that each imports it and none imports another for it.
"""

from __future__ import annotations


def error_body(status: int, kind: str, message: str):
    """The service's error answer: ``{"error": <what to fix>, "type": <kind>}`` with ``status``."""
    from starlette.responses import JSONResponse

    response = JSONResponse({"error": message, "type": kind}, status_code=status)
    response.moodtune_error = message  # for the one-line log
    return response


__all__ = ["error_body"]
