"""Bring a feedback database created by an earlier schema up to date."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from moodtune.errors import ConfigError
from moodtune.feedback import schema


def add_new_columns(conn: Connection) -> None:
    """Add the (nullable) columns the schema has gained since the database was created, and
    their indexes. Nothing is dropped or changed."""
    db = inspect(conn)
    for table in schema.metadata.sorted_tables:
        present = {c["name"] for c in db.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise ConfigError(
                    f"the feedback database lacks {table.name}.{column.name}, which cannot be "
                    "added in place; migrate it or point feedback.url at a new database"
                )
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
            for index in table.indexes:
                if column.name in index.columns:
                    index.create(conn, checkfirst=True)
