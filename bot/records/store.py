"""Synchronous SQL side of the records (run in a worker thread, never on the event loop)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from bot.records.schema import exchanges, metadata


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, future=True, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    row = {c.name: record.get(c.name) for c in exchanges.columns if c.name != "id"}
    for name in ("received_at", "replied_at"):
        value = row[name]
        if isinstance(value, str):
            row[name] = datetime.fromisoformat(value)
    row["texts_out"] = row["texts_out"] or []
    row["text_in"] = row["text_in"] or ""
    return row


def insert_records(engine: Engine, records: list[dict[str, Any]]) -> None:
    """Idempotent insert: a record already stored (same channel + msg_key) is skipped."""
    if not records:
        return
    rows = [_row(r) for r in records]
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(exchanges).on_conflict_do_nothing(index_elements=["channel", "msg_key"])
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def fetch_records(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    query = select(exchanges).order_by(exchanges.c.id)
    for name, value in where.items():
        query = query.where(exchanges.c[name] == value)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
