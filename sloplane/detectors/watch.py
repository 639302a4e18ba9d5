"""What a watch alerts on: direction, a practical floor, value bounds and a false-alarm budget.

A detector answers "how unusual is this point"; a watch must answer "is this
worth a person's time". :class:`WatchDetector` wraps any detector with the
rules an on-call engineer states about a metric:

- ``direction``: ``up`` (more errors, more latency) or ``down`` (less traffic)
  is the harmful side; a move the other way, a recovery included, never alerts.
- ``min_change`` / ``min_relative_change``: a practical floor; a change
  smaller than this from the expected value is not an anomaly, however
  improbable (a flat series' tiny wiggle).
- ``lower_bound`` / ``upper_bound``: the values the metric can take (a rate
  is never negative); the expected range stays inside them.
- ``false_alarms`` (for example ``"1/week"``): instead of a raw score
  threshold, alert on points rarer, for this series, than the budget allows
  (:mod:`sloplane.detectors.calibration`). The raw ``threshold`` stays for
  experts: set it and the watch compares the detector's score with it.

It keeps its own baseline of the series (an exponentially weighted level and
absolute deviation, learnt from points ``delay`` steps old so an unfolding
shift does not drag it along), which gives the expected range, the sign of a
change and, in budget mode, a second opinion: how many typical deviations
the value is off on the harmful side. That opinion is what keeps a sustained
harmful shift alerting when the detector itself has seen similar shifts
before. A harmless excursion (with a direction) is not learnt either, so
the return from it reads as a return to normal. Once an alert starts, the
baseline freezes and the alert holds while the value stays outside the
pre-alert band on the harmful side (up to ``max_hold`` seconds of data), so
a shift alerts for as long as it lasts and its end is a recovery, not a new
anomaly.

Scores keep the detector contract (in [0, 1], causal, ``score_many`` equals
the ``update`` loop bit for bit); the watch alerts when the score reaches
:attr:`WatchDetector.alert_at`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sloplane.detectors.base import Detector
from sloplane.detectors.calibration import TailEstimate, parse_false_alarms
from sloplane.detectors.detectors import DetectorError, make_detector

BUDGET_ALERT_AT = 0.5
"""In budget mode the score is 0.5 exactly where a point is as rare as the budget allows."""

_BAND_SIGMAS = 3.0
_MARGIN = 4.0
"""The budget is aimed at with this safety factor: a tail estimated from a week or
two of one series is uncertain, and counts and latencies have lumpy, heavy
tails (BENCHMARKS.md: without it, about 1-2 false episodes a week on them)."""
_HOLD_SIGMAS = 2.0
_LEARN_BELOW = 0.7
"""Points scoring above this share of the alert level are not learnt (about 1 in
3,000 points or rarer at 1/week and a 1-minute step)."""
_BASELINE_POINTS = 100
_CALIBRATION_POINTS = 1000
"""Deviations learnt before any is called rare: with fewer, a 2% tail is a handful of points."""
WARMUP_POINTS = 1 + 10 + _BASELINE_POINTS + _CALIBRATION_POINTS
"""History that warms a budgeted watch with default options from cold (points);
points during excursions are not learnt, so a troubled history may need more."""
"""Points the baseline learns before its deviations are judged or learnt."""
_GRACE = 30
"""Points after an excursion ends during which the detector's own score is not
trusted (it learnt the excursion); the watch's deviation still counts."""
_MAD_TO_SIGMA = 1.25
_FLAT_SHARE = 0.9
"""A series is *flat* (a replica count, a config value, a sparse error count) when
at least this share of its recent consecutive points are exactly equal."""
_STEP_MARGIN = 1.5
"""On a flat series, a change must exceed the largest step it took recently by this
factor to count: a replica count that moved by 1 before may move by 1 again."""
_STEP_HALFLIFE = 20_160.0
"""Points over which a remembered step halves (two weeks at one point a minute)."""


