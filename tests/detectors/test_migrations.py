"""The detector store's schema is Alembic's, on SQLite and on the machine's PostgreSQL.

A database made by the builds before migrations (``create_all``, DDL written out
below as those builds emitted it) is adopted with its data; a fresh one ends with
exactly the models' schema; a second open changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sloplane.detect.audit import list_decisions
from sloplane.detect.store import VERSION_TABLE, Base, Store
from tests.support.postgres import ensure_postgres, fresh_database

#: What ``Base.metadata.create_all`` made before migrations existed (both dialects agree
#: but for the id columns' type and the quoting of ``trigger``).
CREATE_ALL_DDL = """
CREATE TABLE detect_approvals (id {serial} NOT NULL, created FLOAT NOT NULL,
  action VARCHAR(200) NOT NULL, target VARCHAR(200) NOT NULL, "trigger" TEXT NOT NULL,
  status VARCHAR(20) NOT NULL, details JSON NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_detect_approvals_status ON detect_approvals (status);
CREATE TABLE detect_decisions (id {serial} NOT NULL, at FLOAT NOT NULL,
  action VARCHAR(200) NOT NULL, target VARCHAR(200) NOT NULL, "trigger" TEXT NOT NULL,
  outcome VARCHAR(40) NOT NULL, reason TEXT NOT NULL, details JSON NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_detect_decisions_action ON detect_decisions (action);
CREATE INDEX ix_detect_decisions_at ON detect_decisions (at);
CREATE INDEX ix_detect_decisions_target ON detect_decisions (target);
CREATE INDEX ix_detect_decisions_outcome ON detect_decisions (outcome);
CREATE TABLE detect_deploys (target VARCHAR(200) NOT NULL, at FLOAT NOT NULL,
  PRIMARY KEY (target));
CREATE TABLE detect_desired_scale (action VARCHAR(200) NOT NULL, replicas INTEGER NOT NULL,
  at FLOAT NOT NULL, PRIMARY KEY (action));
CREATE TABLE detect_outbox (id {serial} NOT NULL, created FLOAT NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL, last_error TEXT NOT NULL, delivered FLOAT, PRIMARY KEY (id));
CREATE INDEX ix_detect_outbox_delivered ON detect_outbox (delivered);
CREATE TABLE detect_target_leases (target VARCHAR(200) NOT NULL, holder VARCHAR(200) NOT NULL,
  expires FLOAT NOT NULL, PRIMARY KEY (target));
INSERT INTO detect_decisions (at, action, target, "trigger", outcome, reason, details)
  VALUES (1.5, 'rollback', 'deploy/api', 'old trigger', 'executed', '', '{{}}');
INSERT INTO detect_outbox (created, payload, attempts, last_error)
  VALUES (2.5, '[{{"labels": {{}}}}]', 1, 'alertmanager down');
INSERT INTO detect_deploys (target, at) VALUES ('checkout', 3.5);
"""


@contextlib.contextmanager
def _database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'detect.db'}"
        return
    problem = ensure_postgres()
    if problem:
        pytest.skip(problem)
    with fresh_database("sloplane_detect_mig") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _database(request.param, tmp_path) as url:
        yield url


def _run_script(url: str, script: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in filter(str.strip, script.split(";")):
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _differences(store: Store) -> list[object]:
    """What Alembic would change to make the database match the models (nothing, we hope)."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "version_table": VERSION_TABLE,
                "include_name": lambda name, kind, _parent: (
                    kind != "table" or bool(name and name.startswith("detect_"))
                ),
            },
        )
        return list(compare_metadata(ctx, Base.metadata))


def _version(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")]


def test_a_fresh_database_gets_exactly_the_models_schema(db_url: str) -> None:
    store = Store(db_url)
    try:
        assert _version(store) == ["0003"]
        assert _differences(store) == []
        assert "alembic_version" not in sa.inspect(store.engine).get_table_names()
    finally:
        store.engine.dispose()


def test_a_database_made_by_create_all_is_adopted_with_its_data(db_url: str) -> None:
    serial = "SERIAL" if db_url.startswith("postgresql") else "INTEGER"
    _run_script(db_url, CREATE_ALL_DDL.format(serial=serial))
    store = Store(db_url)
    try:
        assert _version(store) == ["0003"]
        assert _differences(store) == []
        (old,) = list_decisions(store)
        assert (old.at, old.trigger, old.outcome) == (1.5, "old trigger", "executed")
        assert [(r.created, r.last_error) for r in store.pending()] == [(2.5, "alertmanager down")]
        assert store.deploy_time("checkout") == 3.5
        new = store.record(at=4.0, action="a", target="t", trigger="x" * 5000, outcome="refused")
        assert new > old.id  # the id sequence carries on after the old rows
    finally:
        store.engine.dispose()
    again = Store(db_url)  # a second open finds nothing to do
    try:
        assert _version(again) == ["0003"] and len(list_decisions(again)) == 2
    finally:
        again.engine.dispose()


def test_the_sloplane_api_and_the_detector_store_share_a_database(db_url: str) -> None:
    """Each keeps its own Alembic history: neither mistakes the other's version for its own."""
    from sloplane.database import make_engine, migrate

    api_engine = make_engine(db_url)
    try:
        migrate(api_engine)
    finally:
        api_engine.dispose()
    store = Store(db_url)
    try:
        assert _version(store) == ["0003"] and _differences(store) == []
    finally:
        store.engine.dispose()
