"""One scrape target: collection at scrape time, bounded by a timeout, never piling up.

Each :class:`Target` owns a :class:`Backend` (which owns the one reused
connection to the server). A scrape runs the backend's collection in a shared
worker pool; scrapes that arrive while one is running join it instead of
starting another, so a slow or locked server sees at most one collection per
target at a time, and 50 concurrent scrapes cost one round of queries. A scrape
waits at most the target's timeout: past it, the answer is ``<prefix>_up 0``
with reason ``timeout`` while the collection finishes (bounded by the driver's
own timeouts) in the background.

Whatever happens, the target reports ``<prefix>_up``,
``<prefix>_scrape_duration_seconds``, ``<prefix>_last_scrape_error`` and
``<prefix>_scrape_errors_total``; failures are logged, never raised.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from sloplane.exporters.exposition import Metric
from sloplane.exporters.families import Families
from sloplane.exporters.metrics_catalog import PREFIXES

log = logging.getLogger("sloplane.exporters")

_T = TypeVar("_T")

#: Extra time a waiter gives the backend beyond its own (driver-level) timeout.
_GRACE_SECONDS = 0.5
_POOL_SIZE = 32
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="sloplane-scrape")
        return _pool


class PoolFull(RuntimeError):
    """Every worker of a :class:`WorkerPool` is busy: the collection was not started."""


class WorkerPool:
    """A fixed number of workers that never queues: ``submit`` refuses when all are busy.

    A queue is how one kind of scrape delays another: collections waiting behind slow
    ones overrun their own timeouts and report ``up 0``. The exporter gives its
    configured targets one pool (a worker each, so they never wait) and ``/probe``
    another, whose callers get "busy" at once instead of a place in a queue.
    """

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._executor = ThreadPoolExecutor(size, thread_name_prefix=name)

    def submit(self, fn: Callable[[], _T]) -> Future[_T]:
        if not self._slots.acquire(blocking=False):
            raise PoolFull(f"all {self.size} workers are busy")

        def run() -> _T:
            try:
                return fn()
            finally:
                # Freed before the future is done, so a caller that sees it done may
                # start the next collection at once.
                self._slots.release()

        try:
            return self._executor.submit(run)
        except BaseException:
            self._slots.release()
            raise

    def shutdown(self) -> None:
        """Stop taking work; collections under way end on their own deadlines."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class ScrapeError(Exception):
    """A failed collection with a coarse reason for the errors counter and a message for logs."""

    REASONS: ClassVar[tuple[str, ...]] = ("connection", "auth", "timeout", "query", "error")

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason if reason in self.REASONS else "error"
        self.message = message


class Backend(ABC):
    """Talks to one server. Not thread-safe: :class:`Target` calls it from one thread at a time."""

    kind: ClassVar[str]
    #: Keep the samples collected before a failure (the HTTP probe's phases and success 0).
    partial_on_error: ClassVar[bool] = False

    @abstractmethod
    def collect(self, out: Families) -> None:
        """Add this scrape's samples to ``out``; raise :class:`ScrapeError` when the server fails."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection, if any."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook, most backends need nothing
        """Called from another thread when a collection overran its timeout; may cancel it."""

    def classify(self, exc: Exception) -> ScrapeError:
        """Turn a driver exception into a :class:`ScrapeError`; backends refine this."""
        return ScrapeError("error", f"{type(exc).__name__}: {exc}")


@dataclass
class _Result:
    families: list[Metric]
    duration: float
    error: ScrapeError | None = None


@dataclass
class _Flight:
    future: Future[_Result]
    started: float
    timeout_counted: bool = False


@dataclass
class _State:
    errors: Counter[str] = field(default_factory=Counter)
    last_message: str | None = None


class Target:
    """A server to scrape: its backend, its timeout and the labels it adds to every sample."""

    def __init__(
        self,
        name: str,
        backend: Backend,
        timeout_seconds: float,
        labels: Mapping[str, str] | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        self.name = name
        self.pool = pool
        self.kind = backend.kind
        self.prefix = PREFIXES[backend.kind]
        self.backend = backend
        self.timeout_seconds = timeout_seconds
        self.labels = dict(labels or {})
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        self._state = _State()
        self._closed = False

    def start(self) -> _Flight:
        """Start a collection, or join the one under way; :class:`PoolFull` from the pool."""
        with self._lock:
            flight = self._flight
            if flight is None or flight.future.done():
                pool = self.pool if self.pool is not None else _executor()
                flight = _Flight(pool.submit(self._run), time.monotonic())
                self._flight = flight
            return flight

    def finish(self, flight: _Flight, deadline: float | None = None) -> list[Metric]:
        """Wait (bounded) for a collection started by :meth:`start` and render its families.

        The wait ends at the target's timeout or at ``deadline`` (``time.monotonic()``, the
        scraper's own timeout), whichever comes first: a scrape answers in time even when
        the scraper allows less than the module's timeout.
        """
        wait = self.timeout_seconds + _GRACE_SECONDS
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        try:
            result = flight.future.result(timeout=wait)
        except FutureTimeout:
            result = self._timed_out(flight)
        return self._render(result)

    def scrape(self, deadline: float | None = None) -> list[Metric]:
        return self.finish(self.start(), deadline)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            flight = self._flight
        if flight is not None and not flight.future.done():
            # The worker closes the backend when it is done with it.
            return
        self.backend.close()

    def _run(self) -> _Result:
        out = Families(self.kind, self.labels)
        started = time.perf_counter()
        error: ScrapeError | None = None
        try:
            self.backend.collect(out)
        except ScrapeError as exc:
            error = exc
        except Exception as exc:
            error = self.backend.classify(exc)
        duration = time.perf_counter() - started
        with self._lock:
            if error is not None:
                self._state.errors[error.reason] += 1
            closed = self._closed
        self._log(error)
        if closed:
            self.backend.close()
        keep = error is None or self.backend.partial_on_error
        families = out.metrics() if keep else []
        return _Result(families, duration, error)

    def _timed_out(self, flight: _Flight) -> _Result:
        waited = time.monotonic() - flight.started
        error = ScrapeError("timeout", f"no answer within {waited:.3g}s (collection still running)")
        with self._lock:
            first = not flight.timeout_counted
            flight.timeout_counted = True
            if first:
                self._state.errors["timeout"] += 1
        if first:
            self.backend.interrupt()
        self._log(error)
        return _Result([], time.monotonic() - flight.started, error)

    def _render(self, result: _Result) -> list[Metric]:
        common = Families(self.kind, self.labels)
        p = self.prefix
        common.add(f"{p}_up", result.error is None)
        common.add(f"{p}_scrape_duration_seconds", result.duration)
        common.add(f"{p}_last_scrape_error", result.error is not None)
        with self._lock:
            errors = dict(self._state.errors)
        for reason in ScrapeError.REASONS:
            common.add(f"{p}_scrape_errors", errors.get(reason, 0), reason=reason)
        return [*common.metrics(), *result.families]

    def _log(self, error: ScrapeError | None) -> None:
        message = None if error is None else f"{error.reason}: {error.message}"
        with self._lock:
            changed = message != self._state.last_message
            self._state.last_message = message
        if error is None:
            if changed:
                log.info("target %s (%s) is up", self.name, self.kind)
            return
        level = logging.WARNING if changed else logging.DEBUG
        log.log(level, "target %s (%s) is down: %s", self.name, self.kind, message)
