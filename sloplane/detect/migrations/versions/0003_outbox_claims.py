"""Outbox rows remember when a POST of them started (``claimed``).

A slow AlertManager accepted a POST after the sender gave up, and the row was
posted again: every alert went out twice. A claim keeps a row from being posted
again within the POST's timeout, by this process or another.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detect_outbox") as batch:
        batch.add_column(sa.Column("claimed", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("detect_outbox") as batch:
        batch.drop_column("claimed")
