"""Trigger columns are ``text``: early builds made them varchar(200).

A trigger names the series with all its labels; PostgreSQL enforces a varchar's
length, so a long one failed to be audited. SQLite does not enforce lengths, so
there is nothing to change there.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WIDENED = (("detect_decisions", "trigger"), ("detect_approvals", "trigger"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    inspector = sa.inspect(bind)
    for table, column in _WIDENED:
        kinds = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        if isinstance(kinds.get(column), sa.String) and not isinstance(kinds[column], sa.Text):
            op.alter_column(table, column, type_=sa.Text)


def downgrade() -> None:
    pass  # a narrower column could not hold the triggers written since
