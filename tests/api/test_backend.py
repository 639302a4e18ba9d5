"""The API's shared Prometheus reader: single-flight, the cache period, the bound, the timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sloplane.api.backend import SharedPrometheus
from sloplane.clients.prometheus import AsyncPrometheusClient, PrometheusError

URL = "http://prom.test"
VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


def shared(handler: object, **kw: float) -> SharedPrometheus:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    reader = AsyncPrometheusClient(URL, transport=transport)
    return SharedPrometheus(URL, _reader=reader, **kw)  # type: ignore[arg-type]


def test_identical_queries_in_flight_are_sent_once_then_cached() -> None:
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["query"])
        await asyncio.sleep(0.05)  # long enough for every caller to arrive
        return httpx.Response(200, json=VECTOR)

    async def run() -> SharedPrometheus:
        prom = shared(handler, cache_ttl=60)
        await asyncio.gather(*(prom.instant("up", at=10.0) for _ in range(50)))
        await prom.instant("up", at=10.0)
        await prom.instant("down", at=10.0)
        await prom.aclose()
        return prom

    prom = asyncio.run(run())
    assert sent == ["up", "down"]
    assert prom.stats.backend_queries == 2
    assert prom.stats.shared_inflight == 49 and prom.stats.cache_hits == 1


def test_concurrency_is_bounded() -> None:
    running = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return httpx.Response(200, json=VECTOR)

    async def run() -> None:
        prom = shared(handler, max_concurrency=3, cache_ttl=0)
        await asyncio.gather(*(prom.instant(f"q{i}", at=1.0) for i in range(20)))
        await prom.aclose()

    asyncio.run(run())
    assert peak == 3


def test_a_slow_backend_is_a_timeout_and_failures_are_not_cached() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)
        return httpx.Response(200, json=VECTOR)

    async def run() -> None:
        prom = shared(handler, timeout=0.1)
        for _ in range(2):
            with pytest.raises(PrometheusError, match=r"no answer within 0.1s \(timeout\)"):
                await prom.instant("up", at=1.0)
        assert prom.stats.errors == 2
        await prom.aclose()

    asyncio.run(run())
    assert calls == 2
