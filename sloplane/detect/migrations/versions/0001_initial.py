"""The detector store's tables: outbox, audit log, approvals, deploys, leases, desired scale.

Databases made before migrations existed (``create_all``) already hold some or all
of these tables: only the missing ones are created, and the data stays.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> dict[str, tuple[list[sa.Column[object]], list[str]]]:
    """Each table's columns and the columns it indexes."""
    return {
        "detect_outbox": (
            [
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("created", sa.Float, nullable=False),
                sa.Column("payload", sa.Text, nullable=False),
                sa.Column("attempts", sa.Integer, nullable=False),
                sa.Column("last_error", sa.Text, nullable=False),
                sa.Column("delivered", sa.Float, nullable=True),
            ],
            ["delivered"],
        ),
        "detect_decisions": (
            [
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("at", sa.Float, nullable=False),
                sa.Column("action", sa.String(200), nullable=False),
                sa.Column("target", sa.String(200), nullable=False),
                sa.Column("trigger", sa.Text, nullable=False),
                sa.Column("outcome", sa.String(40), nullable=False),
                sa.Column("reason", sa.Text, nullable=False),
                sa.Column("details", sa.JSON, nullable=False),
            ],
            ["action", "at", "target", "outcome"],
        ),
        "detect_approvals": (
            [
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("created", sa.Float, nullable=False),
                sa.Column("action", sa.String(200), nullable=False),
                sa.Column("target", sa.String(200), nullable=False),
                sa.Column("trigger", sa.Text, nullable=False),
                sa.Column("status", sa.String(20), nullable=False),
                sa.Column("details", sa.JSON, nullable=False),
            ],
            ["status"],
        ),
        "detect_deploys": (
            [
                sa.Column("target", sa.String(200), primary_key=True),
                sa.Column("at", sa.Float, nullable=False),
            ],
            [],
        ),
        "detect_target_leases": (
            [
                sa.Column("target", sa.String(200), primary_key=True),
                sa.Column("holder", sa.String(200), nullable=False),
                sa.Column("expires", sa.Float, nullable=False),
            ],
            [],
        ),
        "detect_desired_scale": (
            [
                sa.Column("action", sa.String(200), primary_key=True),
                sa.Column("replicas", sa.Integer, nullable=False),
                sa.Column("at", sa.Float, nullable=False),
            ],
            [],
        ),
    }


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, (columns, indexed) in _tables().items():
        if name in existing:
            continue
        op.create_table(name, *columns)
        for column in indexed:
            op.create_index(f"ix_{name}_{column}", name, [column])


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