class WatchOptions(BaseModel):
    """The options of :class:`WatchDetector`, as a watch in detect.yaml spells them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Literal["up", "down", "both"] = "both"
    min_change: Annotated[float, Field(ge=0)] = 0.0
    min_relative_change: Annotated[float, Field(ge=0)] = 0.0
    lower_bound: float | None = None
    upper_bound: float | None = None
    false_alarms: str | float | None = "1/week"
    threshold: Annotated[float, Field(gt=0, le=1)] | None = None
    max_hold: Annotated[float, Field(ge=0)] = 4 * 3600.0
    """Seconds of data a harmful excursion holds the alert at most; then its level is
    taken as the new normal. Harmless excursions are held until the value is back."""
    baseline_alpha: Annotated[float, Field(gt=0, le=1)] = 0.1
    delay: Annotated[int, Field(ge=0)] = 10
    learn_steps: bool = True
    """On a flat series, learn a floor from its own healthy steps (see the module doc)."""

    @field_validator("false_alarms")
    @classmethod
    def _budget(cls, v: str | float | None) -> str | float | None:
        if v is not None:
            parse_false_alarms(v)  # raises ValueError with the field's name
        return v

    @model_validator(mode="after")
    def _consistent(self) -> WatchOptions:
        lo, hi = self.lower_bound, self.upper_bound
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError("lower_bound must be below upper_bound")
        if self.false_alarms is None and self.threshold is None:
            raise ValueError("set false_alarms (for example '1/week') or a raw threshold")
        return self

    @property
    def budget_mode(self) -> bool:
        """A raw ``threshold`` written by the user wins over the default budget."""
        return self.threshold is None


class WatchDetector(Detector):
    """A detector under a watch's rules (see the module doc)."""

    name: ClassVar[str] = "watch"

    def __init__(self, detector: Detector, options: WatchOptions | None = None) -> None:
        super().__init__()
        self.inner = detector
        self.options = opts = options or WatchOptions()
        self.sign = {"up": 1.0, "down": -1.0, "both": 0.0}[opts.direction]
        self.alert_at = BUDGET_ALERT_AT if opts.budget_mode else float(opts.threshold or 0.0)
        self.rate = 0.0
        if opts.budget_mode and opts.false_alarms is not None:
            self.rate = parse_false_alarms(opts.false_alarms)
        # Baseline: level and mean absolute deviation, learnt `delay` points late.
        self.level: float | None = None
        self.mad = 0.0
        self.seen = 0
        self.pending: deque[float] = deque(maxlen=max(opts.delay, 1))
        self.step: float | None = None
        self.last_t: float | None = None
        # Budget mode: the series' own distributions of the detector's score and
        # of its harmful deviation in typical deviations.
        self.score_tail = TailEstimate(0.0, 1.0, min_points=_CALIBRATION_POINTS)
        self.dev_tail = TailEstimate(0.0, 20.0, min_points=_CALIBRATION_POINTS)
        # The alert in progress: its frozen centre and scale, and how long it has held.
        self.held: tuple[float, float, float] | None = None  # centre, scale, side
        self.held_since = 0.0
        self.inside_run = 0
        self.inner_started = False
        self.grace = 0
        self.recent: deque[float] = deque(maxlen=5)
        self._recent_sum = 0.0
        self.last_one_in = 1.0
        self._warm = False
        self._budget_step = math.nan
        self._log_allowed = 0.0
        self._floored = opts.min_change > 0 or opts.min_relative_change > 0
        # Flat series: the share of exactly equal consecutive points, and the largest
        # recent step (decaying), from which the learnt floor comes.
        self.prev: float | None = None
        self.flat_share = 0.0
        self.steps_seen = 0
        self.step_record = 0.0
        self._step_decay = 0.5 ** (1.0 / _STEP_HALFLIFE)
        self.learnt_floor = 0.0

    # -- what the service reads ------------------------------------------------

    @property
    def warming_up(self) -> bool:
        """Until the baseline and, in budget mode, the rarity of deviations are learnt."""
        return self.level is None or self.seen < _BASELINE_POINTS or self._calibrating()

    @property
    def warmup_left(self) -> int:
        """Points still to learn before the watch can alert (0 when warm), for
        /healthz and an ETA; prime it with ``score_many`` over the series'
        history to skip the wait (:data:`WARMUP_POINTS` points at most)."""
        delay = self.pending.maxlen or 0
        left = max(_BASELINE_POINTS - self.seen, 0)
        if self.seen == 0:
            left += max(delay - len(self.pending), 0)
        if self.options.budget_mode:
            left += max(self.dev_tail.min_points - self.dev_tail.n, 0)
        return left

    def _calibrating(self) -> bool:
        return self.options.budget_mode and self.dev_tail.warming_up

    @property
    def expected_range(self) -> tuple[float, float] | None:
        """The baseline band (3 typical deviations each side), inside the value bounds."""
        if self.level is None:
            return None
        centre, scale = self.held[:2] if self.held else (self.level, self._scale())
        return self._bounded(centre - _BAND_SIGMAS * scale, centre + _BAND_SIGMAS * scale)

    @property
    def one_in(self) -> float:
        """How unusual the last point was for this series: "1 in N points" (1 when not
        rare, or before the watch has learnt the series)."""
        return self.last_one_in

    def describe(self, value: float) -> str:
        """One sentence for alert text: the value against the expected range, and rarity."""
        band = self.expected_range
        where = f"expected {band[0]:.6g} to {band[1]:.6g}" if band else "no expected range yet"
        rare = f", about 1 in {self.last_one_in:,.0f} points" if self.last_one_in > 1 else ""
        side = {"up": "too high", "down": "too low", "both": "unusual"}[self.options.direction]
        return f"value {value:.6g} is {side} ({where}{rare})."

    # -- scoring ---------------------------------------------------------------

    def _bounded(self, lo: float, hi: float) -> tuple[float, float]:
        lb, ub = self.options.lower_bound, self.options.upper_bound
        if lb is not None:
            lo, hi = max(lo, lb), max(hi, lb)
        if ub is not None:
            lo, hi = min(lo, ub), min(hi, ub)
        return lo, hi

    def _scale(self) -> float:
        level = self.level or 0.0
        return max(_MAD_TO_SIGMA * self.mad, 1e-9 * abs(level), 1e-12)

    def _learn_baseline(self, x: float) -> None:
        """Learn from the point ``delay`` steps old, so a shift reaches the baseline late."""
        pending = self.pending
        old = pending[0] if len(pending) == pending.maxlen else None
        pending.append(x)
        if old is None:
            return
        self.seen += 1
        if self.level is None:
            self.level = old
            return
        a = max(self.options.baseline_alpha, 1.0 / self.seen)
        err = old - self.level
        self.level += a * err
        # Clipped, so an outlier cannot widen the band that judges it.
        self.mad += a * (min(abs(err), 4.0 * self._scale()) - self.mad)

    def _harm(self, x: float, centre: float) -> float:
        """The change from ``centre`` on the harmful side (negative: the harmless side)."""
        d = x - centre
        return d * self.sign if self.sign else abs(d)

    def _floor(self, centre: float) -> float:
        if not self._floored:
            return self.learnt_floor
        o = self.options
        return max(o.min_change, o.min_relative_change * abs(centre), self.learnt_floor)

    def _learn_step(self, x: float, ordinary: bool = True) -> bool:
        """Learn how flat the series is and the size of its healthy steps.

        A flat series has no noise to measure a change against: every step is
        infinitely many typical deviations, so without a floor each healthy
        step (a replica count going from 3 to 4) would alert. Its own record
        of steps is the floor the user would have written. A step that alerted
        is learnt only if it outlasts ``max_hold`` (the new level is accepted).
        Steps are learnt from the points the watch learns from, after the
        point is judged, and only from ``ordinary`` ones (below the floor
        already, or while the watch still calibrates on the series' history),
        so a shift is judged before it can raise the floor and a shift still
        building up (a first point that did not alert on its own) never does.
        Returns whether the floor rose.
        """
        prev = self.prev
        self.prev = x
        if prev is None or not self.options.learn_steps:
            return False
        d = abs(x - prev)
        self.steps_seen += 1
        a = max(1e-3, 1.0 / self.steps_seen)  # a running mean, then the last ~1,000
        self.flat_share += a * ((1.0 if d == 0.0 else 0.0) - self.flat_share)
        record = self.step_record * self._step_decay
        self.step_record = d if d > record and ordinary else record
        flat = self.flat_share >= _FLAT_SHARE
        before = self.learnt_floor
        self.learnt_floor = _STEP_MARGIN * self.step_record if flat else 0.0
        return self.learnt_floor > before

    def _step_of(self, t: float) -> float:
        """The typical time between points, for the budget's points per week."""
        last = self.last_t
        self.last_t = t
        if last is not None and t > last:
            step = self.step
            self.step = step = t - last if step is None else step + 0.01 * (t - last - step)
            return step
        return self.step or 60.0

    def _decide(self, t: float, x: float, s: float) -> float:
        """Turn the detector's score ``s`` for ``(t, x)`` into the watch's score."""
        step = self._step_of(t)
        if self.held is not None:
            centre, scale, side = self.held
            # Three points in a row back inside, so one point of noise does not
            # end an excursion that is still going on.
            off = self._harm(x, centre) * side
            inside = off < max(_HOLD_SIGMAS * scale, self._floor(centre))
            self.inside_run = self.inside_run + 1 if inside else 0
            if self.inside_run >= 3:
                # Back inside the pre-excursion band: the detector, which learnt
                # the excursion, sees the way back as news; it is not.
                self.held = None
                self.grace = _GRACE
            elif side > 0 and t - self.held_since > self.options.max_hold:
                # A harmful level outlasted max_hold. A harmless one never expires:
                # whatever comes back from it is a return toward normal.
                self._accept_new_level(x)
        if self.held is None:
            centre = self.level if self.level is not None else x
            scale = self._scale()
        harm = self._harm(x, centre)
        significant = self.level is not None and harm > 0 and harm >= self._floor(centre)
        if self.sign and harm < scale:  # within a typical deviation: no side to speak of
            significant = False
        gated = s if significant and not self.grace else 0.0
        self.grace = max(self.grace - 1, 0)
        if self.options.budget_mode:
            dev = self._persistent(x, centre, scale)
            if harm < self._floor(centre):  # this point's own change is below the floor
                dev = 0.0
            out = self._budget(gated, dev, step, self.held is None, x, harm, centre)
        else:
            out = gated
        warming = not self._warm and self.warming_up
        self._warm = not warming  # once warm, always warm: skip the checks
        if self.held is not None:
            if self.held[2] > 0:
                out = max(out, self.alert_at)
        elif out >= self.alert_at and not warming:
            self._hold(t, centre, scale, 1.0)
        elif self.sign and harm < -_BAND_SIGMAS * scale and not warming:
            # A harmless excursion: not learnt, so the way back reads as a return to
            # normal, not as a move to the harmful side.
            self._hold(t, centre, scale, -1.0)
        else:
            if not self.options.budget_mode:  # (in budget mode, _budget learnt it)
                self._learn_step(x)
            self._learn_baseline(x)
        return 0.0 if warming else out

    def _persistent(self, x: float, centre: float, scale: float) -> float:
        """The mean harmful deviation of the last few points, in typical deviations.

        A mean of five has less than half the noise of one point, so a lasting
        shift stands out of the noise well before a single point would, while
        a lone spike (the detector's business) is diluted.
        """
        recent = self.recent
        if len(recent) == recent.maxlen:
            self._recent_sum -= recent[0]
        d = (x - centre) / scale
        recent.append(d)
        self._recent_sum += d
        mean = self._recent_sum / len(recent)
        harm = mean * self.sign if self.sign else abs(mean)
        if harm <= 0 or harm * scale < self._floor(centre):
            return 0.0
        return min(harm, 20.0)

    def _accept_new_level(self, x: float) -> None:
        """An excursion outlasted ``max_hold``: it is the new normal. Restart the
        baseline there (keeping the scale), and trust the detector again later."""
        self.held = None
        self.prev = self.level
        self._learn_step(x)  # the accepted level's step, as if it were one point
        self.level = x
        self.pending.clear()
        self.recent.clear()
        self._recent_sum = 0.0
        self.grace = _GRACE

    def _hold(self, t: float, centre: float, scale: float, side: float) -> None:
        self.held = (centre, scale, side)
        self.held_since = t
        self.inside_run = 0

    def _budget(
        self, s: float, dev: float, step: float, learn: bool, x: float, harm: float, centre: float
    ) -> float:
        """Score by rarity: ``alert_at`` where a point is as rare as the budget allows.

        The budget is split between the two opinions (the detector's score and
        the harmful deviation), so together they stay within it. Points during
        an alert are not learnt: a long incident must not become "usual".
        """
        # The detector's score is capped at 1 and reaches it on any new extreme, so
        # beyond what the histogram holds its tail cannot be extrapolated: it never
        # claims more than "as rare as anything seen". The deviation's tail can be.
        p = self.dev_tail.exceedance(dev) if dev > 0 else 1.0
        if s > 0:
            tail = self.score_tail
            p_score = tail.exceedance(s)
            floor = tail.resolution
            p_score = floor if p_score < floor else p_score
            p = p_score if p_score < p else p
            self.inner_started = True
        p = p if p > 1e-300 else 1e-300
        self.last_one_in = 1.0 / p
        out = 0.0
        if p < 1.0:
            if step != self._budget_step:  # log of the per-point allowance, per opinion
                self._budget_step = step
                self._log_allowed = math.log(min(0.25, 0.5 * self.rate * step / _MARGIN))
            out = BUDGET_ALERT_AT * math.log(p) / self._log_allowed
            out = out if out < 1.0 else 1.0
        # Only ordinary points teach what is ordinary: an incident, even one that did
        # not alert, must not make the next one look usual (censoring the tail a
        # little above its fitted part costs little: the fit uses the top 2%).
        if learn and self.seen >= _BASELINE_POINTS and out < _LEARN_BELOW * BUDGET_ALERT_AT:
            ordinary = harm < self._floor(centre) or self.dev_tail.warming_up
            if self._learn_step(x, ordinary) and harm < self._floor(centre):
                # A flat series' step, the first of its size: judged (while warming
                # up, not alerted), but what is learnt is that such steps are healthy.
                dev = s = 0.0
            self.dev_tail.learn(dev)
            if self.inner_started:  # the detector's zeros while warming up are not "usual"
                self.score_tail.learn(s)
        return out

    def _update(self, t: float, x: float) -> float:
        return self._decide(t, x, self.inner.update(t, x))

    def score_many(self, t: Any, x: Any) -> np.ndarray:
        ts = np.asarray(t, dtype=float)
        xs = np.asarray(x, dtype=float)
        inner = self.inner.score_many(ts, xs)
        out = np.zeros(len(xs))
        decide = self._decide
        ok = np.flatnonzero(np.isfinite(xs))
        for i, a, b, s in zip(
            ok.tolist(), ts[ok].tolist(), xs[ok].tolist(), inner[ok].tolist(), strict=True
        ):
            out[i] = decide(a, b, s)
        return np.clip(out, 0.0, 1.0)


def make_watch(
    detector: str = "ensemble", params: dict[str, Any] | None = None, **options: Any
) -> WatchDetector:
    """Build a watched detector from config values, checked.

    ``detector``/``params`` as for :func:`~sloplane.detectors.detectors.make_detector`;
    ``options`` are :class:`WatchOptions` fields (``direction``, ``min_change``,
    ``min_relative_change``, ``lower_bound``, ``upper_bound``, ``false_alarms``,
    ``threshold``, ``max_hold``). A wrong value raises
    :class:`~sloplane.detectors.detectors.DetectorError` naming the field.
    """
    inner = make_detector(detector, **(params or {}))
    try:
        opts = WatchOptions(**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "watch"
        msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
        raise DetectorError(field, msg.removeprefix("Value error, ")) from exc
    return WatchDetector(inner, opts)
