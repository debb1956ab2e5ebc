"""The command line's way to the running service: find it, ask it, and turn its error answers
into the errors the local path raises (so a terminal sees the same message and exit code).

Which service: ``--service URL`` (``local``: never ask one), else ``$MOODTUNE_SERVICE_URL``
(the same values), else :data:`DEFAULT_URL` (where ``make up`` starts it) when its ``/readyz``
answers 200 within :data:`PROBE_S` and ``$MOODTUNE_DATA_DIR`` is unset (that service serves the
default stack: another data dir is another stack, the tests' included); otherwise the local
models answer. An explicitly named
service that cannot be reached is an error (exit 1); an auto-detected one that stops answering
before a request was sent falls back to the local models. httpx is imported only here, lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moodtune.errors import MoodtuneError

ENV = "MOODTUNE_SERVICE_URL"
KEY_ENV = "MOODTUNE_API_KEY"  # sent as X-API-Key (the service's service.api_keys guard /feedback)
DEFAULT_URL = "http://127.0.0.1:3001"  # make up: http://$(HOST):$(SERVICE_PORT)
LOCAL = "local"
PROBE_S = 0.3
REQUEST_S = 120.0  # above the service's own timeout_s (60 s), which answers 504 first


class ServiceFailed(MoodtuneError):
    """The service could not give an answer (unreachable, cut off, a 5xx): exit code 1."""

    status_code = 502
    exit_code = 1


class Unreachable(ServiceFailed):
    """No connection could be made: nothing was sent, so the local models may answer instead."""


class Declined(Exception):  # noqa: N818 (not an error: the local models answer instead)
    """The service answered, but not with what the command prints for this input (e.g. one
    averaged reading of a many-row file): the local models answer, and the note says why."""


def add_service_option(parser) -> None:
    parser.add_argument(
        "--service",
        metavar="URL",
        default=None,
        help=f"ask the service at URL ('{LOCAL}': the local models); default ${ENV}, else "
        f"{DEFAULT_URL} when it is ready, else the local models",
    )


@dataclass
class Service:
    """A service to ask: its base ``url``, whether it was named (``explicit``) and an HTTP client."""

    url: str
    explicit: bool
    http: Any = field(repr=False)

    def call(self, method: str, path: str, **kwargs) -> dict:
        """The endpoint's JSON answer; an error answer raises what the local path raises."""
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(
                f"no service answers at {self.url} ({_reason(exc)}); start it (make up) "
                f"or use --service {LOCAL}"
            ) from None
        except httpx.HTTPError as exc:
            raise ServiceFailed(
                f"the service at {self.url} stopped answering during {method} {path} "
                f"({_reason(exc)}); run the command again, or use --service {LOCAL}"
            ) from None
        if response.status_code >= 400:
            raise error_of(response, self.url)
        try:
            return response.json()
        except ValueError:
            raise ServiceFailed(
                f"the service at {self.url} answered {method} {path} with something that is not JSON"
            ) from None

    def close(self) -> None:
        self.http.close()


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def error_of(response, url: str) -> MoodtuneError:
    """A service error answer (``{"error", "type"}``) as the :mod:`moodtune.errors` class of
    that name (``InvalidRequest``, the request models' refusal, is :class:`InvalidInput`);
    a 5xx without one is :class:`ServiceFailed`."""
    from moodtune import errors

    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    message = str(body.get("error") or response.text.strip()[:200] or response.reason_phrase)
    cls = getattr(errors, str(body.get("type")), None)
    status = response.status_code
    if isinstance(cls, type) and issubclass(cls, MoodtuneError):
        return cls(message)
    if status == 401:
        return MoodtuneError(f"{message}: the service at {url} needs an API key; set ${KEY_ENV}")
    if status == 429:
        return MoodtuneError(f"{message}; retry in {response.headers.get('Retry-After', 'a few')} s")
    if status < 500:
        return errors.InvalidInput(message) if status == 422 else MoodtuneError(message)
    return ServiceFailed(f"the service at {url} answered {status}: {message}")


def find(option: str | None) -> tuple[Service | None, str]:
    """The service to ask, or ``None`` and why the local models answer."""
    choice = (option if option is not None else os.environ.get(ENV, "")).strip()
    if choice.lower() == LOCAL:
        return None, f"{'--service' if option is not None else ENV} is {LOCAL}"
    explicit = bool(choice)
    if not explicit and os.environ.get("MOODTUNE_DATA_DIR"):
        return None, "MOODTUNE_DATA_DIR is set and no service is named"
    import httpx

    url = (choice or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    key = os.environ.get(KEY_ENV)
    http = httpx.Client(
        base_url=url,
        timeout=httpx.Timeout(REQUEST_S, connect=5.0 if explicit else PROBE_S),
        headers={"X-API-Key": key} if key else None,
        trust_env=explicit,
    )
    if explicit:
        return Service(url, True, http), ""
    try:
        ready = http.get("/readyz", timeout=PROBE_S).status_code == 200
    except httpx.HTTPError:
        http.close()
        return None, f"no service at {url}"
    if not ready:
        http.close()
        return None, f"the service at {url} is not ready"
    return Service(url, False, http), ""


def note(line: str) -> None:
    """One line on stderr: which side answered."""
    print(f"moodtune: {line}", file=sys.stderr)


def answer(
    option: str | None,
    remote: Callable[[Service], Any],
    local: Callable[[], Any],
    *,
    local_only: str | None = None,
):
    """``remote(service)`` where a service is found, else (or when an auto-detected one cannot
    be reached, or ``remote`` raises :class:`Declined`) ``local()``; says on stderr which one
    answered. ``local_only``: why this call is one the service does not answer (e.g. a model
    other than the champion): the local models answer without asking it."""
    service, why = (None, local_only) if local_only else find(option)
    if service is not None:
        try:
            result = remote(service)
        except Unreachable:
            if service.explicit:
                raise
            why = f"the service at {service.url} stopped answering"
        except Declined as exc:
            why = str(exc)
        else:
            note(f"answered by the service at {service.url}")
            return result
        finally:
            service.close()
    result = local()
    note(f"answered by the local models ({why})")
    return result


__all__ = [
    "DEFAULT_URL",
    "ENV",
    "Declined",
    "Service",
    "ServiceFailed",
    "Unreachable",
    "add_service_option",
    "answer",
    "error_of",
    "find",
]
