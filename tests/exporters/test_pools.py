"""WorkerPool: a fixed number of workers that refuses work instead of queueing it."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.exporters.target import PoolFull, WorkerPool


@settings(max_examples=20, deadline=None)
@given(size=st.integers(1, 6), extra=st.integers(1, 4))
def test_a_full_pool_refuses_and_a_finished_task_frees_its_slot(size: int, extra: int) -> None:
    pool = WorkerPool(size, "test-pool")
    release = threading.Event()
    try:
        running = [pool.submit(release.wait) for _ in range(size)]
        for _ in range(extra):
            with pytest.raises(PoolFull):
                pool.submit(lambda: None)
        release.set()
        for future in running:
            future.result(timeout=10)
        # Done means the slot is free again: the next collection starts at once.
        assert pool.submit(lambda: 42).result(timeout=10) == 42
    finally:
        release.set()
        pool.shutdown()


def test_a_failing_task_frees_its_slot() -> None:
    pool = WorkerPool(1, "test-pool")
    try:

        def boom() -> None:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            pool.submit(boom).result(timeout=10)
        assert pool.submit(lambda: "ok").result(timeout=10) == "ok"
    finally:
        pool.shutdown()
