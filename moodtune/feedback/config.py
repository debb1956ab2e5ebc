"""The ``feedback:`` section of params.yaml (:class:`FeedbackSettings`), composed by :mod:`moodtune.settings`.

This module imports pydantic and :mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from moodtune.section import Section


class StressRewards(Section):
    """The reward for each HRV stress level of a listener's response (see moodtune.feedback.reward)."""

    low: float
    medium: float
    high: float


class FeedbackSettings(Section):
    """The feedback store: ``url`` null -> a SQLite file (WAL) at ``<data_dir>/feedback/feedback.db``."""

    url: str | None
    reward: StressRewards
    busy_timeout_ms: int = Field(ge=0)  # how long a SQLite writer waits for the write lock
    # SQLite: how the service's event writer commits recommendation events. "full" fsyncs each
    # group commit; "normal" (WAL) commits without fsync: the event survives a crash of the
    # service, and reaches the disk at the next feedback commit (always "full", which syncs
    # the whole WAL) or checkpoint; only an OS crash or power loss before then can lose it.
    recommendation_sync: Literal["full", "normal"]
