"""The records migrations: from code without alembic.ini, the same on SQLite and
PostgreSQL, in agreement with schema.py, reversible, and safe on databases made before
migrations existed (old `exchanges` table, console-made `agent_accounts`)."""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.config import PROJECT_ROOT
from bot.records.migrate import MIGRATIONS, alembic_config, current, downgrade, head, migrate
from bot.records.schema import agent_accounts, metadata
from bot.records.store import make_engine

pytest_plugins = ["tests.records_fixtures"]

TABLES = {"enquiries", "messages", "enquiry_events", "rejected_events", "agent_accounts",
          "kb_entries", "kb_history", "kb_state", "kb_servers"}


def test_migrated_database_matches_schema_py(engine) -> None:
    assert current(engine) == head() == "0004"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert TABLES <= set(inspect(engine).get_table_names())


def test_downgrade_to_base_and_up_again(engine) -> None:
    assert downgrade(engine) is None
    assert not TABLES & set(inspect(engine).get_table_names())
    assert migrate(engine) == "0004"
    assert migrate(engine) == "0004"  # at head: nothing to do
    assert TABLES <= set(inspect(engine).get_table_names())


def test_database_from_before_migrations_is_taken_over(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE exchanges (id INTEGER PRIMARY KEY, msg_key VARCHAR(128))"))
    agent_accounts.create(engine)  # as the console's ensure_table does
    with engine.begin() as conn:
        conn.execute(agent_accounts.insert().values(login="li", name="小李", role="agent", password_hash="x",
                                                    capacity=3, disabled=False, created_at=datetime.now(UTC)))
    assert migrate(engine) == "0004"
    assert "exchanges" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(select(agent_accounts.c.login)).scalars().all() == ["li"]
    engine.dispose()


def test_config_is_built_in_code_and_the_scripts_ship_as_package_data() -> None:
    config = alembic_config()
    assert config.config_file_name is None and config.get_main_option("script_location") == str(MIGRATIONS)
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["bot.records"]
    package = MIGRATIONS.parent
    files = [p.relative_to(package).as_posix() for p in MIGRATIONS.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    assert {"migrations/env.py", "migrations/script.py.mako", "migrations/versions/0001_enquiries.py",
            "migrations/versions/0002_knowledge_entries.py",
            "migrations/versions/0003_teams.py",
            "migrations/versions/0004_wechat_scenes_delivery.py"} <= set(files)
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files
