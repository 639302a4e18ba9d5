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

import asyncio
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from sloplane.errors import SloplaneError

P = ParamSpec("P")
T = TypeVar("T")

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


def make_engine(url: str, deadline: float = 5.0) -> Engine:
    """An engine whose every wait ends within ``deadline`` seconds: SQLite's busy wait on a
    locked file, PostgreSQL's connect, statement and lock waits, and the pool checkout. A
    database that does not answer is then an error the caller can report, not a hang."""
    millis = max(1, int(deadline * 1000))
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": deadline})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={millis}")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql+psycopg"):
        connect_args = {
            "connect_timeout": max(1, math.ceil(deadline)),
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        }
    return create_engine(url, pool_pre_ping=True, pool_timeout=deadline, connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe at every startup)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str, deadline: float = 30.0) -> sessionmaker[Session]:
    """Open and migrate; ``deadline`` bounds every later wait (see :func:`make_engine`)."""
    engine = make_engine(url, deadline)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


def open_checked(url: str, deadline: float = 30.0) -> sessionmaker[Session]:
    """:func:`open_database` for the command line: a bad URL or an unreachable database is
    one line naming it (password hidden), not a traceback from a server's startup."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise SloplaneError(f"database {url.split('@')[-1]}: not a database URL") from None
    try:
        return open_database(url, deadline)
    except SQLAlchemyError as exc:
        raise SloplaneError(f"database {shown}: {describe_error(exc)}") from None
    except OSError as exc:
        raise SloplaneError(f"database {shown}: {exc.strerror or exc}") from None


def describe_error(exc: BaseException) -> str:
    """The first line of a driver error (no SQL, no parameters, no URL)."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


class DatabaseUnavailable(SloplaneError):
    """The database did not answer within the deadline or refused the connection."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(f"database unavailable: {cause}")


class Database:
    """The service database as async code must use it: every call runs on a small, bounded
    thread pool and is abandoned after ``deadline`` seconds.

    The event loop never waits on a driver, so a frozen or locked database costs the
    requests that need it a 503 after the deadline, and nothing else: ``/healthz`` and
    requests that need no database keep answering. At most ``workers`` calls are in the
    database at once; the rest queue (and time out) without holding threads.
    """

    def __init__(
        self, sessions: sessionmaker[Session], deadline: float = 5.0, workers: int = 4
    ) -> None:
        self.sessions = sessions
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sloplane-db")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the pool; DatabaseUnavailable on timeout or driver error."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        try:
            async with asyncio.timeout(self.deadline):
                return await future
        except TimeoutError:
            raise DatabaseUnavailable(f"no answer within {self.deadline:g}s") from None
        except SQLAlchemyError as exc:
            if isinstance(exc, OperationalError | SQLAlchemyTimeoutError | InterfaceError):
                raise DatabaseUnavailable(describe_error(exc)) from None
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
