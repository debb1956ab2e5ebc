"""The feedback database: its URL and a SQLAlchemy engine with the store's SQLite pragmas
(WAL, ``synchronous=FULL``, a busy timeout, ``BEGIN IMMEDIATE`` for writers)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from moodtune.errors import ConfigError

if TYPE_CHECKING:
    from moodtune.settings import Settings

SYNC_MODES = ("full", "normal")  # SQLite ``synchronous`` modes a dedicated writer may use
WRITE = "moodtune_write"  # execution option: this connection begins write transactions


def default_url(settings: Settings) -> str:
    """The configured feedback URL: ``feedback.url``, or the SQLite file under the data root.

    A relative ``sqlite:///path`` is pinned to the project root, like the MLflow store.
    """
    url = settings.feedback.url
    if not url:
        return f"sqlite:///{settings.data_path('feedback', 'feedback.db')}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return f"sqlite:///{settings.root / url[len('sqlite:///') :]}"
    return url


def sqlite_file(url) -> Path:
    """The database file of a SQLite URL; an in-memory database is refused."""
    database = url.database
    if (
        not database
        or database == ":memory:"
        or database.startswith("file::memory:")
        or url.query.get("mode") == "memory"
    ):
        raise ConfigError(
            "the feedback store needs a file (an in-memory SQLite database loses every row when "
            "the process ends): set feedback.url to sqlite:////absolute/path/feedback.db or null"
        )
    return Path(database)


def make_engine(url: str, busy_timeout_ms: int) -> Engine:
    """A SQLAlchemy engine for ``url``; on SQLite every connection gets the store's pragmas."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"feedback.url {url!r} is not a SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise ConfigError(f"no database driver for feedback.url {parsed!r}: {exc}") from exc
    path = sqlite_file(parsed)
    path.parent.mkdir(parents=True, exist_ok=True)
    # orjson decodes the JSON columns (a recommendation's candidates) several times faster than json
    engine = create_engine(
        parsed, connect_args={"timeout": busy_timeout_ms / 1000}, json_deserializer=orjson.loads
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # SQLAlchemy emits BEGIN itself (below); the driver's legacy transaction control
        # would otherwise skip BEGIN for SELECTs and DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = _journal_mode_wal(cursor, busy_timeout_ms)
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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _journal_mode_wal(cursor, busy_timeout_ms: int) -> str:
    """``PRAGMA journal_mode = WAL``, retried while the database is locked, up to the busy timeout.

    SQLite answers this pragma SQLITE_BUSY at once, without calling the busy handler, while
    another connection holds a lock it cannot wait for (processes opening a fresh database
    together: one converts it to WAL or creates the schema while another asks for WAL). Seen in
    tests/test_feedback_store.py's four processes racing to create a new store."""
    import sqlite3
    import time

    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.005
    while True:
        try:
            return cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def set_synchronous(conn, synchronous: str) -> None:
    """SQLite: this connection's ``synchronous`` mode (``"full"`` or ``"normal"``)."""
    if synchronous not in SYNC_MODES:
        raise ConfigError(f"synchronous must be 'full' or 'normal'; got {synchronous!r}")
    cursor = conn.connection.dbapi_connection.cursor()  # the driver's: no transaction is begun for it
    try:
        cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    finally:
        cursor.close()
