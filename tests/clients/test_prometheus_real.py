"""Both faces of the Prometheus reader against a real Prometheus."""

from __future__ import annotations

import asyncio
import time

import pytest

from sloplane.clients.prometheus import AsyncPrometheusClient, PrometheusClient, PrometheusError
from tests.support.processes import prometheus_config, run_prometheus

pytestmark = pytest.mark.integration


def test_a_real_prometheus_through_both_faces() -> None:
    at = float(int(time.time()))
    with run_prometheus(prometheus_config()) as prom, PrometheusClient(prom.url) as c:
        assert c.ready()
        (sample,) = c.instant("vector(2)", at=at)
        assert (sample.labels, sample.value, sample.t) == ({}, 2.0, at)
        assert c.instant("scalar(vector(3))", at=at)[0].value == 3.0
        # 25,001 points per series: three requests, joined on one grid
        (series,) = c.range("time()", at - 25_000, at, 1)
        assert [t for t, _ in series.points] == [at - 25_000 + i for i in range(25_001)]
        assert all(t == v for t, v in series.points)
        assert c.samples("no_such_metric", "5m", at) == []
        with pytest.raises(PrometheusError, match="HTTP 400: bad_data") as caught:
            c.instant("sum(", at=at)
        assert caught.value.status == 502

        async def read() -> tuple[float, int]:
            async with AsyncPrometheusClient(prom.url) as ac:
                assert await ac.ready()
                (s,) = await ac.instant("vector(2)", at=at)
                (r,) = await ac.range("time()", at - 12_000, at, 1)
                return s.value, len(r.points)

        assert asyncio.run(read()) == (2.0, 12_001)
    with PrometheusClient(prom.url, retries=0) as c:
        assert not c.ready()
        with pytest.raises(PrometheusError, match="ConnectError"):
            c.instant("vector(1)")
