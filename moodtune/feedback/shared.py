"""One :class:`~moodtune.feedback.store.FeedbackStore` per process and URL."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from moodtune.feedback.database import default_url
from moodtune.feedback.store import FeedbackStore

if TYPE_CHECKING:
    from moodtune.settings import Settings

_STORES: dict[tuple[int, str], FeedbackStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(url: str | None = None, *, settings: Settings) -> FeedbackStore:
    """A process-wide store per URL (one connection pool), e.g. for the service and sensors.

    Keyed by process id too, so a forked child never reuses its parent's connections.
    """
    resolved = url or default_url(settings)
    key = (os.getpid(), resolved)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = FeedbackStore(resolved, settings=settings)
        return store
