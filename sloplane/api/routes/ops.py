"""``/healthz`` (the process serves) and ``/readyz`` (the database and Prometheus answer).

``/healthz`` touches nothing outside the process: a frozen database or backend must not
make an orchestrator restart a server that is fine. ``/readyz`` asks the database (a
read of a real table, which a locked SQLite file or a frozen PostgreSQL cannot answer)
and the backend, each within ``ready_deadline`` seconds."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sloplane.api.db import ApiToken
from sloplane.api.schemas import Health
from sloplane.api.state import StateDep
from sloplane.reports.redact import redact

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process serves requests."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(st: StateDep) -> Response:
    """Readiness: the database answers and the PromQL backend is reachable."""
    checks: dict[str, str] = {}
    deadline = st.settings.ready_deadline
    try:
        async with asyncio.timeout(deadline):
            await st.db.call(_ping_db, st.sessions)
        checks["database"] = "ok"
    except TimeoutError:
        checks["database"] = f"no answer within {deadline:g}s"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}: {redact(str(exc))}"[:300]
    try:
        async with asyncio.timeout(deadline):
            up = await st.client.ready()
    except TimeoutError:
        up = False
    checks["prometheus"] = "ok" if up else f"unreachable: {redact(st.client.base_url)}"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _ping_db(sessions: sessionmaker[Session]) -> None:
    """Read a real table: ``SELECT 1`` takes no lock and answers even on a locked SQLite."""
    with sessions() as s:
        s.execute(select(ApiToken.id).limit(1)).all()
