"""Knowledge entries written in the console, their history, the published version and
what each action server serves (issue 15's feedback loop).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("alternatives", sa.JSON, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("source_title", sa.String(200), nullable=False),
        sa.Column("source_article", sa.String(100), nullable=False),
        sa.Column("source_date", sa.String(10), nullable=False),
        sa.Column("reviewed", sa.String(10), nullable=True),
        sa.Column("origin_question", sa.Text, nullable=True),
        sa.Column("origin_enquiry", sa.Integer, nullable=True),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("reviewer", sa.String(40), nullable=True),
        sa.Column("review_note", sa.Text, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_entries"),
    )
    op.create_index("ix_kb_entries_status", "kb_entries", ["status"])
    op.create_table(
        "kb_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry", sa.Integer, nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_history"),
        sa.ForeignKeyConstraint(["entry"], ["kb_entries.id"], name="fk_kb_history_entry_kb_entries",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_kb_history_entry", "kb_history", ["entry"])
    state = op.create_table(
        "kb_state",
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_kb_state"),
    )
    op.bulk_insert(state, [{"key": "published", "version": 0, "updated_at": None}])
    op.create_table(
        "kb_servers",
        sa.Column("server", sa.String(120), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("wanted", sa.Integer, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("server", name="pk_kb_servers"),
    )


def downgrade() -> None:
    op.drop_table("kb_servers")
    op.drop_table("kb_state")
    op.drop_index("ix_kb_history_entry", table_name="kb_history")
    op.drop_table("kb_history")
    op.drop_index("ix_kb_entries_status", table_name="kb_entries")
    op.drop_table("kb_entries")
