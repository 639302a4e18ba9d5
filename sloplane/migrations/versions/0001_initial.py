"""Initial schema: API tokens, report runs, report snapshots.

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


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(200), nullable=False, index=True),
        sa.Column("week", sa.String(8), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("report_runs.id"), nullable=True),
        sa.Column("json_body", sa.Text, nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.UniqueConstraint("scope", "week", name="uq_report_scope_week"),
    )


def downgrade() -> None:
    op.drop_table("report_snapshots")
    op.drop_table("report_runs")
    op.drop_table("api_tokens")
