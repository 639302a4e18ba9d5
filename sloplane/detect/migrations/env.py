"""Alembic environment of the detector store: runs on the connection ``migrate`` hands over.

The version table is the store's own (``detect_alembic_version``), so the detector
service and the SLO API can share one database without reading each other's history.
"""

from __future__ import annotations

from alembic import context

from sloplane.detect.store import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
