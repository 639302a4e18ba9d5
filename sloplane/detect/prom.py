"""Synchronous Prometheus reads for the detector service.

Anything but a clean success raises :class:`PromError`: the service treats an
error exactly like missing data and never acts on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from sloplane.detectors.labels import format_labels
from sloplane.errors import BackendError

__all__ = ["PromClient", "PromError", "PromReader", "RangeSeries", "format_labels"]


class PromError(BackendError):
    """Prometheus failed, timed out, or answered with an error."""


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class PromReader(Protocol):
    """What the detector service reads from Prometheus; tests pass their own."""

    def query_range(
        self, query: str, start: float, end: float, step: float
    ) -> list[RangeSeries]: ...

    def query(
        self, query: str, at: float | None = None
    ) -> list[tuple[dict[str, str], float, float]]: ...


class PromClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            resp = httpx.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise PromError(f"prometheus {self.url}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise PromError(f"prometheus {self.url}: HTTP {resp.status_code}, not JSON") from exc
        if resp.status_code != 200 or body.get("status") != "success":
            raise PromError(
                f"prometheus {self.url}: {body.get('errorType', resp.status_code)}: {body.get('error', '')}"
            )
        if body.get("warnings"):
            # Partial answers (e.g. a Thanos store down) are not data we may act on.
            raise PromError(f"prometheus {self.url}: partial response: {body['warnings']}")
        return body["data"]

    def query_range(self, query: str, start: float, end: float, step: float) -> list[RangeSeries]:
        data = self._get(
            "/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step}
        )
        if data.get("resultType") != "matrix":
            raise PromError(f"query_range returned {data.get('resultType')}, not a matrix")
        out = []
        for r in data["result"]:
            pts = [(float(t), float(v)) for t, v in r["values"]]
            out.append(RangeSeries(dict(r["metric"]), [(t, v) for t, v in pts if math.isfinite(v)]))
        return out

    def query(
        self, query: str, at: float | None = None
    ) -> list[tuple[dict[str, str], float, float]]:
        """Instant query: ``(labels, sample time, value)`` per series."""
        params: dict[str, Any] = {"query": query}
        if at is not None:
            params["time"] = at
        data = self._get("/api/v1/query", params)
        if data.get("resultType") == "scalar":
            t, v = data["result"]
            return [({}, float(t), float(v))]
        if data.get("resultType") != "vector":
            raise PromError(f"query returned {data.get('resultType')}, not a vector")
        return [
            (dict(r["metric"]), float(r["value"][0]), float(r["value"][1])) for r in data["result"]
        ]
