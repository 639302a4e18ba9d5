"""Contextual novelty: has this short sequence of value levels been seen before?

The idea follows the Contextual Anomaly Detector (CAD OSE) of the NAB
scoreboard, written afresh and simplified: values are quantised into a small
alphabet, the detector remembers which short sequences of symbols have
occurred, and a point is surprising when the contexts that lead up to it were
familiar but were never followed by its symbol. Unlike CAD OSE it scales by the
running minimum and maximum (never the file's overall range, which a streaming
detector cannot know), and its memory is bounded by construction: with ``L``
levels and order ``K`` there are at most ``L + L^2 + ... + L^(K+1)`` distinct
sequences to count. Those counts live in one flat array of 16-bit integers
indexed by the sequence read as a base-``L`` number (9 KiB for the default
8 levels and order 3, whatever the series does), not in a dictionary of
tuples (which reached a few hundred KiB per series on a noisy one).
"""

from __future__ import annotations

import math
from array import array
from typing import ClassVar

from sloplane.detectors.base import Detector
from sloplane.detectors.components import NO_OPINION, Component, Range

_DENSE_MAX = 1 << 16
"""Up to this many possible sequences the counts are a dense array; beyond (many
levels or a high order), a dictionary holds only the sequences seen."""
_COUNT_CAP = (1 << 16) - 1
"""Counts saturate here (16 bits each); only ``>= min_context`` and ``> 0`` are ever
asked of them, so ``min_context`` may be at most this."""


class _SparseCounts(dict[int, int]):
    """Counts of the sequences seen, 0 for the others (without storing them)."""

    def __missing__(self, key: int) -> int:
        return 0


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
        if levels < 2 or not 1 <= min_order <= order or not 1 <= min_context <= _COUNT_CAP:
            raise TypeError(
                "levels >= 2, 1 <= min_order <= order, 1 <= min_context <= 65535 are required"
            )
        self.levels = levels
        self.order = order
        self.min_order = min_order
        self.min_context = min_context
        self.range = Range()
        self.recent: tuple[int, ...] = ()
        # offsets[m]: where the sequences of length m start in the flat index.
        self.offsets = [0, 0]
        for m in range(1, order + 2):
            self.offsets.append(self.offsets[-1] + levels**m)
        size = self.offsets[-1]
        self.counts: array[int] | _SparseCounts = (
            array("H", bytes(2 * size)) if size <= _DENSE_MAX else _SparseCounts()
        )
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
        levels = self.levels
        offsets = self.offsets
        familiar = novel = 0
        # num: the last k symbols of ``recent`` read as a base-``levels`` number.
        num = 0
        power = 1
        for k in range(1, len(recent) + 1):
            num += recent[-k] * power
            power *= levels
            if k >= self.min_order and counts[offsets[k] + num] >= self.min_context:
                familiar += 1
                if not counts[offsets[k + 1] + num * levels + sym]:
                    novel += 1
        # Learn every gram ending in ``sym``: sym alone, then with 1..len(recent) before it.
        num = sym
        power = levels
        for k in range(len(recent) + 1):
            if k:
                num += recent[-k] * power
                power *= levels
            g = offsets[k + 1] + num
            c = counts[g]
            if c < _COUNT_CAP:
                counts[g] = c + 1
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
