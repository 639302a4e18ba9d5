"""What every route depends on: the application's state, authentication, common parameters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import Depends, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session, sessionmaker

from sloplane.api.auth import TokenStore, grants
from sloplane.api.backend import SharedPrometheus
from sloplane.api.errors import invalid
from sloplane.api.service import SLOService
from sloplane.api.settings import ApiSettings
from sloplane.database import Database, open_database
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO

V1 = "/api/v1"
"""The prefix of every versioned route."""


class State:
    """Per-application state, created in the lifespan."""

    def __init__(
        self,
        catalog: Catalog,
        settings: ApiSettings,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.client = SharedPrometheus(
            settings.prometheus_url,
            timeout=settings.query_timeout,
            cache_ttl=settings.cache_ttl,
            max_concurrency=settings.max_concurrency,
            cache_max_bytes=settings.cache_max_bytes,
            max_answer_bytes=settings.max_answer_bytes,
            max_series=settings.max_series,
        )
        self.service = SLOService(
            catalog,
            self.client,
            status_max_age=settings.status_max_age,
            refresh_concurrency=settings.max_concurrency,
        )
        self.sessions: sessionmaker[Session] = sessions or open_database(
            settings.database_url, settings.db_deadline
        )
        self.db = Database(self.sessions, settings.db_deadline)
        self.tokens = TokenStore(self.db, settings.token_max_age)
        if settings.admin_token:
            self.tokens.ensure("admin (SLOPLANE_ADMIN_TOKEN)", settings.admin_token, ["admin"])
        self.tokens.load()
        self.report_lock = asyncio.Lock()

    def cached_answer_allowed(self, authorization: bytes) -> bool:
        """May the response cache replay an answer to this Authorization header? Only while
        its token is valid (no I/O: the token snapshot), so revocation applies at once."""
        if self.settings.open_reads:
            return True
        kind, _, token = authorization.decode("latin-1").partition(" ")
        return kind.lower() == "bearer" and self.tokens.valid_now(token.strip())

    def scopes(self) -> list[str]:
        """The report scopes to run on schedule, ``teams`` expanded to one per team."""
        out: list[str] = []
        for scope in self.settings.report_scopes:
            if scope == "teams":
                out.extend(f"team:{t}" for t in self.catalog.teams())
            else:
                out.append(scope)
        return out

    def timezone(self) -> str:
        """The reports' timezone (the schedule's, UTC without a schedule)."""
        return self.settings.schedule.timezone if self.settings.schedule else "UTC"


def state(request: Request) -> State:
    return request.app.state.sloplane  # type: ignore[no-any-return,unused-ignore]


StateDep = Annotated[State, Depends(state)]


def _require(scope: Literal["read", "admin"]) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        st = state(request)
        if scope == "read" and st.settings.open_reads:
            return
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer <token>)")
        scopes = await st.tokens.scopes_of(token.strip())
        if scopes is None:
            raise HTTPException(401, "unknown or revoked token")
        if not grants(scopes, scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")

    return check


Reader = Depends(_require("read"))
Admin = Depends(_require("admin"))


def find_slo(st: State, slo_id: str) -> SLO:
    slo = st.catalog.by_id(slo_id)
    if slo is None:
        raise HTTPException(404, f"no SLO with id {slo_id!r}")
    return slo


AtParam = Annotated[
    datetime | None,
    Query(description="Evaluate at this time (RFC 3339 or unix seconds); default now"),
]


FUTURE_SLACK = 60.0
"""Seconds ``at`` may lie ahead of the server's clock (a caller's clock runs a little fast)."""


def unix(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def at_time(value: datetime | None) -> float | None:
    """``?at=`` as unix seconds; a time in the future is a 422: nothing is known about it,
    and an answer would only repeat the latest data under a time it does not describe."""
    at = unix(value)
    if at is not None and at > time.time() + FUTURE_SLACK:
        raise invalid("query", "at", "at is in the future: ask about now or the past")
    return at


R = TypeVar("R", bound=Response)


def cache_for(response: R, seconds: int) -> R:
    """``Cache-Control: max-age`` on an answer built from statuses: how long it may be
    reused. The response cache honours it (0: not kept), and so may any other cache."""
    response.headers["Cache-Control"] = f"max-age={max(0, seconds)}"
    return response
