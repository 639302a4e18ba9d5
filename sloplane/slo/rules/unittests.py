"""A promtool unit test per SLO, proving its alerts fire on an outage and stay silent otherwise.

Users run ``promtool test rules prometheus/tests/*.test.yml`` in their own CI. Each
file drives synthetic traffic through the SLO's real rules in three scenarios:

* outage: healthy traffic, then every request fails; nothing fires before the
  outage, and each tier whose conditions hold fires once every short window is
  inside the outage (its burn rate is then exactly ``1 / error budget``);
* recovery: after the outage ends, the page clears within its short windows;
* slow burn: a constant error ratio between the ticket and page factors opens a
  ticket and never pages.

Expected results are derived from the window table; a check whose outcome would
sit within 25% of a threshold is moved (longer outage) rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sloplane.artifacts import Artifacts, GenerateSettings
from sloplane.slo.burn import SEVERITIES, BurnRateWindow, Severity
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.naming import BASE_WINDOW, GRID, SHORT_WINDOW_MAX, Labels, composed
from sloplane.slo.promql import num
from sloplane.slo.rules.alerts import alert_labels
from sloplane.slo.rules.render import dump_yaml, rule_file_name
from sloplane.slo.rules.traffic import Traffic, UnitTestGap, traffic_for

MARGIN = 1.25


# -- scenarios --------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    step: int
    healthy: int  # steps
    outage: int
    recovery: int


def plan(slo: SLO) -> Plan:
    windows = slo.all_burn_windows()
    shorts = [w.short for w in windows] or [BASE_WINDOW]
    step = max(1, min(120, min(shorts) * 2 // 5))
    max_short = max(shorts)
    page_shorts = [w.short for w in slo.burn_windows("page")] or [step]
    healthy = max(max_short, BASE_WINDOW * 2)
    for factor in (1, 1.5, 2, 3, 4, 6):
        outage = int(max_short * factor) + BASE_WINDOW
        if not _ambiguous(slo, healthy, outage):
            return Plan(
                step,
                _steps(healthy, step),
                _steps(outage, step),
                _steps(max(page_shorts), step) + 3,
            )
    raise UnitTestGap("every outage length lands too close to an alert threshold")


def _steps(seconds: float, step: int) -> int:
    return math.ceil(seconds / step)


def _outage_ratio(window: int, healthy: int, outage: int) -> float:
    elapsed = healthy + outage
    return min(outage, window) / min(window, elapsed)


def _fires(slo: SLO, w: BurnRateWindow, healthy: int, outage: int) -> tuple[bool, bool]:
    """(fires, ambiguous) for one window pair at the end of the outage."""
    threshold = w.factor * slo.error_budget
    if threshold >= 1:  # an error ratio never exceeds 1: this pair can never fire
        return False, False
    fires, ambiguous = True, False
    for window in (w.long, w.short):
        if _inside_outage(window, outage):
            continue  # the ratio is exactly 1 > threshold
        ratio = _outage_ratio(window, healthy, outage)
        fires = fires and ratio > threshold
        ambiguous = ambiguous or threshold / MARGIN < ratio < threshold * MARGIN
    return fires, ambiguous


def _inside_outage(window: int, outage: int) -> bool:
    """True when every sample the window's ratio reads lies inside the outage."""
    lag = BASE_WINDOW if window > SHORT_WINDOW_MAX else 0
    if composed(window):  # read on the 5-minute grid, one step behind: up to 10 minutes more
        lag += 2 * GRID
    return window + lag <= outage


def _ambiguous(slo: SLO, healthy: int, outage: int) -> bool:
    return any(_fires(slo, w, healthy, outage)[1] for w in slo.all_burn_windows())


def _tier_fires(slo: SLO, severity: Severity, healthy: int, outage: int) -> bool:
    return any(_fires(slo, w, healthy, outage)[0] for w in slo.burn_windows(severity))


# -- expected alerts ----------------------------------------------------------------


