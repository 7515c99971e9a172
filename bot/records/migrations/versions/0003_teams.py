"""The team on each handoff and left message (issue 19: teams).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

`team`: the team whose queue the enquiry's handoff was in last (业务咨询, 技术支持, ...);
`ticket_team`: the team its left message was for last (a ticket may be passed on).
Enquiries recorded before teams keep NULL: the report counts them under the default team.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enquiries") as batch:
        batch.add_column(sa.Column("team", sa.String(32), nullable=True))
        batch.add_column(sa.Column("ticket_team", sa.String(32), nullable=True))
    op.create_index("ix_enquiries_team", "enquiries", ["team"])


def downgrade() -> None:
    op.drop_index("ix_enquiries_team", table_name="enquiries")
    with op.batch_alter_table("enquiries") as batch:
        batch.drop_column("ticket_team")
        batch.drop_column("team")
