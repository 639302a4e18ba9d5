"""HTTP API of the detector service: audit log, approvals, deploy notices, KEDA scale.

``router`` can be mounted on any FastAPI app whose ``app.state.sloplane_detect``
is a running :class:`~sloplane.detect.service.Service` (or, for the
read-only audit endpoint, a :class:`~sloplane.detect.store.Store`).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from sloplane.detect.audit import list_decisions
from sloplane.detect.store import NAME_MAX, Store

if TYPE_CHECKING:
    from sloplane.detect.state import WatchState

router = APIRouter(prefix="/v1/detectors", tags=["detectors"])

#: Largest approval id: the column is a 32-bit integer on PostgreSQL. A larger id is a
#: 422, not a database error.
MAX_ID = 2**31 - 1
ApprovalId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of a pending approval")]

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class ApiAuth:
    """What POSTs need; set as ``app.state.sloplane_detect_auth`` (absent: POSTs refused)."""

    token: str | None
    read_only: bool = False
    allow_unauthenticated: bool = False


def require_token(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """POSTs approve actions and can trigger rollbacks: they need the bearer token."""
    auth: ApiAuth | None = getattr(request.app.state, "sloplane_detect_auth", None)
    if auth is None or auth.read_only:
        raise HTTPException(403, "this API is read-only")
    if auth.token is None:
        if auth.allow_unauthenticated:
            return
        raise HTTPException(403, "no API token configured")
    given = creds.credentials.encode() if creds is not None else b""
    if not hmac.compare_digest(given, auth.token.encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def _service(request: Request) -> Any:
    svc = getattr(request.app.state, "sloplane_detect", None)
    if svc is None or isinstance(svc, Store):
        raise HTTPException(503, "detector service not running in this process")
    return svc


def _store(request: Request) -> Store:
    obj = getattr(request.app.state, "sloplane_detect", None)
    if obj is None:
        raise HTTPException(503, "detector store not configured")
    return obj if isinstance(obj, Store) else obj.store


@router.get("/decisions")
def decisions(
    request: Request,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: float | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """The audit log, newest first: every action decision, taken or refused, with its reason."""
    rows = list_decisions(
        _store(request), action=action, target=target, outcome=outcome, since=since, limit=limit
    )
    return [r.as_dict() for r in rows]


@router.get("/approvals")
def approvals(request: Request, status: str | None = "pending") -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "created": r.created,
            "action": r.action,
            "target": r.target,
            "trigger": r.trigger,
            "status": r.status,
            "details": r.details,
        }
        for r in _store(request).approvals(status)
    ]


@router.post("/approvals/{approval_id}/approve", dependencies=[Depends(require_token)])
def approve(request: Request, approval_id: ApprovalId) -> dict[str, Any]:
    outcome = _service(request).approve(approval_id, True)
    if outcome is None:
        raise HTTPException(404, "no such pending approval")
    return {"id": approval_id, "outcome": outcome}


@router.post("/approvals/{approval_id}/reject", dependencies=[Depends(require_token)])
def reject(request: Request, approval_id: ApprovalId) -> dict[str, Any]:
    outcome = _service(request).approve(approval_id, False)
    if outcome is None:
        raise HTTPException(404, "no such pending approval")
    return {"id": approval_id, "outcome": outcome}


class DeployNotice(BaseModel):
    target: str = Field(max_length=NAME_MAX)
    time: float | None = None
    """Unix time of the deploy; now when omitted."""


@router.post("/deploys", dependencies=[Depends(require_token)])
def deploy(request: Request, notice: DeployNotice) -> dict[str, Any]:
    """Record a deploy so a page-level burn soon after it can trigger a rollback."""
    at = notice.time if notice.time is not None else time.time()
    _store(request).set_deploy(notice.target, at)
    return {"target": notice.target, "time": at}


@router.get("/keda/{action}")
def keda(request: Request, action: str) -> dict[str, Any]:
    """KEDA ``metrics-api`` trigger: ``valueLocation: desired_replicas``."""
    svc = _service(request)
    try:
        a = svc.config.action(action)
    except StopIteration:
        raise HTTPException(404, f"no action {action!r}") from None
    stored = svc.store.scale(action)
    replicas = stored if stored is not None else (a.scaling.min_replicas if a.scaling else 0)
    return {"action": action, "desired_replicas": replicas}


def create_app(service: Any, auth: ApiAuth | None = None) -> FastAPI:
    """The service's own HTTP app: this router plus ``/metrics`` and ``/healthz``.

    ``auth`` defaults to what the service's ``api`` config says.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from sloplane.detect.config import api_token

    app = FastAPI(title="sloplane detector service")
    app.state.sloplane_detect = service
    api = service.config.api
    app.state.sloplane_detect_auth = auth or ApiAuth(
        api_token(api), api.read_only, api.allow_unauthenticated
    )
    app.include_router(router)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness (``ok`` while serving), ``status`` (``degraded`` while a watch's last poll
        failed) and each watch's state, for people and probes."""
        failing = sorted(n for n, w in service.watches.items() if w.error)
        return {
            "ok": True,
            "status": "degraded" if failing else "ok",
            "failing": failing,
            "watches": {n: watch_status(w) for n, w in service.watches.items()},
        }

    return app


def watch_status(ws: WatchState) -> str:
    """The watch is ok, Prometheus errs, or the query selects nothing (a typo, a gone exporter)."""
    if ws.error:
        return ws.error
    if ws.returned is None:
        return "not polled yet"
    if not ws.returned:
        return "no series: the query returned nothing on the last poll"
    warming = ws.warming_up()
    if not warming:
        return "ok"
    from sloplane.detect.warmup import eta_text

    left = eta_text(ws.warmup_left(), ws.config.step)
    return f"ok ({warming} of {len(ws.series)} series warming up, {left} left)"
