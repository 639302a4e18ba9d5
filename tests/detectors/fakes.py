"""Stand-ins for unit tests: a Prometheus the test scripts and a detector that scores on cue.

The service reads Prometheus through the ``PromReader`` protocol of
:mod:`sloplane.clients.prometheus`, so a test passes :class:`FixedProm` instead of
patching the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sloplane.clients.prometheus import PrometheusError, Sample, Series
from sloplane.detectors.base import Detector


def series(labels: Mapping[str, str], points: Sequence[tuple[float, float]]) -> Series:
    return Series(dict(labels), tuple(points))


class FixedProm:
    """Answers every range query with ``series`` and every instant query with ``vector``.

    Set ``error`` to make every read fail as an outage would.
    """

    def __init__(self, series: Sequence[Series] = (), vector: Sequence[Sample] = ()) -> None:
        self.series = list(series)
        self.vector = list(vector)
        self.error: str | None = None
        self.range_calls: list[tuple[str, float, float, float]] = []

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.range_calls.append((query, start, end, step))
        if self.error:
            raise PrometheusError("http://fixed-prometheus", self.error)
        return list(self.series)

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        if self.error:
            raise PrometheusError("http://fixed-prometheus", self.error)
        return list(self.vector)


class Scripted(Detector):
    """Scores read from a list, one per point (then the last one forever)."""

    def __init__(self, scores: Sequence[float]) -> None:
        super().__init__()
        self.scores = list(scores)

    def _update(self, t: float, x: float) -> float:
        return self.scores.pop(0) if len(self.scores) > 1 else self.scores[0]


class HistoryProm:
    """A Prometheus holding whole series: a range query answers the points inside it.

    ``add`` a series' full history; series with no point in the range are left out,
    as Prometheus leaves them out. ``range_calls`` records every range read.
    """

    def __init__(self) -> None:
        self.data: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        self.range_calls: list[tuple[str, float, float, float]] = []

    def add(self, labels: Mapping[str, str], points: Sequence[tuple[float, float]]) -> None:
        self.data[tuple(sorted(labels.items()))] = list(points)

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.range_calls.append((query, start, end, step))
        found = []
        for key, points in self.data.items():
            inside = tuple(p for p in points if start <= p[0] <= end)
            if inside:
                found.append(Series(dict(key), inside))
        return found

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        return []
