"""The detector service's audit log and approvals, read and decided over its HTTP API.

The detector service (``sloplane detect serve``) runs apart from the SLO API and owns
the actions, so an approval must reach it: the console calls its ``/v1/detectors``
routes and never touches its store. Its bearer token is the console's own setting,
used only after the SLO API confirmed the visitor is an admin.
"""

from __future__ import annotations

from typing import Any

import httpx

from sloplane.console.apiclient import answer_of
from sloplane.console.settings import ConsoleSettings


def _client(settings: ConsoleSettings) -> httpx.AsyncClient:
    assert settings.detector_url is not None
    return httpx.AsyncClient(
        base_url=settings.detector_url.rstrip("/"), timeout=settings.detector_timeout
    )


async def read(settings: ConsoleSettings) -> tuple[list[Any], list[Any], str | None]:
    """(audit log newest first, pending approvals, the error that stopped reading or None)."""
    try:
        async with _client(settings) as client:
            audit = answer_of(await client.get("/v1/detectors/decisions", params={"limit": 200}))
            pending = answer_of(
                await client.get("/v1/detectors/approvals", params={"status": "pending"})
            )
    except httpx.HTTPError as exc:
        return [], [], f"detector service at {settings.detector_url} unreachable: {exc}"
    for answer in (audit, pending):
        if not answer.ok or not isinstance(answer.body, list):
            return [], [], f"detector service answered {answer.status}: {answer.detail}"
    return audit.body, pending.body, None


async def decide(settings: ConsoleSettings, approval_id: int, verdict: str) -> tuple[bool, str]:
    """POST approve/reject; (accepted, the outcome or the refusal's detail)."""
    headers = (
        {"authorization": f"Bearer {settings.detector_token}"} if settings.detector_token else {}
    )
    try:
        async with _client(settings) as client:
            r = await client.post(
                f"/v1/detectors/approvals/{approval_id}/{verdict}", headers=headers
            )
    except httpx.HTTPError as exc:
        return False, f"detector service at {settings.detector_url} unreachable: {exc}"
    answer = answer_of(r)
    if not answer.ok:
        return False, f"{answer.status}: {answer.detail}"
    outcome = answer.body.get("outcome") if isinstance(answer.body, dict) else None
    return True, f"{verdict}d, outcome {outcome}"
