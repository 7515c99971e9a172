"""The records tables (SQLAlchemy Core, 1.4 in its 2.0 style).

An **enquiry** is one conversation episode of one user on one channel, from the first
message to its close (an agent closing it, or silence longer than RECORDS_IDLE_TIMEOUT);
its **messages** are everything said in it by the user, the bot, an agent or the system.
Events that say something about an enquiry without being a message (handoff steps,
ratings, "was this helpful?") are kept in **enquiry_events**, so that every stream event,
message or not, has a row whose `event_key` is unique: that constraint is what makes a
replayed stream entry or a retried WeChat message land once.

The tables are created and changed only by the alembic migrations under
`bot/records/migrations/`; this module is their single description (a test checks the
two agree on SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# Named constraints: alembic's batch mode on SQLite can only alter what has a name.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

RESOLVED_BY = ("bot", "agent", "ticket", "abandoned")

enquiries = Table(
    "enquiries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("user", String(40), nullable=True),  # the pseudonym; NULL once anonymised
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(8), nullable=True),  # agent | idle
    Column("resolved_by", String(12), nullable=True, index=True),  # bot | agent | ticket | abandoned; NULL while open
    Column("category", String(64), nullable=True, index=True),
    Column("outcome", String(40), nullable=True),
    Column("complaint_grade", String(1), nullable=True),  # A | B | C | D
    # life with people: the handoff conversation's id and steps
    Column("handed_off", Boolean, nullable=False, default=False),
    Column("conv_id", String(80), nullable=True),
    Column("reason", String(16), nullable=True),  # request | complaint | fallback
    Column("handoff_state", String(16), nullable=True),  # the last handoff step seen
    Column("queued_at", DateTime(timezone=True), nullable=True),
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Column("left_at", DateTime(timezone=True), nullable=True),
    Column("agent", String(40), nullable=True, index=True),  # the last agent who held it
    Column("wait_seconds", Float, nullable=True),  # queued -> an agent took it (summed over handoffs)
    Column("handle_seconds", Float, nullable=True),  # an agent took it -> closed or handed back
    Column("ticket_id", String(40), nullable=True, index=True),
    Column("ticket_due_at", DateTime(timezone=True), nullable=True),
    Column("ticket_answered_at", DateTime(timezone=True), nullable=True),
    Column("bot_answered_at", DateTime(timezone=True), nullable=True),  # last knowledge answer
    Column("rating", Integer, nullable=True),  # 1 非常满意 .. 4 不满意 (events.RATINGS)
    Column("rating_after", String(8), nullable=True),  # agent | bot
    Column("follow_up", Boolean, nullable=False, default=False),  # an unhappy rating: someone calls back
    Column("anonymised_at", DateTime(timezone=True), nullable=True),
    Column("team", String(32), nullable=True, index=True),  # the team of the last handoff (NULL: default team)
    Column("ticket_team", String(32), nullable=True),  # the team the left message was for last
    Column("scene", String(64), nullable=True, index=True),  # the QR code the user came through (WeChat)
    Index(None, "channel", "user", "started_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", Integer, ForeignKey("enquiries.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(3), nullable=False),  # in | out
    Column("who", String(8), nullable=False),  # user | bot | agent | system
    Column("text", Text, nullable=False, default=""),  # masked (bot/records/masking.py)
    Column("msg_type", String(32), nullable=True),  # text | voice | event:click | notice:position | ticket_answer ...
    Column("path", String(16), nullable=True),  # passive | async | web | none | handoff ...
    Column("decision", String(24), nullable=True),  # user lines: what became of it; bot lines: the bot's decision
    Column("entry_id", String(64), nullable=True, index=True),
    Column("confidence", Float, nullable=True),
    Column("candidates", JSON, nullable=True),
    Column("intent", String(64), nullable=True),
    Column("agent", String(40), nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("reply_to", String(200), nullable=True),  # replies: event_key of the user message answered
    # what reached the user: passive | custom (customer-service message) | notice (subscription
    # notice, past the 48-hour window) | refused (the platform took neither); NULL: not known yet
    Column("delivered_via", String(8), nullable=True),
)

enquiry_events = Table(
    "enquiry_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", Integer, ForeignKey("enquiries.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # handoff | rating | feedback
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("step", String(16), nullable=True),  # handoff step
    Column("agent", String(40), nullable=True),
    Column("rating", Integer, nullable=True),
    Column("helpful", Boolean, nullable=True),
    Column("entry_id", String(64), nullable=True),
    Column("text", Text, nullable=True),  # feedback: the question (masked)
    Column("data", JSON, nullable=True),  # the rest of the event, masked
)

# A stream entry the writer could not read (bad JSON, unknown kind): kept, masked, so a
# producer's bug neither blocks the stream nor loses what it sent.
rejected_events = Table(
    "rejected_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("error", String(200), nullable=False),
    Column("raw", Text, nullable=False),
)

# Agent console accounts: in the records database because they are durable and the
# records name agents; passwords only as scrypt hashes (bot/console/passwords.py).
agent_accounts = Table(
    "agent_accounts",
    metadata,
    Column("login", String(40), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),  # agent | supervisor
    Column("password_hash", String(255), nullable=False),
    Column("capacity", Integer, nullable=False, default=3),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Knowledge entries written in the console (issue 15's feedback loop). An agent drafts one
# from a question they answered; a supervisor publishes it or returns it with a note; a
# published entry can be withdrawn. Its knowledge id is `console-<id>` (never reused).
KB_STATUSES = ("pending", "returned", "published", "withdrawn")

kb_entries = Table(
    "kb_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(12), nullable=False, index=True),  # KB_STATUSES
    Column("category", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("alternatives", JSON, nullable=False),  # list of strings
    Column("answer", Text, nullable=False),
    Column("source_title", String(200), nullable=False),
    Column("source_article", String(100), nullable=False, default=""),
    Column("source_date", String(10), nullable=False),  # YYYY-MM-DD of the version cited
    Column("reviewed", String(10), nullable=True),  # the day a supervisor published it
    Column("origin_question", Text, nullable=True),  # the user's words it was drafted from
    Column("origin_enquiry", Integer, nullable=True),  # the enquiry it came from (no FK: purges)
    Column("author", String(40), nullable=False),
    Column("reviewer", String(40), nullable=True),
    Column("review_note", Text, nullable=True),  # why it was returned or withdrawn
    Column("revision", Integer, nullable=False, default=1),  # bumped by every change: no lost updates
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every change of an entry: who, when, what (changes: {field: [old, new]}).
kb_history = Table(
    "kb_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry", Integer, ForeignKey("kb_entries.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(40), nullable=False),
    Column("action", String(12), nullable=False),  # create | edit | publish | return | withdraw
    Column("note", Text, nullable=True),
    Column("changes", JSON, nullable=False),
)

# One row: the version of the published knowledge, bumped in the transaction of every
# publish and withdrawal. Action servers poll it to learn of a change.
kb_state = Table(
    "kb_state",
    metadata,
    Column("key", String(16), primary_key=True),  # "published"
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

# What each action server serves, and why its last rebuild failed (console, doctor).
kb_servers = Table(
    "kb_servers",
    metadata,
    Column("server", String(120), primary_key=True),  # host:port
    Column("state", String(12), nullable=False),  # serving | building | failed
    Column("version", Integer, nullable=False),  # the published version it serves
    Column("wanted", Integer, nullable=False),  # the version it last tried to build
    Column("entries", Integer, nullable=False),
    Column("message", Text, nullable=True),
    Column("seconds", Float, nullable=True),  # the last rebuild's duration
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
