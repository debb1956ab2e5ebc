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
* bad input is :class:`~moodtune.errors.InvalidFeedback` with a message that says what to fix
  (the records are validated by :mod:`moodtune.feedback.models`), raised before anything is
  written; nothing already stored is touched.

Every recommendation row is written by :meth:`FeedbackStore.insert_recommendations` (one
event or a group-committed batch); every feedback row by :meth:`FeedbackStore.insert_feedback_group` (one row or a group).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Text, bindparam, func, inspect, select
from sqlalchemy.engine import Connection, make_url

from moodtune.errors import InvalidFeedback
from moodtune.feedback import schema
from moodtune.feedback.database import WRITE, default_url, make_engine, set_synchronous
from moodtune.feedback.migration import add_new_columns
from moodtune.feedback.models import FeedbackInput, RecommendationEvent, cursor
from moodtune.feedback.records import FeedbackRow, FeedbackWindow, Recommendation, feedback_row
from moodtune.feedback.reward import reward_for_stress, reward_table
from moodtune.feedback.schema import HRV_BASELINE_COLUMNS, HRV_METRICS, feedback, recommendations

if TYPE_CHECKING:
    from moodtune.settings import Settings

# Transaction-level advisory lock keys (PostgreSQL): schema creation, feedback inserts.
_PG_SCHEMA_LOCK = 0x6D6F6F6474756E01
_PG_FEEDBACK_LOCK = 0x6D6F6F6474756E02
_JSON_COLUMNS = ("model_versions", "candidates", "chosen")
# one INSERT for a group of rows (SQLAlchemy's "insertmanyvalues"), ids handed back in the rows' order
_INSERT_FEEDBACK = feedback.insert().returning(feedback.c.id, sort_by_parameter_order=True)


