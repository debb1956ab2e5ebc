"""The feedback schema: the single source of truth for what the feedback store holds.

Two tables, created on first use by :class:`moodtune.feedback.FeedbackStore`:

``recommendations``
    one row per recommendation the service made: its id (uuid4 hex, the
    ``recommendation_id`` the service returns), when, from what (``source``), for whom
    (listener ``age``, ``gender``, ``mood`` 1-5), ``k``, the serving ``model_versions``, every
    ``candidate`` with the features the policy saw, its score and the logged probability of
    choosing it, and the ``chosen`` track ids.
``feedback``
    one row per listener response: an autoincrement ``id`` (the retraining sensor's cursor),
    the recommendation and track it answers, the eight HRV metrics (SWELL names), how the
    stress level was obtained (``source``), the stress level and its probabilities, the
    ``reward``, the logged ``choice_probability`` of that track (copied from the
    recommendation, for off-policy evaluation), the model versions involved, and the
    client's ``client_key`` when it sent one (unique: a retried request with the same key
    finds the row it stored instead of storing a second one), and the eight metrics of the
    listener's resting baseline the HRV was read against (``baseline_<metric>``; NULL without
    one), so retraining re-reads the reward against the same baseline.

Columns added after a database was created (nullable ones only) are added to it on first
use; see :meth:`moodtune.feedback.FeedbackStore.ensure_schema`.

Timestamps are stored as naive UTC and read back as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from moodtune.feedback.reward import STRESS_LEVELS
from moodtune.hrv.constants import METRIC_COLUMNS as HRV_METRICS  # the eight HRV metrics (SWELL names)

#: Where a recommendation's playlist came from.
RECOMMENDATION_SOURCES: tuple[str, ...] = ("catalog", "upload", "text", "image")
#: How a feedback row's stress level was obtained: from RR intervals, from the eight metrics,
#: or stated by the listener.
FEEDBACK_SOURCES: tuple[str, ...] = ("rr", "metrics", "explicit")
#: The listener's resting baseline (its eight metrics) a feedback row's HRV was read against.
HRV_BASELINE_COLUMNS: tuple[str, ...] = tuple(f"baseline_{name}" for name in HRV_METRICS)

ID_LENGTH = 32  # uuid4().hex
TRACK_ID_LENGTH = 200
GENDER_LENGTH = 32
CLIENT_KEY_LENGTH = 64


class UTCDateTime(TypeDecorator):
    """A UTC timestamp: aware datetimes are stored as naive UTC (naive ones are taken as UTC)
    and always come back aware, whatever the database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

recommendations = Table(
    "recommendations",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),
    Column("age", Integer, nullable=False),
    Column("gender", String(GENDER_LENGTH), nullable=False),
    Column("mood", Integer, nullable=False),
    Column("k", Integer, nullable=False),
    Column("model_versions", JSONType, nullable=False),
    Column("candidates", JSONType, nullable=False),
    Column("chosen", JSONType, nullable=False),
    CheckConstraint(_in("source", RECOMMENDATION_SOURCES), name="source"),
    CheckConstraint("mood BETWEEN 1 AND 5", name="mood"),
    CheckConstraint("age BETWEEN 0 AND 130", name="age"),
    CheckConstraint("k >= 1", name="k"),
    Index(None, "created_at"),
)

feedback = Table(
    "feedback",
    metadata,
    # AUTOINCREMENT on SQLite: ids are never reused, so "last feedback id" is a safe cursor.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "recommendation_id",
        String(ID_LENGTH),
        ForeignKey("recommendations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("track_id", String(TRACK_ID_LENGTH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    *(Column(name, Float, nullable=True) for name in HRV_METRICS),
    Column("source", String(16), nullable=False),
    Column("stress_level", String(8), nullable=False),
    Column("p_low", Float, nullable=True),
    Column("p_medium", Float, nullable=True),
    Column("p_high", Float, nullable=True),
    Column("reward", Float, nullable=False),
    Column("choice_probability", Float, nullable=True),
    Column("model_versions", JSONType, nullable=False),
    Column("client_key", String(CLIENT_KEY_LENGTH), nullable=True),
    *(Column(name, Float, nullable=True) for name in HRV_BASELINE_COLUMNS),  # added after client_key
    CheckConstraint(_in("source", FEEDBACK_SOURCES), name="source"),
    CheckConstraint(_in("stress_level", STRESS_LEVELS), name="stress_level"),
    Index(None, "recommendation_id"),
    Index(None, "client_key", unique=True),  # NULLs (no key) never collide
    sqlite_autoincrement=True,
)
