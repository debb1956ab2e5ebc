"""The feedback store: logged recommendations and the listener feedback that answers them.

Plain Python (SQLAlchemy); the service writes to it, the retraining sensor and job read it.
"""

from moodtune.feedback.reward import STRESS_LEVELS, reward_for_stress
from moodtune.feedback.schema import FEEDBACK_SOURCES, HRV_METRICS, RECOMMENDATION_SOURCES
from moodtune.feedback.store import (
    REPLAY_COLUMNS,
    FeedbackRow,
    FeedbackStore,
    FeedbackWindow,
    Recommendation,
    default_url,
    open_store,
)

__all__ = [
    "FEEDBACK_SOURCES",
    "HRV_METRICS",
    "RECOMMENDATION_SOURCES",
    "REPLAY_COLUMNS",
    "STRESS_LEVELS",
    "FeedbackRow",
    "FeedbackStore",
    "FeedbackWindow",
    "Recommendation",
    "default_url",
    "open_store",
    "reward_for_stress",
]
