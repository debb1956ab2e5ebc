"""The feedback store: recommendation events and listener feedback in a real database.

A SQLite file in WAL mode with ``synchronous=FULL`` by default
(``<data_dir>/feedback/feedback.db``), any SQLAlchemy URL (PostgreSQL) through
``feedback.url`` / ``MOODTUNE_FEEDBACK__URL``. The schema (:mod:`moodtune.feedback.schema`)
is created on first use.

Guarantees:

* a method that writes returns only after its transaction committed: an acknowledged row is
  on disk (WAL + ``synchronous=FULL``; PostgreSQL's default synchronous commit);
* concurrent writers, threads or processes, lose nothing: SQLite write transactions start
  with ``BEGIN IMMEDIATE`` and wait up to ``feedback.busy_timeout_ms`` for the write lock;
* feedback ids grow in commit order, so a reader that remembers the last id it saw (the
  retraining sensor's cursor) never skips a row (on PostgreSQL, feedback inserts are
  serialised by a transaction-level advisory lock, because sequences are assigned before
  commit);
* bad input is :class:`~moodtune.errors.InvalidFeedback` with a message that says what to fix,
  raised before anything is written; nothing already stored is touched.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from moodtune.errors import ConfigError, InvalidFeedback
from moodtune.feedback import schema
from moodtune.feedback.reward import normalise_level, reward_for_stress, reward_table
from moodtune.feedback.schema import (
    FEEDBACK_SOURCES,
    HRV_METRICS,
    RECOMMENDATION_SOURCES,
    feedback,
    recommendations,
)

CANDIDATE_KEYS = ("track_id", "features", "score", "probability")
# Transaction-level advisory lock keys (PostgreSQL): schema creation, feedback inserts.
_PG_SCHEMA_LOCK = 0x6D6F6F6474756E01
_PG_FEEDBACK_LOCK = 0x6D6F6F6474756E02
_WRITE = "moodtune_write"

# Metric names accepted case-insensitively, plus seed A's name for SDRR.
_METRIC_NAMES = {name.lower(): name for name in HRV_METRICS} | {"sdnn": "SDRR"}
_PROBABILITY_NAMES = {"low": "p_low", "medium": "p_medium", "high": "p_high",
                      "p_low": "p_low", "p_medium": "p_medium", "p_high": "p_high"}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Recommendation:
    """A logged recommendation event."""

    id: str
    created_at: datetime
    source: str
    age: int
    gender: str
    mood: int
    k: int
    model_versions: dict[str, str]
    candidates: list[dict[str, Any]]
    chosen: list[str]

    def candidate(self, track_id: str) -> dict[str, Any] | None:
        """The candidate entry for ``track_id`` (``None`` when it was not a candidate)."""
        return next((c for c in self.candidates if c["track_id"] == str(track_id)), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeedbackRow:
    """A stored feedback row; ``id`` is its position in the feedback log (the sensor's cursor)."""

    id: int
    recommendation_id: str
    track_id: str
    created_at: datetime
    source: str
    stress_level: str
    reward: float
    choice_probability: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    probabilities: dict[str, float] | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    client_key: str | None = None
    # True when this call found the row an earlier call with the same client_key stored
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeedbackWindow:
    """The feedback rows ``cursor_from < id <= cursor_to``: what a retraining run used."""

    cursor_from: int
    cursor_to: int | None
    count: int
    first_id: int | None
    last_id: int | None
    first_at: datetime | None
    last_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (timestamps as ISO 8601), e.g. for ``mlflow.log_dict``."""
        out = asdict(self)
        for key in ("first_at", "last_at"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


# --------------------------------------------------------------------------- url / engine


def default_url(settings=None) -> str:
    """The configured feedback URL: ``feedback.url``, or the SQLite file under the data root.

    A relative ``sqlite:///path`` is pinned to the project root, like the MLflow store.
    """
    if settings is None:
        from moodtune.settings import get_settings

        settings = get_settings()
    url = settings.feedback.url
    if not url:
        return f"sqlite:///{settings.data_path('feedback', 'feedback.db')}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return f"sqlite:///{settings.root / url[len('sqlite:///'):]}"
    return url


def _sqlite_file(url) -> Path:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:") \
            or url.query.get("mode") == "memory":
        raise ConfigError(
            "the feedback store needs a file (an in-memory SQLite database loses every row when "
            "the process ends): set feedback.url to sqlite:////absolute/path/feedback.db or null"
        )
    return Path(database)


SYNC_MODES = ("full", "normal")  # SQLite ``synchronous`` modes a dedicated writer may use


def _make_engine(url: str, busy_timeout_ms: int) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"feedback.url {url!r} is not a SQLAlchemy URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(parsed)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # SQLAlchemy emits BEGIN itself (below); the driver's legacy transaction control
            # would otherwise skip BEGIN for SELECTs and DDL.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise ConfigError(
                        f"could not switch the feedback database {path} to WAL mode (got {mode!r}); "
                        "put it on a local file system"
                    )
                cursor.execute("PRAGMA synchronous = FULL")
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front (waiting up to busy_timeout): a deferred
            # transaction that reads and then writes could fail with SQLITE_BUSY instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"no database driver for feedback.url {parsed!r}: {exc}") from exc


# --------------------------------------------------------------------------- validation


def _integer(value: Any, name: str, low: int, high: int, hint: str = "") -> int:
    if isinstance(value, bool):
        number = None
    elif isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        number = int(value)
    else:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidFeedback(f"{name} must be a whole number from {low} to {high}{hint}; got {value!r}")
    return number


def _number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    try:
        if isinstance(value, bool) or isinstance(value, str):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidFeedback(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidFeedback(f"{name} must be a finite number; got {value!r}")
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidFeedback(f"{name} must be {bounds}; got {value!r}")
    return number


def _text(value: Any, name: str, max_length: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | numbers.Integral):
        raise InvalidFeedback(f"{name} must be a string; got {value!r}")
    out = str(value).strip()
    if not out or len(out) > max_length:
        raise InvalidFeedback(f"{name} must be 1 to {max_length} characters; got {value!r}")
    return out


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    name_value = value.strip().lower() if isinstance(value, str) else value
    if name_value not in allowed:
        raise InvalidFeedback(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return name_value


def _versions(value: Mapping[str, Any] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidFeedback(f"model_versions must map model names to versions; got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def _candidates(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, Mapping | str) or not isinstance(value, Iterable):
        raise InvalidFeedback("candidates must be a list of {track_id, features, score, probability}")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        where = f"candidates[{i}]"
        if not isinstance(raw, Mapping):
            raise InvalidFeedback(f"{where} must be a mapping with {', '.join(CANDIDATE_KEYS)}; got {raw!r}")
        unknown = sorted(set(raw) - set(CANDIDATE_KEYS))
        if unknown:
            raise InvalidFeedback(f"{where} has unknown keys {unknown}; allowed: {', '.join(CANDIDATE_KEYS)}")
        if "track_id" not in raw:
            raise InvalidFeedback(f"{where} has no track_id")
        track_id = _text(raw["track_id"], f"{where}.track_id", schema.TRACK_ID_LENGTH)
        if track_id in seen:
            raise InvalidFeedback(f"{where}: track {track_id!r} is listed twice among the candidates")
        seen.add(track_id)
        features = raw.get("features") or {}
        if not isinstance(features, Mapping):
            raise InvalidFeedback(f"{where}.features must map feature names to numbers; got {features!r}")
        score = raw.get("score")
        probability = raw.get("probability")
        out.append({
            "track_id": track_id,
            "features": {str(k): _number(v, f"{where}.features[{k!r}]") for k, v in features.items()},
            "score": None if score is None else _number(score, f"{where}.score"),
            "probability": None if probability is None else _number(probability, f"{where}.probability", 0.0, 1.0),
        })
    if not out:
        raise InvalidFeedback("candidates must not be empty: log the tracks the recommendation chose from")
    return out


def _metrics(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not hasattr(value, "items"):
        raise InvalidFeedback(f"metrics must map HRV metric names ({', '.join(HRV_METRICS)}) to numbers")
    out: dict[str, float] = {}
    for key, raw in value.items():
        name = _METRIC_NAMES.get(str(key).strip().lower())
        if name is None:
            raise InvalidFeedback(f"unknown HRV metric {key!r}; expected some of {', '.join(HRV_METRICS)}")
        if raw is None:
            continue
        out[name] = _number(raw, f"HRV metric {name}", low=0.0)
    return out


def _probabilities(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if hasattr(value, "items"):
        items = {}
        for key, raw in value.items():
            column = _PROBABILITY_NAMES.get(str(key).strip().lower())
            if column is None:
                raise InvalidFeedback(f"stress probabilities must be keyed low/medium/high; got key {key!r}")
            items[column] = raw
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        items = dict(zip(("p_low", "p_medium", "p_high"), value, strict=True))
    else:
        raise InvalidFeedback(f"stress probabilities must be {{low, medium, high}} or 3 numbers; got {value!r}")
    if set(items) != {"p_low", "p_medium", "p_high"}:
        raise InvalidFeedback(f"stress probabilities need low, medium and high; got {sorted(items)}")
    out = {k: _number(v, f"stress probability {k[2:]}", 0.0, 1.0) for k, v in items.items()}
    if abs(sum(out.values()) - 1.0) > 1e-3:
        raise InvalidFeedback(f"stress probabilities must sum to 1; got {sum(out.values()):.4f}")
    return out


_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def _client_key(value: Any) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or not 8 <= len(value) <= schema.CLIENT_KEY_LENGTH
            or not set(value) <= _KEY_CHARS):
        raise InvalidFeedback(
            f"client_key must be 8 to {schema.CLIENT_KEY_LENGTH} characters of letters, digits and - _ . : "
            f"(a fresh one per feedback, e.g. a UUID, reused only to retry it); got {value!r}")
    return value


def _cursor(value: Any, name: str = "cursor") -> int:
    return _integer(value, name, 0, 2**63 - 1, " (a feedback id; 0 means from the start)")


# --------------------------------------------------------------------------- the store


class FeedbackStore:
    """Recommendation events and feedback rows in one SQLAlchemy database.

    ``url`` defaults to the configured one (:func:`default_url`); ``rewards`` to
    ``feedback.reward`` (used when :meth:`record_feedback` gets no explicit reward).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings=None,
        rewards: Mapping[str, float] | None = None,
        busy_timeout_ms: int | None = None,
    ) -> None:
        if settings is None and (url is None or rewards is None or busy_timeout_ms is None):
            from moodtune.settings import get_settings

            settings = get_settings()
        self.url = url or default_url(settings)
        self.rewards = reward_table(rewards if rewards is not None else settings.feedback.reward)
        timeout = busy_timeout_ms if busy_timeout_ms is not None else settings.feedback.busy_timeout_ms
        self.engine = _make_engine(self.url, int(timeout))
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FeedbackStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        """Close the pooled connections (the store can be used again afterwards)."""
        self.engine.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- schema

    def ensure_schema(self) -> None:
        """Create the tables if they do not exist (idempotent; safe across processes)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self._writer.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
                schema.metadata.create_all(conn, checkfirst=True)
                _add_new_columns(conn)
            self._schema_ready = True

    @contextmanager
    def _write(self, *, serialise_feedback: bool = False) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back on an error)."""
        self.ensure_schema()
        with self._writer.begin() as conn:
            if serialise_feedback and self.dialect == "postgresql":
                # sequences hand out ids before commit; serialising feedback inserts makes ids
                # become visible in id order, so a "last id seen" cursor never skips a row
                conn.execute(select(func.pg_advisory_xact_lock(_PG_FEEDBACK_LOCK)))
            yield conn

    def dedicated_writer(self, *, synchronous: str = "full") -> Connection:
        """A connection of its own for write transactions (``with conn.begin(): ...``), kept
        by one writer thread. SQLite: ``synchronous`` ``"full"`` or ``"normal"`` for this
        connection only; every other write of the store stays ``FULL``."""
        if synchronous not in SYNC_MODES:
            raise ConfigError(f"synchronous must be 'full' or 'normal'; got {synchronous!r}")
        self.ensure_schema()
        conn = self._writer.connect()
        if self.dialect == "sqlite":  # on the driver's connection: no transaction is begun for it
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            finally:
                cursor.close()
        return conn

    def _read(self):
        self.ensure_schema()
        return self.engine.connect()

    def journal_mode(self) -> str | None:
        """SQLite's journal mode (``"wal"``), ``None`` on other databases."""
        if self.dialect != "sqlite":
            return None
        with self._read() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()

    def tables(self) -> list[str]:
        """The tables present in the database."""
        return sorted(inspect(self.engine).get_table_names())

    # ----------------------------------------------------------------- writes

    def record_recommendation(
        self,
        *,
        source: str,
        age: int,
        gender: str,
        mood: int,
        candidates: Sequence[Mapping[str, Any]],
        k: int | None = None,
        chosen: Sequence[str] | None = None,
        model_versions: Mapping[str, Any] | None = None,
    ) -> str:
        """Log a recommendation; returns its id (uuid4 hex) once it is committed.

        ``candidates``: ``{track_id, features, score, probability}`` for every track the
        recommendation chose from (``probability``: the logged probability of choosing it).
        ``chosen``: the recommended track ids (default: the first ``k`` candidates);
        ``k`` defaults to ``len(chosen)``.
        """
        row = {
            "source": _choice(source, "source", RECOMMENDATION_SOURCES),
            "age": _integer(age, "age", 0, 130, " (years)"),
            "gender": _text(gender, "gender", schema.GENDER_LENGTH),
            "mood": _integer(mood, "mood", 1, 5, " (1 = sad .. 5 = happy)"),
            "model_versions": _versions(model_versions),
        }
        cands = _candidates(candidates)
        if chosen is None:
            if k is None:
                raise InvalidFeedback("give the chosen track ids or k (the first k candidates are chosen)")
            k = _integer(k, "k", 1, len(cands), f" (there are {len(cands)} candidates)")
            picked = [c["track_id"] for c in cands[:k]]
        else:
            if isinstance(chosen, str) or not isinstance(chosen, Iterable):
                raise InvalidFeedback(f"chosen must be a list of track ids; got {chosen!r}")
            picked = [_text(t, "chosen track id", schema.TRACK_ID_LENGTH) for t in chosen]
            known = {c["track_id"] for c in cands}
            missing = [t for t in picked if t not in known]
            if missing:
                raise InvalidFeedback(f"chosen tracks {missing} are not among the candidates")
            if len(set(picked)) != len(picked):
                raise InvalidFeedback(f"chosen lists a track twice: {picked}")
            if not picked:
                raise InvalidFeedback("chosen must name at least one track")
            k = len(picked) if k is None else _integer(k, "k", len(picked), 10**6,
                                                        " (at least the number of chosen tracks)")
        row.update(id=uuid.uuid4().hex, k=k, candidates=cands, chosen=picked)
        with self._write() as conn:
            conn.execute(recommendations.insert().values(created_at=datetime.now(UTC), **row))
        return row["id"]

    def record_feedback(
        self,
        recommendation_id: str,
        track_id: str,
        stress_level: str,
        reward: float | None = None,
        metrics: Mapping[str, float] | None = None,
        probabilities: Mapping[str, float] | Sequence[float] | None = None,
        source: str | None = None,
        model_versions: Mapping[str, Any] | None = None,
        client_key: str | None = None,
    ) -> FeedbackRow:
        """Store a listener's response to one recommended track; returns the committed row.

        ``reward`` defaults to the configured reward for ``stress_level``. ``metrics``: any of
        the eight HRV metrics (names case-insensitive; ``SDNN`` is taken as ``SDRR``).
        ``probabilities``: the stress model's ``{low, medium, high}``. ``source`` defaults to
        ``"metrics"`` when metrics are given, else ``"explicit"``. The row's model versions are
        the recommendation's, updated with ``model_versions`` (e.g. the HRV model's).
        The track must be one of the recommendation's candidates; its logged probability is
        copied to ``choice_probability``.

        ``client_key`` (optional, unique) makes a retry safe: a call with a key already stored
        for the same recommendation and track returns that row (``replayed=True``) and stores
        nothing; the same key for another recommendation or track is refused.
        """
        rec_id = _text(recommendation_id, "recommendation_id", 200)
        track = _text(track_id, "track_id", schema.TRACK_ID_LENGTH)
        level = normalise_level(stress_level)
        values = _metrics(metrics)
        probs = _probabilities(probabilities)
        if source is None:
            source = "metrics" if values else "explicit"
        source = _choice(source, "feedback source", FEEDBACK_SOURCES)
        if source in ("rr", "metrics") and not values:
            raise InvalidFeedback(f"feedback from {source!r} needs the HRV metrics it was computed from")
        reward_value = (
            reward_for_stress(level, self.rewards) if reward is None else _number(reward, "reward")
        )
        extra_versions = _versions(model_versions)
        key = _client_key(client_key)

        with self._write(serialise_feedback=True) as conn:  # one writer at a time: no check-then-insert race
            if key is not None:
                earlier = conn.execute(select(feedback).where(feedback.c.client_key == key)).mappings().first()
                if earlier is not None:
                    if (earlier["recommendation_id"], earlier["track_id"]) != (rec_id, track):
                        raise InvalidFeedback(
                            f"client_key {key!r} was already used for feedback {earlier['id']} on track "
                            f"{earlier['track_id']!r} of recommendation {earlier['recommendation_id']}; "
                            "send a new key with new feedback")
                    return replace(_feedback_row(earlier), replayed=True)
            rec = conn.execute(
                select(recommendations.c.candidates, recommendations.c.model_versions)
                .where(recommendations.c.id == rec_id)
            ).first()
            if rec is None:
                raise InvalidFeedback(
                    f"unknown recommendation_id {rec_id!r}: give the id a recommend call returned"
                )
            candidate = next((c for c in rec.candidates if c["track_id"] == track), None)
            if candidate is None:
                shown = [c["track_id"] for c in rec.candidates]
                listed = ", ".join(shown[:10]) + (" …" if len(shown) > 10 else "")
                raise InvalidFeedback(
                    f"track {track!r} was not among the candidates of recommendation {rec_id} ({listed})"
                )
            row = {
                "recommendation_id": rec_id,
                "track_id": track,
                "created_at": datetime.now(UTC),
                **{name: values.get(name) for name in HRV_METRICS},
                "source": source,
                "stress_level": level,
                **(probs or {"p_low": None, "p_medium": None, "p_high": None}),
                "reward": reward_value,
                "choice_probability": candidate.get("probability"),
                "model_versions": {**(rec.model_versions or {}), **extra_versions},
                "client_key": key,
            }
            new_id = conn.execute(feedback.insert().values(**row).returning(feedback.c.id)).scalar_one()
        return _feedback_row({"id": new_id, **row})

    # ----------------------------------------------------------------- reads

    def get_recommendation(self, recommendation_id: str) -> Recommendation:
        """The logged recommendation (:class:`InvalidFeedback` when the id is unknown)."""
        rec_id = _text(recommendation_id, "recommendation_id", 200)
        with self._read() as conn:
            row = conn.execute(select(recommendations).where(recommendations.c.id == rec_id)).mappings().first()
        if row is None:
            raise InvalidFeedback(f"unknown recommendation_id {rec_id!r}")
        return Recommendation(**{k: row[k] for k in recommendations.c.keys()})

    def get_feedback(self, feedback_id: int) -> FeedbackRow:
        """One feedback row by id (:class:`InvalidFeedback` when there is none)."""
        fid = _cursor(feedback_id, "feedback id")
        with self._read() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == fid)).mappings().first()
        if row is None:
            raise InvalidFeedback(f"no feedback row with id {fid}")
        return _feedback_row(row)

    def latest_feedback_id(self) -> int:
        """The highest feedback id (0 when there is no feedback yet)."""
        with self._read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(feedback.c.id), 0))).scalar_one())

    def count_since(self, cursor_id: int) -> int:
        """How many feedback rows have an id above ``cursor_id``."""
        cursor = _cursor(cursor_id)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(feedback.c.id > cursor)).scalar_one())

    def count_recommendations(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(recommendations)).scalar_one())

    def feedback_since(self, cursor_id: int, limit: int | None = None):
        """The replay buffer: feedback rows with ``id > cursor_id`` in id order (at most
        ``limit``), each joined with its recommendation's listener context and candidates.

        Returns a pandas DataFrame with :data:`REPLAY_COLUMNS`: the feedback row's columns, the
        recommendation's (``recommendation_created_at``, ``recommendation_source``, ``age``,
        ``gender``, ``mood``, ``k``, ``candidates``, ``chosen``,
        ``recommendation_model_versions``), and the chosen track's logged ``features`` and
        ``score``.
        """
        import pandas as pd

        cursor = _cursor(cursor_id)
        r = recommendations.c
        query = (
            select(
                feedback,
                r.created_at.label("recommendation_created_at"),
                r.source.label("recommendation_source"),
                r.age, r.gender, r.mood, r.k, r.candidates, r.chosen,
                r.model_versions.label("recommendation_model_versions"),
            )
            .join(recommendations, feedback.c.recommendation_id == r.id)
            .where(feedback.c.id > cursor)
            .order_by(feedback.c.id)
        )
        if limit is not None:
            query = query.limit(_integer(limit, "limit", 1, 2**31 - 1))
        with self._read() as conn:
            rows = [dict(m) for m in conn.execute(query).mappings()]
        for row in rows:
            candidate = next((c for c in row["candidates"] if c["track_id"] == row["track_id"]), {})
            row["features"] = candidate.get("features", {})
            row["score"] = candidate.get("score")
        frame = pd.DataFrame(rows, columns=list(REPLAY_COLUMNS))
        for column in (*HRV_METRICS, "p_low", "p_medium", "p_high", "reward", "choice_probability", "score"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)  # None -> NaN
        for column in ("created_at", "recommendation_created_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def window(self, cursor_from: int, cursor_to: int | None = None) -> FeedbackWindow:
        """Summary of the rows ``cursor_from < id <= cursor_to`` (no upper bound when ``None``):
        count, first/last id and first/last timestamps, for logging a run's data window."""
        lo = _cursor(cursor_from, "cursor_from")
        hi = None if cursor_to is None else _cursor(cursor_to, "cursor_to")
        condition = feedback.c.id > lo
        if hi is not None:
            condition = condition & (feedback.c.id <= hi)
        query = select(
            func.count(), func.min(feedback.c.id), func.max(feedback.c.id),
            func.min(feedback.c.created_at), func.max(feedback.c.created_at),
        ).where(condition)
        with self._read() as conn:
            count, first_id, last_id, first_at, last_at = conn.execute(query).one()
        return FeedbackWindow(
            cursor_from=lo,
            cursor_to=hi,
            count=int(count),
            first_id=first_id,
            last_id=last_id,
            first_at=first_at,  # min/max keep the column's type: aware UTC datetimes
            last_at=last_at,
        )


REPLAY_COLUMNS: tuple[str, ...] = (
    *feedback.c.keys(),
    "recommendation_created_at", "recommendation_source", "age", "gender", "mood", "k",
    "candidates", "chosen", "recommendation_model_versions", "features", "score",
)


def _feedback_row(row: Mapping[str, Any]) -> FeedbackRow:
    probs = None
    if row["p_low"] is not None:
        probs = {"low": row["p_low"], "medium": row["p_medium"], "high": row["p_high"]}
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return FeedbackRow(
        id=int(row["id"]),
        recommendation_id=row["recommendation_id"],
        track_id=row["track_id"],
        created_at=created,
        source=row["source"],
        stress_level=row["stress_level"],
        reward=float(row["reward"]),
        choice_probability=row["choice_probability"],
        metrics={name: row[name] for name in HRV_METRICS},
        probabilities=probs,
        model_versions=dict(row["model_versions"] or {}),
        client_key=row.get("client_key"),
    )


def _add_new_columns(conn: Connection) -> None:
    """Bring a database created by an earlier schema up to date: add the (nullable) columns
    the schema has gained since, and their indexes. Nothing is dropped or changed."""
    db = inspect(conn)
    for table in schema.metadata.sorted_tables:
        present = {c["name"] for c in db.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise ConfigError(f"the feedback database lacks {table.name}.{column.name}, which cannot be "
                                  "added in place; migrate it or point feedback.url at a new database")
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
            for index in table.indexes:
                if column.name in index.columns:
                    index.create(conn, checkfirst=True)


# --------------------------------------------------------------------------- shared stores

_STORES: dict[tuple[int, str], FeedbackStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(url: str | None = None, *, settings=None) -> FeedbackStore:
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


__all__ = [
    "FeedbackRow",
    "FeedbackStore",
    "FeedbackWindow",
    "REPLAY_COLUMNS",
    "Recommendation",
    "default_url",
    "open_store",
]
