"""The records tables (SQLAlchemy Core, 1.4 in its 2.0 style).

One row per exchange: what came in, what went out, how, and what the bot decided.
`(channel, msg_key)` is unique so a retried WeChat message can never make two rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

exchanges = Table(
    "exchanges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("msg_key", String(128), nullable=False),
    Column("user", String(40), nullable=False, index=True),
    Column("msg_type", String(24), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("replied_at", DateTime(timezone=True), nullable=True),
    Column("text_in", Text, nullable=False, default=""),
    Column("texts_out", JSON, nullable=False),
    Column("path", String(16), nullable=False),
    Column("decision", String(24), nullable=True),
    Column("entry_id", String(64), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    UniqueConstraint("channel", "msg_key", name="uq_exchanges_channel_msg_key"),
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
