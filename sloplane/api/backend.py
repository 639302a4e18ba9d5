"""The API's view of the PromQL backend: the shared client, protected against API load.

Hundreds of dashboards and scripts ask for the same SLO status at once. Each distinct
query is sent at most once per TTL (identical in-flight requests share one future:
single-flight), at most ``max_concurrency`` queries run against the backend at the
same time, and every call has a hard timeout, retries included. Everything about the
wire (validation, retries, chunking) is :mod:`sloplane.clients.prometheus`; failures
arrive as :class:`~sloplane.clients.prometheus.PrometheusError`, which the API answers
with 503 (or 502) naming the backend and the cause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sloplane.clients.prometheus import (
    AsyncPrometheusClient,
    PrometheusError,
    Sample,
    Series,
)

T = TypeVar("T")


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
class SharedPrometheus:
    """:class:`AsyncPrometheusClient` behind a TTL cache, single-flight and a concurrency bound."""

    base_url: str
    timeout: float = 5.0
    cache_ttl: float = 10.0
    max_concurrency: int = 8
    stats: ClientStats = field(default_factory=ClientStats)
    _cache: dict[Hashable, _Entry] = field(default_factory=dict, repr=False)
    _inflight: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict, repr=False)
    _sem: asyncio.Semaphore | None = field(default=None, repr=False)
    _reader: AsyncPrometheusClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.reader = self._reader or AsyncPrometheusClient(
            self.base_url, self.timeout, max_connections=self.max_concurrency
        )

    async def aclose(self) -> None:
        await self.reader.aclose()

    async def instant(self, query: str, at: float | None = None) -> list[Sample]:
        return await self._shared(("instant", query, at), lambda: self.reader.instant(query, at))

    async def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return await self._shared(
            ("range", query, start, end, step),
            lambda: self.reader.range(query, start, end, step),
        )

    async def samples(self, selector: str, window: str, at: float) -> list[Series]:
        return await self._shared(
            ("samples", selector, window, at),
            lambda: self.reader.samples(selector, window, at),
        )

    async def ready(self) -> bool:
        """Uncached: readiness must reflect the backend now."""
        return await self.reader.ready()

    async def _shared(self, key: Hashable, fetch: Callable[[], Awaitable[list[T]]]) -> list[T]:
        now = time.monotonic()
        entry = self._cache.get(key)
        if entry is not None and entry.expires > now:
            self.stats.cache_hits += 1
            return list(entry.value)
        pending = self._inflight.get(key)
        if pending is not None:
            self.stats.shared_inflight += 1
            return list(await asyncio.shield(pending))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._bounded(fetch)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: followers may not exist
            raise
        else:
            self._cache[key] = _Entry(time.monotonic() + self.cache_ttl, result)
            self._evict(now)
            future.set_result(result)
            return list(result)
        finally:
            self._inflight.pop(key, None)

    async def _bounded(self, fetch: Callable[[], Awaitable[list[T]]]) -> list[T]:
        try:
            async with asyncio.timeout(self.timeout), self._semaphore():
                self.stats.backend_queries += 1
                return await fetch()
        except TimeoutError:
            self.stats.errors += 1
            raise PrometheusError(
                self.base_url, f"no answer within {self.timeout:g}s (timeout)"
            ) from None
        except PrometheusError:
            self.stats.errors += 1
            raise

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_concurrency)
        return self._sem

    def _evict(self, now: float) -> None:
        if len(self._cache) > 4096:
            for k in [k for k, e in self._cache.items() if e.expires <= now]:
                del self._cache[k]
