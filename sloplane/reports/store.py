"""Report runs and snapshots in the database: one snapshot per (scope, week), replaced on rerun."""

from __future__ import annotations

import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from sloplane.reports.model import ReportInfo, ReportRun
from sloplane.reports.tables import ReportRunRow, ReportSnapshot


def start_run(sessions: sessionmaker[Session], scope: str, week: str) -> int:
    with sessions() as s:
        row = ReportRunRow(scope=scope, week=week, status="running", started_at=time.time())
        s.add(row)
        s.commit()
        return row.id


def finish_run(sessions: sessionmaker[Session], run_id: int, error: str | None = None) -> None:
    with sessions() as s:
        row = s.get(ReportRunRow, run_id)
        if row is None:
            return
        row.status = "failed" if error else "succeeded"
        row.error = error
        row.finished_at = time.time()
        s.commit()


def save_snapshot(
    sessions: sessionmaker[Session],
    scope: str,
    week: str,
    rendered: dict[str, str],
    run_id: int | None,
) -> None:
    """Replace any earlier snapshot of the same scope and week in one transaction."""
    with sessions() as s, s.begin():
        s.execute(
            delete(ReportSnapshot).where(ReportSnapshot.scope == scope, ReportSnapshot.week == week)
        )
        s.add(
            ReportSnapshot(
                scope=scope,
                week=week,
                created_at=time.time(),
                run_id=run_id,
                json_body=rendered["json"],
                markdown=rendered["md"],
                html=rendered["html"],
            )
        )


def list_snapshots(sessions: sessionmaker[Session], scope: str | None = None) -> list[ReportInfo]:
    with sessions() as s:
        q = select(ReportSnapshot.scope, ReportSnapshot.week, ReportSnapshot.created_at)
        if scope:
            q = q.where(ReportSnapshot.scope == scope)
        q = q.order_by(ReportSnapshot.week.desc(), ReportSnapshot.scope)
        return [
            ReportInfo(
                scope=r.scope, week=r.week, created_at=r.created_at, formats=["json", "md", "html"]
            )
            for r in s.execute(q)
        ]


def get_snapshot(sessions: sessionmaker[Session], scope: str, week: str, fmt: str) -> str | None:
    column = {
        "json": ReportSnapshot.json_body,
        "md": ReportSnapshot.markdown,
        "html": ReportSnapshot.html,
    }[fmt]
    with sessions() as s:
        return s.scalar(
            select(column).where(ReportSnapshot.scope == scope, ReportSnapshot.week == week)
        )


def succeeded(sessions: sessionmaker[Session], scope: str, week: str) -> bool:
    with sessions() as s:
        q = select(ReportRunRow.id).where(
            ReportRunRow.scope == scope,
            ReportRunRow.week == week,
            ReportRunRow.status == "succeeded",
        )
        return s.scalar(q.limit(1)) is not None


def list_runs(sessions: sessionmaker[Session], limit: int = 100) -> list[ReportRun]:
    with sessions() as s:
        rows = s.scalars(select(ReportRunRow).order_by(ReportRunRow.id.desc()).limit(limit))
        return [
            ReportRun(
                id=r.id,
                scope=r.scope,
                week=r.week,
                status=r.status,
                started_at=r.started_at,
                finished_at=r.finished_at,
                error=r.error,
            )
            for r in rows
        ]
