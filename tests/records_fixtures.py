"""Database fixtures for the records tests, loaded with `pytest_plugins =
["tests.records_fixtures"]` (never imported directly, so pytest can rewrite its asserts).

`engine` runs a test twice: on a fresh SQLite file and on PostgreSQL. The PostgreSQL
database is created for the test session (patentdesk_test_<random>, through the
`postgres` maintenance database at 127.0.0.1:5432, user postgres) and dropped at the end;
with no server there, those tests are skipped and the terminal says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.records.migrate import migrate
from bot.records.store import make_engine
from tests.records_kit import PG_HOST, PG_PORT, RECORD_TABLES, admin_connection, throwaway_database


@pytest.fixture(scope="session")
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    import psycopg2

    try:
        admin_connection().close()
    except psycopg2.OperationalError as exc:
        reason = f"no PostgreSQL at {PG_HOST}:{PG_PORT} ({str(exc).strip()}): PostgreSQL records tests skipped"
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"\n{reason}", yellow=True)
        pytest.skip(reason)
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A records database at the latest schema and empty."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        migrate(engine)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(RECORD_TABLES)} RESTART IDENTITY CASCADE"))
                conn.execute(text("UPDATE kb_state SET version = 0, updated_at = NULL"))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
