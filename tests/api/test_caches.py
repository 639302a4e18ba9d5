"""Issue 12, finding 6: the API's caches are bounded in bytes and expire by TTL.

The property test drives :class:`ByteBudgetCache` with arbitrary puts and gets; the
history test sends 150 distinct ``history?start=`` requests whose answers are large and
checks that the caches stay within their budgets and the process does not keep hundreds
of MiB (before the fix every answer was kept until 4,096 or 10,000 entries).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.api.board import StatusBoard
from sloplane.api.cache import ENTRY_OVERHEAD, ByteBudgetCache, max_age
from sloplane.api.schemas import SLOStatus
from sloplane.api.status import compute_status
from sloplane.clients.prometheus import PrometheusError
from sloplane.slo.model import SLO, EventsSLI
from tests.api.conftest import api
from tests.support.garbage_prometheus import Answer, garbage_prometheus

PUTS = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 5000), st.sampled_from([0.0, 60.0])),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(puts=PUTS, budget=st.integers(0, 20_000))
def test_entries_never_exceed_the_byte_budget(
    puts: list[tuple[int, int, float]], budget: int
) -> None:
    cache: ByteBudgetCache[bytes] = ByteBudgetCache(budget, len)
    latest: dict[int, tuple[bytes, float]] = {}
    for key, size, ttl in puts:
        value = bytes(size)
        cache.put(key, value, ttl)
        latest[key] = (value, ttl)
        assert cache.bytes <= budget
        assert cache.bytes == sum(len(v) + ENTRY_OVERHEAD for v, _ in _live(cache))
    for key, (value, ttl) in latest.items():
        got = cache.get(key)
        # expired (ttl 0) is never served; a live answer is always the latest value
        assert got is None or (ttl > 0 and got == value)


def _live(cache: ByteBudgetCache[bytes]) -> list[tuple[bytes, float]]:
    return [(e[2], e[0]) for e in cache._entries.values()]


def test_an_entry_larger_than_the_budget_is_not_kept() -> None:
    cache: ByteBudgetCache[bytes] = ByteBudgetCache(1000, len)
    cache.put("small", b"x" * 10, 60)
    cache.put("huge", b"x" * 5000, 60)
    assert cache.get("huge") is None and cache.get("small") == b"x" * 10


def test_expired_entries_are_not_served() -> None:
    cache: ByteBudgetCache[bytes] = ByteBudgetCache(1000, len)
    cache.put("k", b"v", 0.0)
    assert cache.get("k", now=time.monotonic()) is None and cache.bytes == 0


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _matrix(points: int) -> bytes:
    now = time.time()
    values = [[now - 86400 + i * 10, "0.001"] for i in range(points)]
    result = [{"metric": {"sloplane_window": w}, "values": values} for w in ("30d", "1h")]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(body).encode()


@pytest.mark.integration  # slow: 150 answers of 16,000 points
def test_distinct_history_ranges_stay_within_the_budgets(tmp_path: Path) -> None:
    empty = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
    answer = Answer(body=empty, by_path={"/api/v1/query_range": _matrix(8000)})
    budget = 8 * 2**20
    with (
        garbage_prometheus(answer) as url,
        api(url, tmp_path / "db", open_reads=True, cache_max_bytes=budget) as c,
    ):
        st_ = c.app.state.sloplane  # type: ignore[attr-defined]
        before = _rss_mib()
        end = time.time()
        for i in range(150):
            r = c.get(
                "/api/v1/slos/checkout-availability/history",
                params={"start": end - 86400 - i, "end": end, "step": 60},
            )
            assert r.status_code == 200, r.text
        grown = _rss_mib() - before
        assert st_.client._cache.bytes <= budget
        cache = _response_cache(c.app)
        assert cache.entries.bytes <= budget
    # 150 answers of 16,000 points: ~430 MiB kept before the fix
    assert grown < 150, f"RSS grew by {grown:.0f} MiB"


def _response_cache(app: object) -> object:
    stack = app.middleware_stack  # type: ignore[attr-defined]
    while stack is not None and type(stack).__name__ != "ResponseCache":
        stack = getattr(stack, "app", None)
    assert stack is not None
    return stack


# --- the status board: "now" served stale while a bounded background refresh runs -------


class FakeBackend:
    """A compute function whose answers the test releases; counts calls and concurrency."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.running = 0
        self.most = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def compute(self, slo: SLO, t: float) -> list[SLOStatus]:
        self.calls.append((slo.id, t))
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.gate.wait()
            if self.fail:
                raise PrometheusError("http://prom", "down")
            return [_status(slo, t)]
        finally:
            self.running -= 1


