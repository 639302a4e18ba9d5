"""Expired entries leave the cache when new ones arrive, not only when the budget fills.

Under requests that never repeat (a new history range each time) no entry is ever asked
for again; before, every expired one stayed until the byte budget filled and the API's
RSS grew steadily through the soak (BENCHMARKS.md, "Soak").
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.api import cache as cache_module
from sloplane.api.cache import ENTRY_OVERHEAD, ByteBudgetCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(cache_module.time, "monotonic", c)
    return c


def test_a_put_drops_the_expired_entries_before_it(clock: Clock) -> None:
    cache: ByteBudgetCache[bytes] = ByteBudgetCache(10**6, len)  # the budget never fills
    cache.put("old", b"x" * 100, ttl=10)
    clock.now += 11
    cache.put("new", b"y" * 50, ttl=10)
    assert len(cache) == 1
    assert cache.bytes == 50 + ENTRY_OVERHEAD


@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=30), st.integers(0, 500)), max_size=60
    ),
    ttl=st.floats(min_value=0.1, max_value=20),
)
def test_never_repeating_puts_hold_only_live_entries(
    steps: list[tuple[float, int]], ttl: float
) -> None:
    """With one TTL and no gets, after every put each entry held is still live and the
    byte count is exactly theirs: memory follows the live set, not the history."""
    clock = Clock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cache_module.time, "monotonic", clock)
        cache: ByteBudgetCache[bytes] = ByteBudgetCache(10**9, len)
        for i, (advance, size) in enumerate(steps):
            clock.now += advance
            cache.put(i, b"v" * size, ttl)
            held = list(cache._entries.values())
            assert all(expires > clock.now for expires, _, _ in held)
            assert cache.bytes == sum(s for _, s, _ in held)
