"""Alembic environment for the records database.

Run from code (`bot.records.migrate`), which hands over an open connection in
`config.attributes["connection"]`; there is no alembic.ini at run time. For developers,
`alembic -c <ini>` also works when the ini's `sqlalchemy.url` (or DATABASE_URL) names
the database. `render_as_batch` lets the same scripts alter tables on SQLite, which has
almost no ALTER TABLE, by copying them.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from bot.records.schema import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the records migrations run online only (patentdesk records migrate)")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set sqlalchemy.url or DATABASE_URL")
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