def _status(slo: SLO, t: float) -> SLOStatus:
    return compute_status(slo, {}, [], "recording_rules", t)


BOARD_SLOS = [
    SLO(service=f"s{i}", name="a", objective=99, sli=EventsSLI(errors="e", total="t"))
    for i in range(12)
]


def _board(backend: FakeBackend, clock: list[float], **kw: Any) -> StatusBoard:
    kw.setdefault("concurrency", 3)
    kw.setdefault("max_age", 100.0)
    return StatusBoard(backend.compute, lambda: clock[0], **kw)


def test_board_serves_the_last_value_while_one_refresh_per_slo_runs() -> None:
    async def run() -> None:
        now = float(int(time.time()))
        backend, clock = FakeBackend(), [now]
        board = _board(backend, clock)
        # nothing cached: the first request waits for the computation
        first = await asyncio.gather(*(board.get(s) for s in BOARD_SLOS))
        assert [e.evaluated_at for e in first] == [now] * len(BOARD_SLOS)
        assert len(backend.calls) == len(BOARD_SLOS) and backend.most <= 3
        # the same period: no computation at all
        await asyncio.gather(*(board.get(s) for s in BOARD_SLOS))
        assert len(backend.calls) == len(BOARD_SLOS)
        # the next period, backend stuck: every request answers with the last value
        clock[0] = now + 10
        backend.gate.clear()
        for _ in range(5):
            stale = await asyncio.gather(*(board.get(s) for s in BOARD_SLOS))
            assert {e.evaluated_at for e in stale} == {now}
        await asyncio.sleep(0)
        assert board.refreshing() == len(BOARD_SLOS)
        assert not board.all_fresh([s.id for s in BOARD_SLOS], now + 10)
        backend.gate.set()
        await board.settled()
        # one refresh per SLO, at the new period's time, never more than 3 at once
        assert sorted(backend.calls[len(BOARD_SLOS) :]) == sorted(
            (s.id, now + 10) for s in BOARD_SLOS
        )
        assert backend.most <= 3
        assert board.all_fresh([s.id for s in BOARD_SLOS], now + 10)
        fresh = await board.get(BOARD_SLOS[0])
        assert fresh.evaluated_at == now + 10

    asyncio.run(run())


def test_board_never_serves_a_value_older_than_max_age() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(), [time.time() - 1000]
        board = _board(backend, clock, max_age=60.0)
        slo = BOARD_SLOS[0]
        await board.get(slo)  # evaluated 1000 s ago: too old to serve
        clock[0] = time.time()
        backend.fail = True
        entry = await board.get(slo)  # waits for the refresh, and gets its failure
        assert entry.evaluated_at == clock[0]
        with pytest.raises(PrometheusError):
            entry.statuses()

    asyncio.run(run())


def test_board_without_background_refresh_always_waits() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(), [time.time()]
        board = _board(backend, clock, background=False)
        slo = BOARD_SLOS[0]
        await board.get(slo)
        clock[0] += 1
        assert (await board.get(slo)).evaluated_at == clock[0]

    asyncio.run(run())


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.booleans()), min_size=1, max_size=30
    ),
    concurrency=st.integers(1, 4),
)
def test_board_at_most_one_computation_per_slo_per_period(
    steps: list[tuple[int, int, bool]], concurrency: int
) -> None:
    """Any interleaving of requests, period changes and settling: each (SLO, period) is
    computed at most once, an answer is never from a later period than asked, and never
    more than ``concurrency`` computations run at once."""

    async def run() -> None:
        backend, clock = FakeBackend(), [time.time()]
        board = _board(backend, clock, concurrency=concurrency, max_age=1e9)
        for slo_index, advance, settle in steps:
            clock[0] += advance
            entry = await board.get(BOARD_SLOS[slo_index])
            assert entry.evaluated_at <= clock[0]
            if settle:
                await board.settled()
        await board.settled()
        assert len(backend.calls) == len(set(backend.calls))
        assert backend.most <= concurrency

    asyncio.run(run())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"max-age=0", 0.0),
        (b"public, max-age=7", 7.0),
        (b"no-store", 0.0),
        (None, math.inf),
    ],
)
def test_response_cache_honours_max_age(header: bytes | None, expected: float) -> None:
    headers = [(b"content-type", b"application/json")]
    if header is not None:
        headers.append((b"cache-control", header))
    assert max_age({"type": "http.response.start", "status": 200, "headers": headers}) == expected
