"""Alembic environment: runs on the connection sloplane hands over (see database.migrate)."""

from __future__ import annotations

from alembic import context

import sloplane.api.db
import sloplane.reports.tables  # noqa: F401 - every table on Base, for autogenerate
from sloplane.database import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
