"""Where an enquiry came from (the QR code's scene) and which path delivered each message
(passive reply, customer-service message, subscription notice) — issue 20.

Revision ID: 0004
Revises: 0002 (re-chained after another branch's 0003 at merge)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enquiries") as batch:
        batch.add_column(sa.Column("scene", sa.String(64), nullable=True))
        batch.create_index("ix_enquiries_scene", ["scene"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("delivered_via", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivered_via")
    with op.batch_alter_table("enquiries") as batch:
        batch.drop_index("ix_enquiries_scene")
        batch.drop_column("scene")
