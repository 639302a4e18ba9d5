"""The detectors users pick by name: components paired with calibration.

Every detector here returns calibrated scores (see
:class:`~sloplane.detectors.base.AnomalyLikelihood`), so one threshold means
roughly the same rarity whichever detector or metric it is applied to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, validate_call

from sloplane.detectors.base import AnomalyLikelihood, Detector, RecordCalibrator
from sloplane.detectors.components import (
    Component,
    Cusum,
    EWMAResidual,
    IsolationForestComponent,
    SeasonalMAD,
    Spatial,
)
from sloplane.detectors.context import ContextDetector, ContextNovelty
from sloplane.errors import SloplaneError

# Parameter ranges, checked when a detector is built so that a typo or a negative
# window in detect.yaml or --params is a one-line error, not a silently odd detector.
Positive = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(gt=0, le=1)]
"""A smoothing factor: 0 would never learn."""
Unit = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
_checked = validate_call(config=ConfigDict(strict=False, extra="forbid"))


class Calibrated(Detector):
    """One component whose surprise goes through the anomaly likelihood."""

    def __init__(self, component: Component, likelihood: AnomalyLikelihood | None = None) -> None:
        super().__init__()
        self.component = component
        self.likelihood = likelihood or AnomalyLikelihood()

    @property
    def warming_up(self) -> bool:
        return self.likelihood.warming_up

    def _update(self, t: float, x: float) -> float:
        s = self.likelihood.update(self.component.surprise(t, x))
        self._expected = self.component.expected
        return s

    def score_many(self, t: Any, x: Any) -> np.ndarray:
        ts = np.asarray(t, dtype=float)
        xs = np.asarray(x, dtype=float)
        ok = np.isfinite(xs)
        out = np.zeros(len(xs))
        raw = self.component.surprises(ts[ok], xs[ok])
        upd = self.likelihood.update
        out[ok] = [upd(float(r)) for r in raw]
        self._expected = self.component.expected
        return np.clip(out, 0.0, 1.0)


class SeasonalDetector(Calibrated):
    """Robust seasonal baseline: median and MAD by hour of day (or of week)."""

    name: ClassVar[str] = "seasonal"

    @_checked
    def __init__(
        self, period: Positive = 86400.0, bins: Count = 24, depth: Count = 48, learning: Count = 300
    ) -> None:
        super().__init__(
            SeasonalMAD(period=period, bins=bins, depth=depth), AnomalyLikelihood(learning=learning)
        )


class EWMADetector(Calibrated):
    """Residual from an exponentially weighted level; with ``beta`` > 0, Holt's
    linear trend (double exponential smoothing)."""

    name: ClassVar[str] = "ewma"

    @_checked
    def __init__(self, alpha: Rate = 0.1, beta: Unit = 0.0, learning: Count = 300) -> None:
        super().__init__(EWMAResidual(alpha=alpha, beta=beta), AnomalyLikelihood(learning=learning))


class HoltDetector(EWMADetector):
    """Holt (level + trend) residual, for metrics that ramp."""

    name: ClassVar[str] = "holt"

    @_checked
    def __init__(self, alpha: Rate = 0.2, beta: Unit = 0.05, learning: Count = 300) -> None:
        super().__init__(alpha=alpha, beta=beta, learning=learning)


class CusumDetector(Detector):
    """CUSUM change-point score for level shifts.

    CUSUM's statistic is already in units of its decision interval ``h`` (robust
    sigmas), so the score is the statistic over ``h`` directly: 1 means "a shift
    is declared", after which the detector re-centres on the new level.
    """

    name: ClassVar[str] = "cusum"

    @_checked
    def __init__(
        self, alpha: Rate = 0.01, k: Annotated[float, Field(ge=0)] = 0.5, h: Positive = 8.0
    ) -> None:
        super().__init__()
        self.component = Cusum(alpha=alpha, k=k, h=h)

    def _update(self, t: float, x: float) -> float:
        return min(self.component.surprise(t, x), 1.0)


class IsolationForestDetector(Calibrated):
    """scikit-learn IsolationForest over windowed features."""

    name: ClassVar[str] = "iforest"

    @_checked
    def __init__(
        self,
        width: Count = 12,
        history: Annotated[int, Field(ge=2)] = 2000,
        refit_every: Count = 500,
    ) -> None:
        super().__init__(
            IsolationForestComponent(width=width, history=history, refit_every=refit_every)
        )


DEFAULT_SIGNALS = (
    "seasonal:median10",
    "ewma:median10",
    "cusum:1",
    "context:3",
    "context:5",
)
"""The ensemble's signals; how they were chosen and what each is worth on NAB: BENCHMARKS.md.
``iforest:1`` (odd local shapes) is available but left out of the default: on NAB it
added nothing on average (70.9 without it, 69.7-71.3 with it over forest seeds), it
made the score depend on random draws, and it cost more CPU than everything else
together (BENCHMARKS.md, detector throughput)."""


class EnsembleDetector(Detector):
    """Several causal signals, each scored against its own record, combined by max.

    A *signal* is a component's deviation, optionally summarised over the last
    ``k`` points: ``"name:k"`` is the mean, ``"name:mediank"`` the median. The
    default set covers one kind of anomaly each: ``seasonal:median10`` a
    persistent departure from the usual level for the time of day (shifts,
    broken daily patterns), ``ewma:median10`` the same from the recent level
    for metrics without a daily cycle (medians, so a lone spike does not
    count), ``cusum:1`` a slow level change no single point shows,
    ``iforest:1`` an odd local shape (variance, oscillation), ``context:3``
    and ``context:5`` a sequence of levels never seen before, briefly or for a
    while. Spikes are left to the spatial check, which scores a value outside
    everything seen so far (by ``spatial_tolerance`` of the range). Each
    signal is scored by a :class:`~sloplane.detectors.base.RecordCalibrator`
    (how it compares with the largest value it had recently), so no
    per-metric scale is needed. The ensemble answers with the largest score;
    an episode raises the records as it goes and so alerts once, at its start.
    """

    name: ClassVar[str] = "ensemble"

    @_checked
    def __init__(
        self,
        signals: tuple[str, ...] = DEFAULT_SIGNALS,
        spatial: bool = True,
        spatial_tolerance: Unit = 0.05,
        halflife: Positive = 5000.0,
        warmup: NonNegative = 100,
        component_params: dict[str, dict[str, Any]] | None = None,
        alert_level: Unit = 0.55,
        refractory: NonNegative = 20,
        damping: Unit = 0.0,
    ) -> None:
        super().__init__()
        self.alert_level = alert_level
        self.refractory = refractory
        self.damping = damping
        self.since_alert = refractory + 1
        cp = {**DEFAULT_COMPONENT_PARAMS, **(component_params or {})}
        self.parts: dict[str, Component] = {}
        self.wiring: list[tuple[str, RecordCalibrator]] = []
        for sig in signals:
            comp, k, median = parse_signal(sig)
            if comp not in self.parts:
                self.parts[comp] = COMPONENTS[comp](**cp.get(comp, {}))
            self.wiring.append((comp, RecordCalibrator(k, halflife, warmup, median=median)))
        self.spatial = Spatial(spatial_tolerance, warmup=warmup) if spatial else None
        # Alert annotations show a band around the expected value; only models
        # of the level give one that means "what the value should have been".
        self._band = next((self.parts[c] for c in _LEVEL_MODELS if c in self.parts), None)

    @property
    def warming_up(self) -> bool:
        """Until some signal (or the new-extreme rule) can score."""
        spatial_warm = self.spatial is not None and not self.spatial.warming_up
        return not spatial_warm and all(cal.warming_up for _, cal in self.wiring)

    def _combine(self, devs: dict[str, float], spatial: float) -> float:
        s = max((cal.update(devs[comp]) for comp, cal in self.wiring), default=0.0)
        return self._gate(max(s, spatial))

    def _gate(self, s: float) -> float:
        """The refractory: after a score at ``alert_level``, damp the next ones."""
        self.since_alert += 1
        if self.since_alert <= self.refractory:
            return s * self.damping
        if s >= self.alert_level:
            self.since_alert = 0
        return s

    def _update(self, t: float, x: float) -> float:
        devs = {name: p.surprise(t, x) for name, p in self.parts.items()}
        spatial = self.spatial.surprise(t, x) if self.spatial else 0.0
        self._expected = self._band.expected if self._band else None
        return self._combine(devs, spatial)

    def score_many(self, t: Any, x: Any) -> np.ndarray:
        ts = np.asarray(t, dtype=float)
        xs = np.asarray(x, dtype=float)
        ok = np.isfinite(xs)
        tk, xk = ts[ok], xs[ok]
        raws = {name: p.surprises(tk, xk) for name, p in self.parts.items()}
        sp = self.spatial.surprises(tk, xk) if self.spatial else np.zeros(len(xk))
        # Each signal's calibrated scores in turn (a calibrator's state depends
        # only on its own signal), then the running max and the refractory.
        best = sp.copy()
        for comp, cal in self.wiring:
            upd = cal.update
            scored = np.fromiter((upd(v) for v in raws[comp].tolist()), float, len(xk))
            np.maximum(best, scored, out=best)
        gate = self._gate
        comb = np.fromiter((gate(v) for v in best.tolist()), float, len(xk))
        out = np.zeros(len(xs))
        out[ok] = comb
        self._expected = self._band.expected if self._band else None
        return np.clip(out, 0.0, 1.0)


def parse_signal(sig: str) -> tuple[str, int, bool]:
    """``"name"``, ``"name:k"`` (mean of k) or ``"name:mediank"`` -> (name, k, median)."""
    comp, _, agg = sig.partition(":")
    if comp not in COMPONENTS:
        raise ValueError(f"signals: unknown component {comp!r} in {sig!r}")
    median = agg.startswith("median")
    k = agg.removeprefix("median") if median else agg
    if (median and not k) or not (k or "1").isdigit() or int(k or 1) < 1:
        raise ValueError(f"signals: {sig!r} must be name, name:k or name:mediank with k >= 1")
    return comp, int(k or 1), median


_LEVEL_MODELS = ("seasonal", "ewma", "holt")
"""Components whose ``expected`` is a band around a predicted value."""

DEFAULT_COMPONENT_PARAMS: dict[str, dict[str, Any]] = {
    "cusum": {"h": 16.0},
    # More trees, refitted half as often: the same CPU as 50 every 500 points,
    # and a score that depends less on the forest's random draws.
    "iforest": {"n_estimators": 100, "refit_every": 1000},
}

COMPONENTS: dict[str, Callable[..., Component]] = {
    "ewma": EWMAResidual,
    "holt": lambda **kw: EWMAResidual(**{"alpha": 0.2, "beta": 0.05, **kw}),
    "seasonal": SeasonalMAD,
    "cusum": Cusum,
    "iforest": IsolationForestComponent,
    "context": ContextNovelty,
}

DETECTORS: dict[str, type[Detector]] = {
    d.name: d
    for d in (
        SeasonalDetector,
        EWMADetector,
        HoltDetector,
        CusumDetector,
        IsolationForestDetector,
        EnsembleDetector,
        ContextDetector,
    )
}


class DetectorError(SloplaneError):
    """A detector name or parameter the user got wrong; ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def make_detector(name: str, **params: Any) -> Detector:
    """Build a detector by its registry name with keyword parameters, checked."""
    cls = DETECTORS.get(name)
    if cls is None:
        raise DetectorError(
            "detector", f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}"
        )
    try:
        return cls(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"]) or "params"
        msg = "unknown parameter" if err["type"] == "unexpected_keyword_argument" else err["msg"]
        raise DetectorError(f"params.{param}", f"{msg} (detector {name!r})") from exc
    except (TypeError, ValueError) as exc:
        raise DetectorError("params", f"{exc} (detector {name!r})") from exc
