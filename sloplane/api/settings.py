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
    # "no query for ten years at one-second steps"
    max_range_seconds: int = 400 * 86400
    max_points: int = 11_000
    max_body_bytes: int = 64 * 1024
    schedule: Schedule | None = field(default_factory=Schedule)
    report_scopes: tuple[str, ...] = ("all",)
    delivery: Delivery = field(default_factory=Delivery)
