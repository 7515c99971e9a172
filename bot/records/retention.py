"""Retention: records older than RECORDS_RETENTION_DAYS are anonymised, not deleted.

Anonymising keeps what the reports count (dates, channel, resolution, waits, handle
times, ratings, complaint grades, decisions, knowledge entries, agents) and removes what
could point back to a person: every message text and feedback question becomes
`[已匿名]`, the pseudonymous user id and the handoff conversation id (named after it)
are dropped, and event payloads are emptied. Unreadable events older than the age are
deleted outright (they are only raw text). An enquiry's age is that of its last
activity, so a conversation is anonymised as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from bot.records.episodes import utc
from bot.records.schema import enquiries, enquiry_events, messages, rejected_events

ANONYMISED = "[已匿名]"


@dataclass(frozen=True)
class Purged:
    cutoff: datetime
    enquiries: int
    messages: int
    rejected: int


def purge(engine: Engine, older_than_days: int, now: datetime | None = None, dry_run: bool = False) -> Purged:
    """Anonymise the enquiries whose last activity is older than `older_than_days` (and
    not yet anonymised); with `dry_run`, only count them."""
    if older_than_days < 0:
        raise ValueError("the age must not be negative")
    now = utc(now or datetime.now(UTC))  # UTC: SQLite compares the stored UTC text with the bound's
    cutoff = now - timedelta(days=older_than_days)
    due = select(enquiries.c.id).where(enquiries.c.last_at < cutoff, enquiries.c.anonymised_at.is_(None))
    with engine.begin() as conn:
        ids = list(conn.execute(due).scalars())
        n_messages = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            n_messages += int(conn.execute(select(func.count()).select_from(messages)
                                           .where(messages.c.enquiry_id.in_(chunk))).scalar_one())
            if dry_run:
                continue
            conn.execute(update(messages).where(messages.c.enquiry_id.in_(chunk)).values(text=ANONYMISED))
            conn.execute(update(enquiry_events).where(enquiry_events.c.enquiry_id.in_(chunk))
                         .values(text=None, data=None))
            conn.execute(update(enquiry_events).where(enquiry_events.c.enquiry_id.in_(chunk),
                                                      enquiry_events.c.kind == "feedback")
                         .values(text=ANONYMISED))
            conn.execute(update(enquiries).where(enquiries.c.id.in_(chunk))
                         .values(user=None, conv_id=None, anonymised_at=now))
        old_rejected = rejected_events.c.received_at < cutoff
        n_rejected = int(conn.execute(select(func.count()).select_from(rejected_events)
                                      .where(old_rejected)).scalar_one())
        if not dry_run:
            conn.execute(delete(rejected_events).where(old_rejected))
    return Purged(cutoff, len(ids), n_messages, n_rejected)