def _alert_series(slo: SLO, labels: Labels, severity: Severity, traffic: Traffic) -> str:
    """The ``ALERTS`` series Prometheus writes while this tier fires."""
    series_labels = {**traffic.labels, **slo.labels, **labels.identity(slo)}
    all_labels = {
        **series_labels,
        **alert_labels(slo, labels, severity),
        "alertname": slo.alert_name(severity),
        "alertstate": "firing",
    }
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(all_labels.items()))
    return f"ALERTS{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _alert_checks(
    slo: SLO,
    labels: Labels,
    at: int,
    firing: set[Severity],
    traffic: Traffic,
    tiers: tuple[Severity, ...] = SEVERITIES,
) -> list[dict[str, Any]]:
    """promql_expr_test entries on ``ALERTS``: for each tier, whether it fires at ``at``.

    Checking the ``ALERTS`` series (labels, not annotations) leaves annotations free to
    carry live values such as the budget left, which no test could predict exactly.
    """
    checks = []
    for severity in tiers:
        if not slo.burn_windows(severity):
            continue
        selector = (
            f'ALERTS{{alertname="{slo.alert_name(severity)}", alertstate="firing", '
            f'{labels.severity}="{severity}"}}'
        )
        samples = []
        if severity in firing:
            samples.append({"labels": _alert_series(slo, labels, severity, traffic), "value": 1})
        checks.append({"expr": selector, "eval_time": format_duration(at), "exp_samples": samples})
    return checks


def unit_test_for(slo: SLO, settings: GenerateSettings) -> dict[str, Any]:
    traffic = traffic_for(slo)
    p = plan(slo)
    labels = Labels(settings.label_mode)
    step = p.step
    healthy_end = p.healthy * step
    outage_end = (p.healthy + p.outage) * step
    outage_firing = {
        sev for sev in SEVERITIES if _tier_fires(slo, sev, p.healthy * step, p.outage * step)
    }
    tests = [
        _test(
            "healthy traffic stays silent, then a total outage fires",
            step,
            traffic.input_series([(0.0, p.healthy), (1.0, p.outage)]),
            _alert_checks(slo, labels, healthy_end, set(), traffic)
            + _alert_checks(slo, labels, outage_end, outage_firing, traffic),
        )
    ]
    if slo.burn_windows("page"):
        recovered = (p.healthy + p.outage + p.recovery) * step
        tests.append(
            _test(
                "the page clears once the outage ends",
                step,
                traffic.input_series([(0.0, p.healthy), (1.0, p.outage), (0.0, p.recovery)]),
                _alert_checks(slo, labels, recovered, set(), traffic, tiers=("page",)),
            )
        )
    slow = _slow_burn(slo)
    if slow is not None:
        factor, steps = slow
        ratio = factor * slo.error_budget
        tests.append(
            _test(
                f"a steady {num(factor)}x burn opens a ticket and never pages",
                step,
                traffic.input_series([(ratio, steps)]),
                _alert_checks(slo, labels, steps * step, {"ticket"}, traffic),
            )
        )
    return {
        "rule_files": [f"../{rule_file_name(slo).split('/', 1)[1]}"],
        "evaluation_interval": format_duration(p.step),
        "tests": tests,
    }


def _slow_burn(slo: SLO) -> tuple[float, int] | None:
    page = [w.factor for w in slo.burn_windows("page")]
    ticket = [w.factor for w in slo.burn_windows("ticket")]
    if not ticket:
        return None
    low = min(ticket)
    high = min(page) if page else low * 4
    factor = round(math.sqrt(low * high), 1)
    if not (factor > low * MARGIN and factor * MARGIN < high and factor * slo.error_budget < 1):
        return None
    windows = slo.all_burn_windows()
    step = plan(slo).step
    return factor, _steps(max(w.short for w in windows) + 10 * step, step)


def _test(
    name: str, step: int, series: list[dict[str, str]], checks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": format_duration(step),
        "input_series": series,
        "promql_expr_test": checks,
    }


def unit_test_files(slos: Iterable[SLO], settings: GenerateSettings) -> Artifacts:
    out: Artifacts = {}
    for slo in slos:
        try:
            out[f"prometheus/tests/{slo.id}.test.yml"] = dump_yaml(unit_test_for(slo, settings))
        except UnitTestGap:
            continue
    return out


def unit_test_gaps(slos: Iterable[SLO], settings: GenerateSettings) -> dict[str, str]:
    """SLO id -> why it has no generated unit test (the CLI prints these as warnings)."""
    gaps = {}
    for slo in slos:
        try:
            unit_test_for(slo, settings)
        except UnitTestGap as exc:
            gaps[slo.id] = str(exc)
    return gaps
