"""The SLO API (FastAPI): status, history, summaries and weekly reports, versioned under /api/v1.

Built by :func:`create_app` from a catalog and settings, so tests and the CLI run the
same application. The parts: :mod:`.routes` (one module per resource),
:mod:`.middleware` (size limits, response cache, metrics), :mod:`.errors` (every error
is an RFC 9457 problem document; the backend being down is a 503 naming the backend
and the cause, never a 500) and :mod:`.state` (what the routes depend on).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from sloplane import __version__
from sloplane.api import middleware
from sloplane.api.errors import install_error_handlers
from sloplane.api.routes import ROUTERS
from sloplane.api.settings import ApiSettings
from sloplane.api.state import State
from sloplane.console import mount_console
from sloplane.reports import store
from sloplane.reports.runner import run_report
from sloplane.reports.scheduler import due_week, start_scheduler
from sloplane.slo.catalog import Catalog

log = logging.getLogger("sloplane.api")


def create_app(
    catalog: Catalog, settings: ApiSettings, sessions: sessionmaker[Session] | None = None
) -> FastAPI:
    """``sessions``: an already opened and migrated database (the CLI opens it first to
    report an unreachable one cleanly); otherwise the lifespan opens ``database_url``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = State(catalog, settings, sessions)
        app.state.sloplane = st
        # Startup objects (catalog, app, libraries) never die: keep them out of GC scans so
        # collections under load stay short.
        gc.collect()
        gc.freeze()
        scheduler = None
        catch_up: asyncio.Task[None] | None = None
        if settings.schedule is not None:
            scheduler = start_scheduler(settings.schedule, lambda week: _scheduled(st, week))
            catch_up = asyncio.create_task(_catch_up(st))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if catch_up is not None:
                catch_up.cancel()
            await st.client.aclose()

    app = FastAPI(
        title="sloplane SLO API",
        version=__version__,
        description="SLO status, error budgets, burn rates, history and weekly reports.",
        lifespan=lifespan,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    mount_console(app, settings)
    middleware.install(app, settings.cache_ttl, settings.max_body_bytes)
    return app


async def _run_logged(st: State, week: str, scope: str, what: str) -> None:
    try:
        async with st.report_lock:
            await run_report(
                st.catalog, st.client, week, scope, st.timezone(), st.sessions, st.settings.delivery
            )
    except Exception:
        log.exception("%s %s for %s failed", what, week, scope)


async def _scheduled(st: State, week: str) -> None:
    for scope in st.scopes():
        await _run_logged(st, week, scope, "weekly report")


async def _catch_up(st: State) -> None:
    """Run the most recent due week for each scope if it never succeeded (service was down)."""
    assert st.settings.schedule is not None
    week = due_week(datetime.now().astimezone(), st.settings.schedule)
    for scope in [s for s in st.scopes() if not store.succeeded(st.sessions, s, week)]:
        await _run_logged(st, week, scope, "catch-up report")
