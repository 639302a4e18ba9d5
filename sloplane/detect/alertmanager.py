"""The few AlertManager API v2 calls the detector service needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from sloplane.detect.store import utc_iso
from sloplane.errors import BackendError


def alert(
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    starts_at: float,
    ends_at: float,
    generator_url: str = "",
) -> dict[str, Any]:
    """One postable alert. A resolved alert is the same alert with ``ends_at`` now."""
    body: dict[str, Any] = {
        "labels": dict(sorted(labels.items())),
        "annotations": dict(sorted(annotations.items())),
        "startsAt": utc_iso(starts_at),
        "endsAt": utc_iso(ends_at),
    }
    if generator_url:
        body["generatorURL"] = generator_url
    return body


def post_alerts(url: str, alerts: list[dict[str, Any]], timeout: float = 10.0) -> None:
    """POST ``/api/v2/alerts``; raises :class:`BackendError` unless AlertManager accepted them."""
    try:
        resp = httpx.post(f"{url.rstrip('/')}/api/v2/alerts", json=alerts, timeout=timeout)
    except httpx.HTTPError as exc:
        raise BackendError(f"alertmanager {url}: {exc}") from exc
    if resp.status_code != 200:
        raise BackendError(f"alertmanager {url}: HTTP {resp.status_code}: {resp.text[:200]}")
