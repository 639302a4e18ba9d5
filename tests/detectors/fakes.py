"""A Prometheus the test scripts: the service reads it through the ``PromReader`` protocol."""

from __future__ import annotations

from collections.abc import Sequence

from sloplane.detect.prom import PromError, RangeSeries
from sloplane.detectors.base import Detector


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


class Scripted(Detector):
    """Scores read from a list, one per point (then the last one forever)."""

    def __init__(self, scores: Sequence[float]) -> None:
        super().__init__()
        self.scores = list(scores)

    def _update(self, t: float, x: float) -> float:
        return self.scores.pop(0) if len(self.scores) > 1 else self.scores[0]
