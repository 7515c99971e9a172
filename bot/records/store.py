"""Reading the records (synchronous SQL: run it in a worker thread, never on the event loop).

Writing goes through `bot.records.episodes.apply_events` (the writer); the schema through
`bot.records.migrate`. Times come back as aware UTC datetimes whatever the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine

from bot.records.episodes import utc
from bot.records.schema import enquiries, enquiry_events, messages


def make_engine(url: str) -> Engine:
    """An engine for DATABASE_URL. SQLite gets foreign keys (so deleting an enquiry takes
    its messages) and WAL (so the console and reports read while the writer writes)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # SQLite keeps SQLAlchemy 1.4's connection per transaction: a pooled connection would
    # go on writing into a database file moved or deleted under it; the writer batches its
    # commits instead (RecordWriter.linger), which makes the reconnects rare
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def _aware(row: Any) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


@dataclass(frozen=True)
class Filters:
    """Which enquiries: started in [start, end), and the other fields equal when given."""

    start: datetime | None = None
    end: datetime | None = None
    channel: str | None = None
    resolved_by: str | None = None
    category: str | None = None
    agent: str | None = None
    follow_up: bool | None = None  # True: only enquiries rated unhappy, waiting for a call back

    def where(self, query: Any) -> Any:
        # bounds in UTC: SQLite compares the stored UTC wall-clock text with the bound's own
        if self.start is not None:
            query = query.where(enquiries.c.started_at >= utc(self.start))
        if self.end is not None:
            query = query.where(enquiries.c.started_at < utc(self.end))
        for name in ("channel", "resolved_by", "category", "agent", "follow_up"):
            value = getattr(self, name)
            if value is not None:
                query = query.where(enquiries.c[name] == value)
        return query


def list_enquiries(engine: Engine, filters: Filters = Filters(), limit: int | None = None,
                   newest_first: bool = False) -> list[dict[str, Any]]:
    order = (enquiries.c.started_at.desc(), enquiries.c.id.desc()) if newest_first else (
        enquiries.c.started_at, enquiries.c.id)
    query = filters.where(select(enquiries)).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [_aware(r) for r in conn.execute(query)]


def messages_of(engine: Engine, enquiry_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each enquiry's messages in time order (then in the order they were stored)."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in enquiry_ids}
    with engine.connect() as conn:
        for i in range(0, len(enquiry_ids), 500):
            query = (select(messages).where(messages.c.enquiry_id.in_(enquiry_ids[i:i + 500]))
                     .order_by(messages.c.at, messages.c.id))
            for row in conn.execute(query):
                out[row.enquiry_id].append(_aware(row))
    return out


def get_enquiry(engine: Engine, enquiry_id: int) -> dict[str, Any] | None:
    """One enquiry with its `messages` and `events` (handoff steps, ratings, feedback)."""
    with engine.connect() as conn:
        row = conn.execute(select(enquiries).where(enquiries.c.id == enquiry_id)).first()
        if row is None:
            return None
        enq = _aware(row)
        enq["events"] = [_aware(r) for r in conn.execute(
            select(enquiry_events).where(enquiry_events.c.enquiry_id == enquiry_id)
            .order_by(enquiry_events.c.at, enquiry_events.c.id))]
    enq["messages"] = messages_of(engine, [enquiry_id])[enquiry_id]
    return enq


_EXCHANGE_FIELDS = {"msg_key": messages.c.event_key, "user": enquiries.c.user, "channel": messages.c.channel,
                    "msg_type": messages.c.msg_type, "path": messages.c.path, "decision": messages.c.decision,
                    "enquiry_id": messages.c.enquiry_id}


def fetch_exchanges(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    """The user's messages with what was answered, one dict per exchange (msg_key,
    received_at, text_in, texts_out, path, decision, entry_id ...): the gateway's view
    of its records, as its tests check them. `where`: fields of that dict to match."""
    query = (select(messages, enquiries.c.user).join(enquiries, enquiries.c.id == messages.c.enquiry_id)
             .where(messages.c.who == "user").order_by(messages.c.at, messages.c.id))
    for name, value in where.items():
        query = query.where(_EXCHANGE_FIELDS[name] == value)
    with engine.connect() as conn:
        ins = [_aware(r) for r in conn.execute(query)]
        keys = [m["event_key"] for m in ins]
        replies: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        for i in range(0, len(keys), 500):
            for r in conn.execute(select(messages).where(messages.c.reply_to.in_(keys[i:i + 500]))
                                  .order_by(messages.c.id)):
                replies[r.reply_to].append(_aware(r))
    out = []
    for m in ins:
        outs = replies[m["event_key"]]
        first = outs[0] if outs else {}
        out.append({"id": m["id"], "enquiry_id": m["enquiry_id"], "channel": m["channel"], "user": m["user"],
                    "msg_key": m["event_key"], "msg_type": m["msg_type"], "received_at": m["at"],
                    "replied_at": first.get("at"), "text_in": m["text"], "texts_out": [o["text"] for o in outs],
                    "path": m["path"], "decision": m["decision"], "entry_id": first.get("entry_id"),
                    "confidence": first.get("confidence"), "candidates": first.get("candidates"),
                    "latency_ms": first.get("latency_ms"), "who": first.get("who")})
    return out
