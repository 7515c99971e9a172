"""Enquiries, their messages and events, rejected events, agent accounts.

Revision ID: 0001
Revises:
Create Date: 2026-01-12

The first migration. Databases made before migrations existed (by `create_all`) may hold
the old `exchanges` table, which is dropped (nothing was deployed), and `agent_accounts`
(the console creates it if missing), which is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "exchanges" in existing:
        op.drop_table("exchanges")

    op.create_table(
        "enquiries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user", sa.String(40), nullable=True),
        sa.Column("started_at", _tz(), nullable=False),
        sa.Column("last_at", _tz(), nullable=False),
        sa.Column("closed_at", _tz(), nullable=True),
        sa.Column("closed_by", sa.String(8), nullable=True),
        sa.Column("resolved_by", sa.String(12), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("complaint_grade", sa.String(1), nullable=True),
        sa.Column("handed_off", sa.Boolean, nullable=False),
        sa.Column("conv_id", sa.String(80), nullable=True),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("handoff_state", sa.String(16), nullable=True),
        sa.Column("queued_at", _tz(), nullable=True),
        sa.Column("assigned_at", _tz(), nullable=True),
        sa.Column("left_at", _tz(), nullable=True),
        sa.Column("agent", sa.String(40), nullable=True),
        sa.Column("wait_seconds", sa.Float, nullable=True),
        sa.Column("handle_seconds", sa.Float, nullable=True),
        sa.Column("ticket_id", sa.String(40), nullable=True),
        sa.Column("ticket_due_at", _tz(), nullable=True),
        sa.Column("ticket_answered_at", _tz(), nullable=True),
        sa.Column("bot_answered_at", _tz(), nullable=True),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("rating_after", sa.String(8), nullable=True),
        sa.Column("follow_up", sa.Boolean, nullable=False),
        sa.Column("anonymised_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_enquiries"),
    )
    for column in ("started_at", "resolved_by", "category", "agent", "ticket_id"):
        op.create_index(f"ix_enquiries_{column}", "enquiries", [column])
    op.create_index("ix_enquiries_channel_user_started_at", "enquiries", ["channel", "user", "started_at"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enquiry_id", sa.Integer, nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("who", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("msg_type", sa.String(32), nullable=True),
        sa.Column("path", sa.String(16), nullable=True),
        sa.Column("decision", sa.String(24), nullable=True),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("candidates", sa.JSON, nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("agent", sa.String(40), nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("reply_to", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], name="fk_messages_enquiry_id_enquiries",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("event_key", name="uq_messages_event_key"),
    )
    for column in ("enquiry_id", "at", "entry_id"):
        op.create_index(f"ix_messages_{column}", "messages", [column])

    op.create_table(
        "enquiry_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enquiry_id", sa.Integer, nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("step", sa.String(16), nullable=True),
        sa.Column("agent", sa.String(40), nullable=True),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("helpful", sa.Boolean, nullable=True),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_enquiry_events"),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], name="fk_enquiry_events_enquiry_id_enquiries",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("event_key", name="uq_enquiry_events_event_key"),
    )
    for column in ("enquiry_id", "at"):
        op.create_index(f"ix_enquiry_events_{column}", "enquiry_events", [column])

    op.create_table(
        "rejected_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rejected_events"),
    )

    if "agent_accounts" not in existing:
        op.create_table(
            "agent_accounts",
            sa.Column("login", sa.String(40), nullable=False),
            sa.Column("name", sa.String(80), nullable=False),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("capacity", sa.Integer, nullable=False),
            sa.Column("disabled", sa.Boolean, nullable=False),
            sa.Column("created_at", _tz(), nullable=False),
            sa.PrimaryKeyConstraint("login", name="pk_agent_accounts"),
        )


def downgrade() -> None:
    for table in ("rejected_events", "enquiry_events", "messages", "enquiries", "agent_accounts"):
        op.drop_table(table)
