"""What the detector service must not forget across a restart.

The outbox holds alerts until AlertManager has acknowledged them; the audit
log records every action decision, taken or refused; approvals wait for a
human; deploy times and desired scales are served back to the API; target
leases let several processes share the database without acting twice. SQLite
by default, PostgreSQL through a ``postgresql+psycopg://`` URL. The schema is
Alembic's (``sloplane/detect/migrations``), upgraded whenever a store opens.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from sloplane.errors import BackendError


class Base(DeclarativeBase):
    pass


class OutboxRow(Base):
    __tablename__ = "detect_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[float] = mapped_column(Float)
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    claimed: Mapped[float | None] = mapped_column(Float, nullable=True)
    """When a process last started posting the row; another waits a window before it may."""


class DecisionRow(Base):
    __tablename__ = "detect_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    action: Mapped[str] = mapped_column(String(200), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    trigger: Mapped[str] = mapped_column(Text)
    """Names the series with all its labels: no length limit (PostgreSQL enforces one)."""
    outcome: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApprovalRow(Base):
    __tablename__ = "detect_approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeployRow(Base):
    __tablename__ = "detect_deploys"
    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[float] = mapped_column(Float)


class TargetLeaseRow(Base):
    """Who is deciding on (and acting on) a target now; expires so a crash cannot hold it."""

    __tablename__ = "detect_target_leases"
    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires: Mapped[float] = mapped_column(Float)


class ScaleRow(Base):
    __tablename__ = "detect_desired_scale"
    action: Mapped[str] = mapped_column(String(200), primary_key=True)
    replicas: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)


#: Longest action name or target; the API and ``detect.yaml`` refuse longer ones.
NAME_MAX = 200

#: Outcomes recorded in the audit log.
EXECUTED, DRY_RUN, REFUSED, FAILED, PENDING = (
    "executed",
    "dry_run",
    "refused",
    "failed",
    "pending_approval",
)
#: A hook was started and has not reported yet (written before the hook runs).
STARTED = "started"
#: A hook was started by a process that died before it reported: it may or may not have acted.
UNKNOWN = "unknown"
#: Outcomes that count against a target's cooldown and hourly limit: every attempt to act.
ATTEMPTS = (EXECUTED, DRY_RUN, FAILED, STARTED, UNKNOWN)


class Store:
    """Thin, thread-safe access to the service's tables."""

    def __init__(self, url: str) -> None:
        if url.startswith("postgresql://"):  # psycopg 3 is the driver installed, not psycopg2
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.engine: Engine = create_engine(url, future=True, json_serializer=_json_dumps)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except SQLAlchemyError as exc:  # unreachable server, unwritable file, no permission
            shown = self.engine.url.render_as_string(hide_password=True)
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise BackendError(f"database {shown}: {reason}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._lock, self._sessions.begin() as s:
            yield s

    # outbox
    def enqueue(self, payload: list[dict[str, Any]], now: float) -> int:
        with self.session() as s:
            row = OutboxRow(
                created=now, payload=json.dumps(payload, sort_keys=True), attempts=0, last_error=""
            )
            s.add(row)
            s.flush()
            return row.id

    def pending(self, limit: int = 100) -> list[OutboxRow]:
        with self.session() as s:
            q = (
                select(OutboxRow)
                .where(OutboxRow.delivered.is_(None))
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return list(s.scalars(q))

    def claim(self, row_id: int, now: float, window: float) -> bool:
        """Take an undelivered row for one POST unless someone took it less than ``window`` ago.

        A POST that timed out may still have been accepted: no process posts the row
        again until the window (the POST's timeout) has passed.
        """
        with self.session() as s:
            taken = s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.delivered.is_(None))
                .where(or_(OutboxRow.claimed.is_(None), OutboxRow.claimed <= now - window))
                .values(claimed=now)
            )
            return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def mark_delivered(self, row_id: int, now: float) -> None:
        with self.session() as s:
            row = s.get(OutboxRow, row_id)
            if row is not None:
                row.delivered = now
                row.attempts += 1

    def mark_failed(self, row_id: int, error: str, *, maybe_received: bool = False) -> None:
        """Record a failed POST; unless AlertManager may have received it, drop the claim
        so the next delivery retries at once."""
        with self.session() as s:
            row = s.get(OutboxRow, row_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error[:2000]
                if not maybe_received:
                    row.claimed = None

    # audit
    def record(
        self,
        *,
        at: float,
        action: str,
        target: str,
        trigger: str,
        outcome: str,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> int:
        with self.session() as s:
            row = DecisionRow(
                at=at,
                action=action,
                target=target,
                trigger=trigger,
                outcome=outcome,
                reason=reason,
                details=details or {},
            )
            s.add(row)
            s.flush()
            return row.id

    def actions_since(self, target: str, since: float, *, pending: bool = True) -> list[float]:
        """Times of actions counted against ``target``: every attempt (executed, dry-run,
        failed, started, unknown) and, unless ``pending`` is False, requests awaiting approval.
        """
        outcomes = [*ATTEMPTS, PENDING] if pending else list(ATTEMPTS)
        with self.session() as s:
            q = (
                select(DecisionRow.at)
                .where(DecisionRow.target == target, DecisionRow.at >= since)
                .where(DecisionRow.outcome.in_(outcomes))
                .order_by(DecisionRow.at)
            )
            return list(s.scalars(q))

    def finish(self, decision_id: int, outcome: str, reason: str, details: dict[str, Any]) -> None:
        """Write the outcome of a started hook into its decision row."""
        with self.session() as s:
            row = s.get(DecisionRow, decision_id)
            if row is not None:
                row.outcome, row.reason, row.details = outcome, reason, details

    def started(self) -> list[DecisionRow]:
        """Decisions whose hook was started and has not reported, oldest first."""
        with self.session() as s:
            q = select(DecisionRow).where(DecisionRow.outcome == STARTED).order_by(DecisionRow.id)
            return list(s.scalars(q))

    # target leases: one decision at a time per target, across processes
    def try_lease(self, target: str, holder: str, now: float, ttl: float) -> bool:
        """Take (or renew) the lease on ``target`` unless another holder's is still valid.

        A conditional UPDATE, then an INSERT that the primary key makes exclusive, so two
        processes on one database never both hold it (PostgreSQL re-checks the condition
        on the row a concurrent UPDATE wrote; SQLite runs one writer at a time).
        """
        free = or_(TargetLeaseRow.expires < now, TargetLeaseRow.holder == holder)
        with self.session() as s:
            taken = s.execute(
                update(TargetLeaseRow)
                .where(TargetLeaseRow.target == target, free)
                .values(holder=holder, expires=now + ttl)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            with self.session() as s:
                if s.get(TargetLeaseRow, target) is not None:
                    return False
                s.add(TargetLeaseRow(target=target, holder=holder, expires=now + ttl))
        except IntegrityError:  # another process inserted it first
            return False
        return True

    def release_lease(self, target: str, holder: str) -> None:
        with self.session() as s:
            s.execute(
                delete(TargetLeaseRow).where(
                    TargetLeaseRow.target == target, TargetLeaseRow.holder == holder
                )
            )

    def lease_holder(self, target: str) -> tuple[str, float] | None:
        with self.session() as s:
            row = s.get(TargetLeaseRow, target)
            return None if row is None else (row.holder, row.expires)

    # approvals
    def add_approval(
        self, *, now: float, action: str, target: str, trigger: str, details: dict[str, Any]
    ) -> int:
        with self.session() as s:
            row = ApprovalRow(
                created=now,
                action=action,
                target=target,
                trigger=trigger,
                status="pending",
                details=details,
            )
            s.add(row)
            s.flush()
            return row.id

    def set_approval(self, approval_id: int, status: str) -> ApprovalRow | None:
        """Decide a pending approval; None if it is not pending (or another process decided it)."""
        with self.session() as s:
            decided = s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == approval_id, ApprovalRow.status == "pending")
                .values(status=status)
            )
            if decided.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return s.get(ApprovalRow, approval_id)

    def expire_approvals(self, created_before: float) -> list[ApprovalRow]:
        """Mark pending approvals created before the time ``expired``; returns those it marked."""
        with self.session() as s:
            q = select(ApprovalRow.id).where(
                ApprovalRow.status == "pending", ApprovalRow.created < created_before
            )
            expired = []
            for approval_id in list(s.scalars(q)):
                done = s.execute(
                    update(ApprovalRow)
                    .where(ApprovalRow.id == approval_id, ApprovalRow.status == "pending")
                    .values(status="expired")
                )
                if done.rowcount == 1:  # type: ignore[attr-defined]
                    row = s.get(ApprovalRow, approval_id)
                    if row is not None:
                        expired.append(row)
            return expired

    def approvals(self, status: str | None = None) -> list[ApprovalRow]:
        with self.session() as s:
            q = select(ApprovalRow).order_by(ApprovalRow.id)
            if status:
                q = q.where(ApprovalRow.status == status)
            return list(s.scalars(q))

    # deploys and desired scale
    def set_deploy(self, target: str, at: float) -> None:
        with self.session() as s:
            row = s.get(DeployRow, target)
            if row is None:
                s.add(DeployRow(target=target, at=at))
            else:
                row.at = at

    def deploy_time(self, target: str) -> float | None:
        with self.session() as s:
            row = s.get(DeployRow, target)
            return row.at if row else None

    def set_scale(self, action: str, replicas: int, now: float) -> None:
        with self.session() as s:
            row = s.get(ScaleRow, action)
            if row is None:
                s.add(ScaleRow(action=action, replicas=replicas, at=now))
            else:
                row.replicas, row.at = replicas, now

    def scale(self, action: str) -> int | None:
        with self.session() as s:
            row = s.get(ScaleRow, action)
            return row.replicas if row else None


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_dumps(value: Any) -> str:
    """JSON columns as strict JSON: NaN and infinities become null.

    PostgreSQL's ``json`` type refuses ``NaN``, and a ``NaN`` read back from SQLite
    would make the API's JSON response fail.
    """
    return json.dumps(_finite(value), allow_nan=False)


#: Alembic's version table for these tables; not ``alembic_version``, which the SLO API uses.
VERSION_TABLE = "detect_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
#: Any fixed 64-bit key: PostgreSQL runs one migration of the detector store at a time.
_MIGRATION_LOCK = 0x510D_E7EC


def migrate(engine: Engine) -> None:
    """Bring the tables to the newest migration; safe at every start, from any older schema.

    Several ``detect serve`` processes may start together on one PostgreSQL database:
    an advisory lock makes them migrate one after the other.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def utc_iso(ts: float) -> str:
    """RFC 3339 time as AlertManager wants it."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
