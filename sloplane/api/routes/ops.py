"""``/healthz`` (the process serves) and ``/readyz`` (the database and Prometheus answer)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from sloplane.api.schemas import Health
from sloplane.api.state import State, StateDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process serves requests."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(st: StateDep) -> Response:
    """Readiness: the database answers and the PromQL backend is reachable."""
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(_ping_db, st)
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
    checks["prometheus"] = "ok" if await st.client.ready() else f"unreachable: {st.client.base_url}"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _ping_db(st: State) -> None:
    with st.sessions() as s:
        s.execute(text("SELECT 1"))
