"""A Prometheus the test scripts: the service reads it through the ``PromReader`` protocol."""

from __future__ import annotations

from collections.abc import Sequence

from sloplane.detect.prom import PromError, RangeSeries


class FixedProm:
    """Answers every range query with ``series`` and every instant query with ``vector``.

    Set ``error`` to make every read fail as an outage would.
    """

    def __init__(
        self,
        series: Sequence[RangeSeries] = (),
        vector: Sequence[tuple[dict[str, str], float, float]] = (),
    ) -> None:
        self.series = list(series)
        self.vector = list(vector)
        self.error: str | None = None
        self.range_calls: list[tuple[str, float, float, float]] = []

    def query_range(self, query: str, start: float, end: float, step: float) -> list[RangeSeries]:
        self.range_calls.append((query, start, end, step))
        if self.error:
            raise PromError(self.error)
        return list(self.series)

    def query(
        self, query: str, at: float | None = None
    ) -> list[tuple[dict[str, str], float, float]]:
        if self.error:
            raise PromError(self.error)
        return list(self.vector)
