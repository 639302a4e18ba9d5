"""The API's routes, one module per resource.

Each resource router carries the ``/api/v1`` prefix itself (a route's template, as the
request metrics label it, is then the full path). ``ops``: liveness and readiness.
Detector routes are not here: ``sloplane detect serve`` serves them
(``/v1/detectors``), next to the store they read.
"""

from __future__ import annotations

from fastapi import APIRouter

from sloplane.api.routes import definitions, ops, reports, slos, summaries, tokens

ROUTERS: tuple[APIRouter, ...] = (
    slos.router,
    definitions.router,
    summaries.router,
    reports.router,
    tokens.router,
    ops.router,
)

__all__ = ["ROUTERS"]
