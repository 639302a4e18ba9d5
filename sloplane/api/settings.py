"""Everything ``sloplane serve`` can be told, as one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field

from sloplane.reports.deliver import Delivery
from sloplane.reports.scheduler import Schedule


@dataclass(frozen=True)
class ApiSettings:
    prometheus_url: str
    database_url: str = "sqlite:///sloplane.db"
    open_reads: bool = False
    admin_token: str | None = None
    cache_ttl: float = 10.0
    query_timeout: float = 5.0
    max_concurrency: int = 8
    # a status "now" older than this (seconds since its evaluation) is never served from
    # the background-refreshed board: the request waits for a fresh one
    status_max_age: float = 300.0
    # "no query for ten years at one-second steps"
    max_range_seconds: int = 400 * 86400
    max_points: int = 11_000
    max_body_bytes: int = 64 * 1024
    # every database call (token reloads, reports, readiness) ends within this many seconds
    db_deadline: float = 5.0
    # seconds a snapshot of valid token hashes is trusted (revocation through another replica)
    token_max_age: float = 1.0
    # readiness: the database must answer within this many seconds
    ready_deadline: float = 2.0
    # bytes of rendered answers and of decoded backend answers kept (each)
    cache_max_bytes: int = 32 * 2**20
    # a backend answer larger than this, or with more series, is refused (503)
    max_answer_bytes: int = 16 * 2**20
    max_series: int = 10_000
    schedule: Schedule | None = field(default_factory=Schedule)
    report_scopes: tuple[str, ...] = ("all",)
    delivery: Delivery = field(default_factory=Delivery)
