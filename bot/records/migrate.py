"""Schema migrations of the records database, run from code.

The alembic scripts ship as package data (`bot/records/migrations/`), and the alembic
configuration is built here, so an installed patentdesk needs no alembic.ini and no
working directory: the records writer upgrades to head when it starts, and
`patentdesk records migrate` does the same by hand. On PostgreSQL an advisory lock makes
two processes starting at once take turns instead of both creating the tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 0x70746D67  # "ptmg"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run(engine: Engine, step: str, revision: str) -> str | None:
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
        config.attributes["connection"] = conn
        getattr(command, step)(config, revision)
    return current(engine)


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to `revision`; returns the revision it is at afterwards."""
    return _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> str | None:
    """Undo migrations down to `revision` (`base`: drop every records table)."""
    return _run(engine, "downgrade", revision)
