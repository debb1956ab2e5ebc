"""The feedback store: logged recommendations and the listener feedback that answers them.

Plain Python (SQLAlchemy); the service writes to it, the retraining sensor and job read it.
:mod:`~moodtune.feedback.config` (its settings section), :mod:`~moodtune.feedback.schema`
(tables), :mod:`~moodtune.feedback.models` (the records it takes, validated),
:mod:`~moodtune.feedback.records` (what it returns), :mod:`~moodtune.feedback.database` (URL,
SQLite pragmas), :mod:`~moodtune.feedback.migration`, :mod:`~moodtune.feedback.store` (the
store), :mod:`~moodtune.feedback.shared` (one per process), :mod:`~moodtune.feedback.reread`
(retraining: logged rows read again by the HRV champion).

The names below are imported on first use (PEP 562): :mod:`moodtune.settings` composes
:mod:`~moodtune.feedback.config`, and loading the settings loads no SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodtune.lazy import lazy_names

if TYPE_CHECKING:
    from moodtune.feedback.database import default_url
    from moodtune.feedback.models import FeedbackInput, RecommendationEvent
    from moodtune.feedback.records import FeedbackRow, FeedbackWindow, Recommendation
    from moodtune.feedback.reward import STRESS_LEVELS, reward_for_stress
    from moodtune.feedback.schema import FEEDBACK_SOURCES, HRV_METRICS, RECOMMENDATION_SOURCES
    from moodtune.feedback.shared import open_store
    from moodtune.feedback.store import REPLAY_COLUMNS, FeedbackStore

__all__ = [
    "FEEDBACK_SOURCES",
    "HRV_METRICS",
    "RECOMMENDATION_SOURCES",
    "REPLAY_COLUMNS",
    "STRESS_LEVELS",
    "FeedbackInput",
    "FeedbackRow",
    "FeedbackStore",
    "FeedbackWindow",
    "Recommendation",
    "RecommendationEvent",
    "default_url",
    "open_store",
    "reward_for_stress",
]

__getattr__ = lazy_names(
    __name__,
    {
        "default_url": "moodtune.feedback.database",
        **dict.fromkeys(("FeedbackInput", "RecommendationEvent"), "moodtune.feedback.models"),
        **dict.fromkeys(("FeedbackRow", "FeedbackWindow", "Recommendation"), "moodtune.feedback.records"),
        **dict.fromkeys(("STRESS_LEVELS", "reward_for_stress"), "moodtune.feedback.reward"),
        **dict.fromkeys(
            ("FEEDBACK_SOURCES", "HRV_METRICS", "RECOMMENDATION_SOURCES"), "moodtune.feedback.schema"
        ),
        "open_store": "moodtune.feedback.shared",
        **dict.fromkeys(("REPLAY_COLUMNS", "FeedbackStore"), "moodtune.feedback.store"),
    },
)
