"""The service database: one SQLAlchemy base, the engine, and the Alembic migrations.

The API's tokens (:mod:`sloplane.api.db`) and the weekly reports' runs and snapshots
(:mod:`sloplane.reports.tables`) live in one database, so ``sloplane serve`` and
``sloplane report`` share a ``--database-url``. Each owner declares its tables on
:class:`Base`; the schema is owned by the migrations in ``sloplane/migrations`` and
applied when the database is opened, never by ``create_all``.

SQLite is the embedded default, so a first run needs nothing; PostgreSQL is used by
giving a ``postgresql://`` URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from sloplane.errors import SloplaneError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///sloplane.db"


class Base(DeclarativeBase):
    """Every table of the service database."""


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file owner-only (0600) before SQLite creates it with the umask:
    it holds token hashes and reports. SQLite gives its journal files the same mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe at every startup)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


def open_checked(url: str) -> sessionmaker[Session]:
    """:func:`open_database` for the command line: a bad URL or an unreachable database is
    one line naming it (password hidden), not a traceback from a server's startup."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise SloplaneError(f"database {url.split('@')[-1]}: not a database URL") from None
    try:
        return open_database(url)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise SloplaneError(f"database {shown}: {reason}") from None
    except OSError as exc:
        raise SloplaneError(f"database {shown}: {exc.strerror or exc}") from None
