"""Contextual novelty: has this short sequence of value levels been seen before?

The idea follows the Contextual Anomaly Detector (CAD OSE) of the NAB
scoreboard, written afresh and simplified: values are quantised into a small
alphabet, the detector remembers which short sequences of symbols have
occurred, and a point is surprising when the contexts that lead up to it were
familiar but were never followed by its symbol. Unlike CAD OSE it scales by the
running minimum and maximum (never the file's overall range, which a streaming
detector cannot know), and its memory is bounded by construction: with ``L``
levels and order ``K`` there are at most ``L + L^2 + ... + L^(K+1)`` distinct
sequences to count.
"""

from __future__ import annotations

import math
from typing import ClassVar

from sloplane.detectors.base import Detector
from sloplane.detectors.components import NO_OPINION, Component, Range


class ContextNovelty(Component):
    """Fraction of familiar contexts in which the current symbol is new.

    A context is the last ``k`` symbols, for ``k`` from ``min_order`` to
    ``order``; it is familiar once seen ``min_context`` times. One-symbol
    contexts are left out by default: with a coarse alphabet, moving to a
    neighbouring level is too ordinary to be news. The surprise is the share of the
    familiar contexts never followed by the current symbol (0 when none is
    familiar: a first-time context says nothing about the current point; before
    any context is familiar the answer is
    :data:`~sloplane.detectors.components.NO_OPINION`).
    """

    def __init__(
        self, levels: int = 8, order: int = 3, min_order: int = 2, min_context: int = 3
    ) -> None:
        super().__init__()
        if levels < 2 or not 1 <= min_order <= order or min_context < 1:
            raise TypeError("levels >= 2, 1 <= min_order <= order, min_context >= 1 are required")
        self.levels = levels
        self.order = order
        self.min_order = min_order
        self.min_context = min_context
        self.range = Range()
        self.recent: tuple[int, ...] = ()
        self.counts: dict[tuple[int, ...], int] = {}
        self.judging = False

    def symbol(self, x: float) -> int:
        """Level of ``x`` in the range seen so far (including ``x``)."""
        r = self.range
        width = r.width
        if width <= 0:
            return 0
        return min(int((x - r.lo) / width * self.levels), self.levels - 1)

    def surprise(self, t: float, x: float) -> float:
        self.range.push(x)
        sym = self.symbol(x)
        counts = self.counts
        recent = self.recent
        familiar = novel = 0
        for k in range(self.min_order, len(recent) + 1):
            ctx = recent[-k:]
            if counts.get(ctx, 0) >= self.min_context:
                familiar += 1
                if (*ctx, sym) not in counts:
                    novel += 1
        for k in range(len(recent) + 1):
            gram = (*recent[len(recent) - k :], sym)
            counts[gram] = counts.get(gram, 0) + 1
        self.recent = (*recent, sym)[-self.order :]
        lo, hi = self.range.lo, self.range.hi
        step = (hi - lo) / self.levels
        self.expected = (lo + sym * step, lo + (sym + 1) * step) if step > 0 else None
        if familiar:
            self.judging = True
            return novel / familiar
        # A context never seen before is no news about this point: 0 once the
        # model has judged anything at all, before that no opinion.
        return 0.0 if self.judging else NO_OPINION


class ContextDetector(Detector):
    """Sequence novelty with a rest period, in the manner of CAD OSE.

    The score is the :class:`ContextNovelty` surprise, already in [0, 1]. After
    a point scores ``alert_level`` or more, the next ``rest`` points score 0:
    an anomaly is reported once, at its start, and its aftermath (new contexts
    while the detector learns the new regime) is not reported again.
    """

    name: ClassVar[str] = "context"

    def __init__(
        self,
        levels: int = 8,
        order: int = 3,
        min_order: int = 2,
        min_context: int = 3,
        alert_level: float = 0.75,
        rest: int = 150,
    ) -> None:
        super().__init__()
        self.component = ContextNovelty(
            levels=levels, order=order, min_order=min_order, min_context=min_context
        )
        self.alert_level = alert_level
        self.rest = rest
        self.since_alert = math.inf

    def _update(self, t: float, x: float) -> float:
        s = self.component.surprise(t, x)
        self._expected = self.component.expected
        self.since_alert += 1
        if self.since_alert <= self.rest:
            return 0.0
        if s >= self.alert_level:
            self.since_alert = 0
        return s
