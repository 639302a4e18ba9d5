"""One report run end to end: record the run, collect, render, store, deliver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from sloplane.clients.prometheus import AsyncPromReader
from sloplane.reports import store
from sloplane.reports.collect import build_report, select_slos
from sloplane.reports.deliver import Delivery, deliver
from sloplane.reports.model import Report
from sloplane.reports.render import render_all
from sloplane.reports.weeks import ensure_ended
from sloplane.slo.catalog import Catalog


def check_request(
    catalog: Catalog, week: str, scope: str, tz: str, now: datetime | None = None
) -> None:
    """Refuse what would store a misleading report: a week that has not ended (WeekError),
    a malformed scope (ScopeError) or an unknown team or service (UnknownScope)."""
    ensure_ended(week, tz, now or datetime.now(UTC))
    select_slos(catalog, scope)


async def run_report(
    catalog: Catalog,
    client: AsyncPromReader,
    week: str,
    scope: str = "all",
    tz: str = "UTC",
    sessions: sessionmaker[Session] | None = None,
    delivery: Delivery | None = None,
) -> tuple[Report, dict[str, str], list[Path]]:
    """Idempotent: rerunning the same scope and week replaces the stored snapshot and files."""
    check_request(catalog, week, scope, tz)
    run_id = store.start_run(sessions, scope, week) if sessions else None
    try:
        report = await build_report(catalog, client, week, scope, tz)
        rendered = render_all(report)
        if sessions:
            store.save_snapshot(sessions, scope, week, rendered, run_id)
        paths = deliver(report, rendered, delivery) if delivery else []
    except Exception as exc:
        if sessions and run_id is not None:
            store.finish_run(sessions, run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    if sessions and run_id is not None:
        store.finish_run(sessions, run_id)
    return report, rendered, paths