class FeedbackStore:
    """Recommendation events and feedback rows in one SQLAlchemy database.

    ``settings`` gives what is not passed: ``url`` (:func:`default_url`), ``rewards``
    (``feedback.reward``, used when :meth:`record_feedback` gets no explicit reward) and
    ``busy_timeout_ms``; without ``settings`` all three are required.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        rewards: Mapping[str, float] | None = None,
        busy_timeout_ms: int | None = None,
    ) -> None:
        if settings is None:
            if url is None or rewards is None or busy_timeout_ms is None:
                raise TypeError("FeedbackStore: pass settings, or url, rewards and busy_timeout_ms")
            self.url = url
            self.rewards = reward_table(rewards)
            timeout = busy_timeout_ms
        else:
            self.url = url or default_url(settings)
            self.rewards = reward_table(rewards if rewards is not None else settings.feedback.reward)
            timeout = busy_timeout_ms if busy_timeout_ms is not None else settings.feedback.busy_timeout_ms
        self.engine = make_engine(self.url, int(timeout))
        self._writer = self.engine.execution_options(**{WRITE: True})
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        # SQLite keeps JSON as text: the JSON columns are bound as ready strings (json.dumps, as
        # the JSON type would), so a group insert's encoding can happen before its transaction
        self._as_text = self.engine.url.get_backend_name() == "sqlite"
        self._insert_recommendation = _text_insert() if self._as_text else recommendations.insert()

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

    # ----------------------------------------------------------------- schema and connections

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
                add_new_columns(conn)
            self._schema_ready = True

    @contextmanager
    def write(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back on an error): on
        ``conn`` (a :meth:`dedicated_writer`) or on a pooled connection."""
        self.ensure_schema()
        if conn is None:
            with self._writer.begin() as pooled:
                yield pooled
            return
        with conn.begin():
            yield conn

    def dedicated_writer(self, *, synchronous: str = "full") -> Connection:
        """A connection of its own for write transactions (:meth:`write` ``(conn)``), kept by
        one writer thread. SQLite: ``synchronous`` ``"full"`` or ``"normal"`` for this
        connection only; every other write of the store stays ``FULL``."""
        from moodtune.errors import ConfigError
        from moodtune.feedback.database import SYNC_MODES

        if synchronous not in SYNC_MODES:
            raise ConfigError(f"synchronous must be 'full' or 'normal'; got {synchronous!r}")
        self.ensure_schema()
        conn = self._writer.connect()
        if self.dialect == "sqlite":
            set_synchronous(conn, synchronous)
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

    # ----------------------------------------------------------------- recommendation events

    def encode_recommendations(self, events: Sequence[RecommendationEvent]) -> list[dict[str, Any]]:
        """The table rows of validated events, each with a fresh id, ready to insert."""
        now = datetime.now(UTC)
        rows = []
        for event in events:
            row = {
                "id": uuid.uuid4().hex,
                "created_at": now,
                "source": event.source,
                "age": event.age,
                "gender": event.gender,
                "mood": event.mood,
                "k": event.k,
                "model_versions": dict(event.model_versions),
                "chosen": list(cast("list[str]", event.chosen)),
            }  # set by the event's validator
            if self._as_text:
                row["candidates"] = event.candidates_json or json.dumps(event.candidate_rows())
                row["model_versions"] = json.dumps(row["model_versions"])
                row["chosen"] = json.dumps(row["chosen"])
            else:
                row["candidates"] = event.candidate_rows()
            rows.append(row)
        return rows

    def insert_recommendations(self, conn: Connection, rows: list[dict[str, Any]]) -> list[str]:
        """Insert encoded rows (:meth:`encode_recommendations`) in ``conn``'s transaction; their ids."""
        conn.execute(self._insert_recommendation, rows)
        return [r["id"] for r in rows]

    def record_recommendation(self, event: RecommendationEvent | None = None, /, **fields: Any) -> str:
        """Log a recommendation; returns its id (uuid4 hex) once it is committed.

        A :class:`~moodtune.feedback.models.RecommendationEvent`, or its fields: ``source``,
        ``age``, ``gender``, ``mood``, ``candidates`` (``{track_id, features, score,
        probability}`` for every track the recommendation chose from; ``probability``: the
        logged probability of choosing it), ``chosen`` (default: the first ``k`` candidates),
        ``k`` (default ``len(chosen)``), ``model_versions``.
        """
        event = event if event is not None else RecommendationEvent(**fields)
        rows = self.encode_recommendations([event])
        with self.write() as conn:
            return self.insert_recommendations(conn, rows)[0]

    # ----------------------------------------------------------------- feedback

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
        baseline: Mapping[str, float] | None = None,
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

        ``baseline``: the eight metrics of the listener's resting recording the HRV was read
        against (stored with the row, for retraining to read it the same way).
        """
        given = FeedbackInput(
            recommendation_id=recommendation_id,
            track_id=track_id,
            stress_level=stress_level,
            reward=reward,
            metrics=metrics,
            probabilities=probabilities,
            source=source,
            model_versions=model_versions,
            client_key=client_key,
            baseline=baseline,
        )
        with self.write() as conn:
            return self.insert_feedback(conn, given)

    def insert_feedback(self, conn: Connection, given: FeedbackInput) -> FeedbackRow:
        """Store one validated feedback row in ``conn``'s write transaction (the caller commits):
        :meth:`insert_feedback_group` of one row, its refusal raised."""
        (result,) = self.insert_feedback_group(conn, [given])
        if isinstance(result, InvalidFeedback):
            raise result
        return result

    def insert_feedback_group(
        self,
        conn: Connection,
        group: Sequence[FeedbackInput],
    ) -> list[FeedbackRow | InvalidFeedback]:
        """Store validated feedback rows in ``conn``'s write transaction (the caller commits):
        one query for the group's client keys, one for its recommendations, one INSERT for all
        of its rows. Returns, per row in order, the stored row or the :class:`InvalidFeedback`
        that refused it before anything was written (an unknown recommendation, a track that
        was not a candidate, a ``client_key`` used for other feedback); the others are stored.
        A key given twice in one group stores the first and replays it for the second."""
        if self.dialect == "postgresql":
            # sequences hand out ids before commit; serialising feedback inserts makes ids
            # become visible in id order, so a "last id seen" cursor never skips a row
            conn.execute(select(func.pg_advisory_xact_lock(_PG_FEEDBACK_LOCK)))
        keys = {g.client_key for g in group if g.client_key is not None}
        earlier = (
            {}
            if not keys
            else {  # inside the write transaction: no check-then-insert race
                m["client_key"]: m
                for m in conn.execute(select(feedback).where(feedback.c.client_key.in_(keys))).mappings()
            }
        )
        known = {  # a recommendation never changes once written: each is read once per group
            r.id: ({c["track_id"]: c for c in r.candidates}, r.model_versions or {})
            for r in conn.execute(
                select(
                    recommendations.c.id, recommendations.c.candidates, recommendations.c.model_versions
                ).where(recommendations.c.id.in_({g.recommendation_id for g in group}))
            )
        }
        results: list[FeedbackRow | InvalidFeedback | None] = [None] * len(group)
        rows, slots, first_with_key = [], [], {}
        now = datetime.now(UTC)
        for i, given in enumerate(group):
            key, rec_id, track = given.client_key, given.recommendation_id, given.track_id
            if key in earlier or key in first_with_key:
                continue  # answered once the group's rows have ids (below)
            if rec_id not in known:
                results[i] = InvalidFeedback(
                    f"unknown recommendation_id {rec_id!r}: give the id a recommend call returned"
                )
                continue
            candidates, rec_versions = known[rec_id]
            candidate = candidates.get(track)
            if candidate is None:
                shown = list(candidates)
                listed = ", ".join(shown[:10]) + (" …" if len(shown) > 10 else "")
                results[i] = InvalidFeedback(
                    f"track {track!r} was not among the candidates of recommendation {rec_id} ({listed})"
                )
                continue
            rows.append(
                {
                    "recommendation_id": rec_id,
                    "track_id": track,
                    "created_at": now,
                    **{name: given.metrics.get(name) for name in HRV_METRICS},
                    "source": given.source,
                    "stress_level": given.stress_level,
                    **(given.probabilities or {"p_low": None, "p_medium": None, "p_high": None}),
                    "reward": reward_for_stress(given.stress_level, self.rewards)
                    if given.reward is None
                    else given.reward,
                    "choice_probability": candidate.get("probability"),
                    "model_versions": {**rec_versions, **given.model_versions},
                    "client_key": key,
                    **{f"baseline_{name}": given.baseline.get(name) for name in HRV_METRICS},
                }
            )
            slots.append(i)
            if key is not None:
                first_with_key[key] = i
        if rows:
            new_ids = conn.execute(_INSERT_FEEDBACK, rows).scalars().all()
            for i, row, new_id in zip(slots, rows, new_ids, strict=True):
                results[i] = feedback_row({"id": new_id, **row})
        for i, given in enumerate(group):
            if results[i] is None:  # a key stored before, or earlier in this group
                key = cast(str, given.client_key)  # set: only a row with a key is left unanswered above
                first = (
                    feedback_row(cast("Mapping[str, Any]", earlier[key]))
                    if key in earlier
                    else cast(FeedbackRow, results[first_with_key[key]])
                )  # stored just above
                results[i] = _replay(first, given)
        return cast("list[FeedbackRow | InvalidFeedback]", results)  # every slot answered

    # ----------------------------------------------------------------- reads

    def get_recommendation(self, recommendation_id: str) -> Recommendation:
        """The logged recommendation (:class:`InvalidFeedback` when the id is unknown)."""
        rec_id = str(recommendation_id).strip()
        with self._read() as conn:
            row = (
                conn.execute(select(recommendations).where(recommendations.c.id == rec_id)).mappings().first()
            )
        if row is None:
            raise InvalidFeedback(f"unknown recommendation_id {rec_id!r}")
        return Recommendation(**{k: row[k] for k in recommendations.c.keys()})

    def get_feedback(self, feedback_id: int) -> FeedbackRow:
        """One feedback row by id (:class:`InvalidFeedback` when there is none)."""
        fid = cursor(feedback_id, "feedback id")
        with self._read() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == fid)).mappings().first()
        if row is None:
            raise InvalidFeedback(f"no feedback row with id {fid}")
        return feedback_row(row)

    def latest_feedback_id(self) -> int:
        """The highest feedback id (0 when there is no feedback yet)."""
        with self._read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(feedback.c.id), 0))).scalar_one())

    def count_since(self, cursor_id: int) -> int:
        """How many feedback rows have an id above ``cursor_id``."""
        lo = cursor(cursor_id)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(feedback.c.id > lo)).scalar_one())

    def count_recommendations(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(recommendations)).scalar_one())

    def feedback_since(self, cursor_id: int, limit: int | None = None):
        """The replay buffer: feedback rows with ``id > cursor_id`` in id order (at most
        ``limit``), each joined with its recommendation's listener context and candidates.

        Returns a pandas DataFrame with :data:`REPLAY_COLUMNS`: the feedback row's columns, the
        recommendation's (``recommendation_created_at``, ``recommendation_source``, ``age``,
        ``gender``, ``mood``, ``k``, ``candidates``, ``chosen``,
        ``recommendation_model_versions``), and the chosen track's logged ``features``, ``score``
        and ``shadow_probability`` (the probability the challenger running in shadow would have
        served it first; NaN when none ran).
        """
        import pandas as pd

        lo = cursor(cursor_id)
        r = recommendations.c
        query = (
            select(
                feedback,
                r.created_at.label("recommendation_created_at"),
                r.source.label("recommendation_source"),
                r.age,
                r.gender,
                r.mood,
                r.k,
                r.candidates,
                r.chosen,
                r.model_versions.label("recommendation_model_versions"),
            )
            .join(recommendations, feedback.c.recommendation_id == r.id)
            .where(feedback.c.id > lo)
            .order_by(feedback.c.id)
        )
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**31 - 1:
                raise InvalidFeedback(f"limit must be a whole number from 1 to {2**31 - 1}; got {limit!r}")
            query = query.limit(limit)
        with self._read() as conn:
            rows = [dict(m) for m in conn.execute(query).mappings()]
        for row in rows:
            candidate: dict[str, Any] = next(
                (c for c in row["candidates"] if c["track_id"] == row["track_id"]), {}
            )
            row["features"] = candidate.get("features", {})
            row["score"] = candidate.get("score")
            row["shadow_probability"] = candidate.get("shadow_probability")
        frame = pd.DataFrame(rows, columns=list(REPLAY_COLUMNS))
        for column in (
            *HRV_METRICS,
            *HRV_BASELINE_COLUMNS,
            "p_low",
            "p_medium",
            "p_high",
            "reward",
            "choice_probability",
            "score",
            "shadow_probability",
        ):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)  # None -> NaN
        for column in ("created_at", "recommendation_created_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def window(self, cursor_from: int, cursor_to: int | None = None) -> FeedbackWindow:
        """Summary of the rows ``cursor_from < id <= cursor_to`` (no upper bound when ``None``):
        count, first/last id and first/last timestamps, for logging a run's data window."""
        lo = cursor(cursor_from, "cursor_from")
        hi = None if cursor_to is None else cursor(cursor_to, "cursor_to")
        condition = feedback.c.id > lo
        if hi is not None:
            condition = condition & (feedback.c.id <= hi)
        query = select(
            func.count(),
            func.min(feedback.c.id),
            func.max(feedback.c.id),
            func.min(feedback.c.created_at),
            func.max(feedback.c.created_at),
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
    "recommendation_created_at",
    "recommendation_source",
    "age",
    "gender",
    "mood",
    "k",
    "candidates",
    "chosen",
    "recommendation_model_versions",
    "features",
    "score",
    "shadow_probability",
)


def _replay(row: FeedbackRow, given: FeedbackInput) -> FeedbackRow | InvalidFeedback:
    """The answer to a row whose ``client_key`` ``row`` already has (stored before, or earlier
    in the same group): that row, replayed, for the same recommendation and track; else a refusal."""
    if (row.recommendation_id, row.track_id) != (given.recommendation_id, given.track_id):
        return InvalidFeedback(
            f"client_key {given.client_key!r} was already used for feedback {row.id} on track "
            f"{row.track_id!r} of recommendation {row.recommendation_id}; send a new key with new feedback"
        )
    return replace(row, replayed=True)


def _text_insert():
    """INSERT INTO recommendations with the JSON columns bound as text (SQLite only)."""
    return recommendations.insert().values(
        {
            c.name: bindparam(c.name, type_=Text())
            if c.name in _JSON_COLUMNS
            else bindparam(c.name, type_=c.type)
            for c in recommendations.c
        }
    )
