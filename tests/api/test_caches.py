"""Issue 12, finding 6: the API's caches are bounded in bytes and expire by TTL.

The property test drives :class:`ByteBudgetCache` with arbitrary puts and gets; the
history test sends 150 distinct ``history?start=`` requests whose answers are large and
checks that the caches stay within their budgets and the process does not keep hundreds
of MiB (before the fix every answer was kept until 4,096 or 10,000 entries).
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.api.cache import ENTRY_OVERHEAD, ByteBudgetCache
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
