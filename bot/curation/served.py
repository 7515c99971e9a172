"""The knowledge the assistant serves: knowledge/*.yml plus the entries published in the
console (records database), and the check over both.

The database is optional at this layer: with no records database yet (a fresh SQLite
path, tables not migrated) the files alone are served. A database that exists but cannot
be read raises, so callers decide (the action server serves the files and retries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.curation import store
from bot.knowledge.check import Problem, check_folder
from bot.knowledge.entries import Entry, KnowledgeBase, load_knowledge
from bot.records.store import make_engine

log = logging.getLogger(__name__)


def records_engine(settings: Settings) -> Engine | None:
    """An engine on DATABASE_URL, or None when there is no records database to read
    (a SQLite file not created yet: reading must not create it)."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return make_engine(url)


def published_entries(engine: Engine | None) -> tuple[int, list[Entry]]:
    """(version, entries) published in the console; (0, []) without the tables."""
    if engine is None or not inspect(engine).has_table("kb_state"):
        return 0, []
    return store.published(engine)


def published_version(engine: Engine | None) -> int | None:
    """The published version; None without a database or before migration 0002."""
    if engine is None or not inspect(engine).has_table("kb_state"):
        return None
    return store.version(engine)


def served_knowledge(folder: Path, published: list[Entry]) -> KnowledgeBase:
    return load_knowledge(folder, published)


def current_knowledge(settings: Settings) -> tuple[int, KnowledgeBase]:
    """(published version, knowledge/ plus the console's published entries); the files
    alone, version -1, when the records database cannot be read now (the action server's
    watcher catches up once it can)."""
    from bot.knowledge.service import knowledge_dir

    try:
        version, entries = published_entries(records_engine(settings))
    except SQLAlchemyError as exc:
        log.warning("knowledge: console entries not read (%s); serving knowledge/ only for now", exc)
        version, entries = -1, []
    return version, served_knowledge(knowledge_dir(settings), entries)


def check_served(folder: Path, published: list[Entry]) -> tuple[int, list[Problem]]:
    """`patentdesk knowledge check` over both sources."""
    return check_folder(folder, published)


def check_strings(folder: Path) -> Callable[[list[Entry]], list[str]]:
    """The check the console runs before a publish: the files as they are now, plus the
    published entries handed in (the store's transaction supplies them)."""

    def check(entries: list[Entry]) -> list[str]:
        _count, problems = check_folder(folder, entries)
        return [str(p) for p in problems]

    return check


