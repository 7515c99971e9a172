"""Builders and helpers for the records tests: events of one user at given minutes, a
dump of every records row, and the PostgreSQL maintenance connection."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.records.schema import enquiries, enquiry_events, messages, rejected_events

PG_HOST = os.environ.get("PATENTDESK_TEST_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PATENTDESK_TEST_PGPORT", "5432"))
RECORD_TABLES = ("rejected_events", "enquiry_events", "messages", "enquiries", "agent_accounts",
                 "kb_history", "kb_entries", "kb_servers")


def admin_connection() -> Any:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=3)
    conn.autocommit = True
    return conn


def pg_admin_sql(sql: str, *params: Any) -> None:
    """Run one statement as postgres on the maintenance database (outage tests)."""
    conn = admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


def pg_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A new empty database `patentdesk_test_<random>` on the test server, as a URL; dropped
    afterwards, its remaining connections ended first. Raises psycopg2.OperationalError when
    no server answers (callers skip)."""
    conn = admin_connection()
    name = f"patentdesk_test_{secrets.token_hex(4)}"
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


# ---- building events ------------------------------------------------------------------

BASE = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 in China
_serial = itertools.count(1)


def iso(at: datetime) -> str:
    return at.isoformat()


class User:
    """Events of one user on one channel, at minutes after `base`."""

    def __init__(self, user: str, channel: str = "wechat", base: datetime = BASE) -> None:
        self.user = user
        self.channel = channel
        self.base = base

    def t(self, minutes: float) -> datetime:
        return self.base + timedelta(minutes=minutes)

    def _event(self, kind: str, minutes: float, key: str | None = None, **fields: Any) -> dict[str, Any]:
        return {"kind": kind, "event_key": key or f"{kind}:{self.user}:{next(_serial)}", "channel": self.channel,
                "user": self.user, "at": iso(self.t(minutes)), **fields}

    def says(self, minutes: float, text_in: str, decision: str | None = "answer", entry_id: str | None = None,
             texts: list[str] | None = None, key: str | None = None, **fields: Any) -> dict[str, Any]:
        """An exchange in the gateway's new shape."""
        texts = ["（答复）"] if texts is None else texts
        return self._event("exchange", minutes, key, **{
            "msg_type": "text", "text_in": text_in, "texts_out": texts,
            "replied_at": iso(self.t(minutes) + timedelta(seconds=1)), "path": "passive", "decision": decision,
            "entry_id": entry_id, "confidence": 0.9 if entry_id else None, "latency_ms": 1000, **fields})

    def legacy(self, minutes: float, text_in: str, msg_key: str, decision: str = "answer",
               entry_id: str | None = None) -> dict[str, Any]:
        """An exchange in the gateway's first shape (no kind, msg_key, received_at)."""
        at = self.t(minutes)
        return {"channel": self.channel, "msg_key": msg_key, "user": self.user, "msg_type": "text",
                "received_at": iso(at), "replied_at": iso(at + timedelta(seconds=1)), "text_in": text_in,
                "texts_out": ["（答复）"], "path": "passive", "decision": decision, "entry_id": entry_id,
                "confidence": 0.8, "latency_ms": 1000}

    def handoff(self, minutes: float, step: str, **fields: Any) -> dict[str, Any]:
        return self._event("handoff", minutes, conv_id=f"{self.channel}-{self.user}", step=step, **fields)

    def agent_says(self, minutes: float, agent: str, text_: str) -> dict[str, Any]:
        return self._event("agent_message", minutes, conv_id=f"{self.channel}-{self.user}", agent=agent,
                           text=text_, path="async")

    def notice(self, minutes: float, what: str, text_: str = "（通知）") -> dict[str, Any]:
        return self._event("notice", minutes, conv_id=f"{self.channel}-{self.user}", what=what, text=text_)

    def rating(self, minutes: float, rating: int, after: str = "agent") -> dict[str, Any]:
        return self._event("rating", minutes, rating=rating, after=after, conv_id=f"{self.channel}-{self.user}")

    def feedback(self, minutes: float, helpful: bool, entry_id: str | None, question: str) -> dict[str, Any]:
        return self._event("feedback", minutes, helpful=helpful, entry_id=entry_id, question=question)

    def ticket_answer(self, minutes: float, ticket_id: str, agent: str, text_: str) -> dict[str, Any]:
        return self._event("ticket_answer", minutes, ticket_id=ticket_id, conv_id=f"{self.channel}-{self.user}",
                           agent=agent, text=text_, delivered=True)


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every records row (ids included), for comparing whole database states."""
    out = {}
    with engine.connect() as conn:
        for table in (enquiries, messages, enquiry_events, rejected_events):
            rows = conn.execute(select(table).order_by(table.c.id)).all()
            out[table.name] = [{k: v for k, v in r._mapping.items() if k != "received_at"} for r in rows]
    return out
