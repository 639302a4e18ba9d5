"""A small async PromQL client built to protect the backend under API load.

Hundreds of dashboards and scripts ask for the same SLO status at once. Each
distinct query is sent at most once per TTL (identical in-flight requests share
one future: single-flight), at most ``max_concurrency`` queries run against the
backend at the same time, and every call has a hard timeout. Failures are raised
as :class:`BackendUnavailable` naming the backend and the cause so the API can
answer 503 instead of hanging or crashing.

Works against any backend speaking the Prometheus HTTP API (Prometheus, Thanos
Query, Mimir, VictoriaMetrics).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sloplane.errors import BackendError

Params = tuple[tuple[str, str], ...]


class BackendUnavailable(BackendError):
    """The PromQL backend failed, timed out or returned an error."""

    def __init__(self, backend: str, cause: str, *, status: int = 503) -> None:
        self.backend = backend
        self.cause = cause
        self.status = status
        super().__init__(f"{backend}: {cause}")


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range vector: its labels and ``(unix time, value)`` points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass
class ClientStats:
    """Counters for tests and the benchmark: how many queries reached the backend."""

    backend_queries: int = 0
    cache_hits: int = 0
    shared_inflight: int = 0
    errors: int = 0


@dataclass
class _Entry:
    expires: float
    value: Any


@dataclass
class PromClient:
    """PromQL over HTTP with TTL cache, single-flight, bounded concurrency and timeouts."""

    base_url: str
    timeout: float = 5.0
    cache_ttl: float = 10.0
    max_concurrency: int = 8
    headers: Mapping[str, str] = field(default_factory=dict)
    stats: ClientStats = field(default_factory=ClientStats)
    _cache: dict[tuple[str, Params], _Entry] = field(default_factory=dict, repr=False)
    _inflight: dict[tuple[str, Params], asyncio.Future[Any]] = field(
        default_factory=dict, repr=False
    )
    _sem: asyncio.Semaphore | None = field(default=None, repr=False)
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- public queries ---------------------------------------------------------------

    async def instant(self, query: str, at: float | None = None) -> list[Sample]:
        params: dict[str, str] = {"query": query}
        if at is not None:
            params["time"] = _fmt_time(at)
        data = await self._get("/api/v1/query", params)
        return [
            Sample(r["metric"], float(r["value"][1]))
            for r in data.get("result", [])
            if data.get("resultType") == "vector"
        ]

    async def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        params = {
            "query": query,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": f"{step:g}",
        }
        data = await self._get("/api/v1/query_range", params)
        return [
            Series(r["metric"], tuple((float(t), float(v)) for t, v in r.get("values", [])))
            for r in data.get("result", [])
        ]

    async def samples(self, selector: str, window: str, at: float) -> list[Series]:
        """Raw samples of ``selector`` over ``window`` ending at ``at`` (no lookback smearing)."""
        data = await self._get(
            "/api/v1/query", {"query": f"{selector}[{window}]", "time": _fmt_time(at)}
        )
        return [
            Series(r["metric"], tuple((float(t), float(v)) for t, v in r.get("values", [])))
            for r in data.get("result", [])
            if data.get("resultType") == "matrix"
        ]

    async def ready(self) -> bool:
        """True when the backend answers its build-info endpoint (cheap, uncached)."""
        try:
            resp = await self._http().get("/api/v1/status/buildinfo", timeout=self.timeout)
        except httpx.HTTPError:
            return False
        # Thanos/Mimir may not implement buildinfo; any non-5xx answer means it is up.
        return resp.status_code < 500

    # -- machinery --------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
            )
            self._client = httpx.AsyncClient(
                base_url=self.base_url, headers=dict(self.headers), limits=limits
            )
        return self._client

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_concurrency)
        return self._sem

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        key = (path, tuple(sorted(params.items())))
        now = time.monotonic()
        entry = self._cache.get(key)
        if entry is not None and entry.expires > now:
            self.stats.cache_hits += 1
            return dict(entry.value)
        pending = self._inflight.get(key)
        if pending is not None:
            self.stats.shared_inflight += 1
            return dict(await asyncio.shield(pending))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._fetch(path, params)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: followers may not exist
            raise
        else:
            self._cache[key] = _Entry(time.monotonic() + self.cache_ttl, result)
            self._evict(now)
            future.set_result(result)
            return dict(result)
        finally:
            self._inflight.pop(key, None)

    def _evict(self, now: float) -> None:
        if len(self._cache) > 4096:
            for k in [k for k, e in self._cache.items() if e.expires <= now]:
                del self._cache[k]

    async def _fetch(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._semaphore():
                    self.stats.backend_queries += 1
                    resp = await self._http().get(path, params=params, timeout=self.timeout)
        except TimeoutError:
            self.stats.errors += 1
            raise BackendUnavailable(
                self.base_url, f"no answer within {self.timeout:g}s (timeout)"
            ) from None
        except httpx.HTTPError as exc:
            self.stats.errors += 1
            raise BackendUnavailable(
                self.base_url, f"{type(exc).__name__}: {exc or 'connection failed'}"
            ) from None
        return _decode(self.base_url, resp)


def _decode(backend: str, resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise BackendUnavailable(
            backend, f"HTTP {resp.status_code} with a non-JSON body: {resp.text[:200]!r}"
        ) from None
    if resp.status_code != 200 or body.get("status") != "success":
        cause = f"HTTP {resp.status_code}: {body.get('errorType', '')} {body.get('error', '')}"
        # 4xx from the backend means our query was bad: that is our bug, still not a 500.
        raise BackendUnavailable(
            backend, cause.strip(), status=502 if resp.status_code < 500 else 503
        )
    return dict(body["data"])


def _fmt_time(t: float) -> str:
    if not math.isfinite(t):
        raise ValueError(f"time must be finite, got {t}")
    return f"{t:.3f}"
