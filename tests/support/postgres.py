"""The machine's real PostgreSQL (127.0.0.1:5432, trust auth) and a fresh database per test.

``ensure_postgres`` checks that the server answers and starts the cluster when it
does not; ``fresh_database`` creates a uniquely named database and drops it (with
``FORCE``, so a leaked connection cannot keep it alive) when the block exits.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _answers(timeout: int) -> str | None:
    """None when PostgreSQL accepts a connection, else the error."""
    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=timeout).close()
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def ensure_postgres() -> str | None:
    """Make sure PostgreSQL answers on 127.0.0.1:5432; None when it does, else why not.

    A cluster that is installed but stopped is started with ``pg_ctlcluster``.
    """
    if _answers(3) is None:
        return None
    if not Path("/etc/postgresql").is_dir():
        return "PostgreSQL is not installed (no /etc/postgresql) and 127.0.0.1:5432 does not answer"
    try:
        started = subprocess.run(
            START, shell=True, check=False, timeout=60, capture_output=True, text=True
        )
        start_output = (started.stderr or started.stdout).strip()
    except subprocess.TimeoutExpired:
        start_output = "pg_ctlcluster did not finish within 60s"
    error = _answers(10)
    if error is None:
        return None
    return (
        f"PostgreSQL on 127.0.0.1:5432 does not answer ({error}) and `{START}` "
        f"did not start it: {start_output or 'no output'}"
    )


@contextlib.contextmanager
def fresh_database(prefix: str = "sloplane_test") -> Iterator[str]:
    """A new, empty database; yields its ``postgresql://`` URL and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(url: str) -> bool:
    """Whether the database named at the end of ``url`` exists (to check the cleanup)."""
    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None
