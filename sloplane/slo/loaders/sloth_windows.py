"""Sloth's SLO period and alert windows: ``AlertWindows`` documents and ``--default-slo-period``.

Sloth specs have no per-SLO window: every Sloth SLO gets the generator's period (30d
unless ``--default-slo-period`` says otherwise), and its alert windows come from a
catalog keyed by period. Sloth's built-in catalog has 30d and 28d, both with the SRE
workbook's windows (5m/1h, 30m/6h, 2h/1d, 6h/3d) *unscaled*, the factor being
``budget percent × period / long window`` (13.44 for the 28d 1h page). An
``apiVersion: sloth.slok.dev/v1`` ``kind: AlertWindows`` document in the inputs adds
or replaces a period, as ``--slo-period-windows-path`` does in Sloth.

sloplane's own derived table scales the windows with the period instead (see
:mod:`sloplane.slo.burn`); for 30d the two agree, so only other periods get explicit
windows here, and Sloth users keep the alert timing they had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloplane.located import Where
from sloplane.slo.burn import THIRTY_DAYS, WORKBOOK_TABLE
from sloplane.slo.durations import format_duration
from sloplane.slo.loaders.common import (
    Report,
    check_keys,
    expect_duration,
    expect_mapping,
    expect_number,
    line_of,
)
from sloplane.slo.model import SLO, AlertTier, AlertWindow

KIND = "AlertWindows"
TWENTY_EIGHT_DAYS = 28 * 86400


@dataclass(frozen=True)
class Window:
    """One Sloth window: this share of the budget burnt over ``long``, confirmed over ``short``."""

    budget_percent: float
    short: int
    long: int

    def alert_window(self, period: int) -> AlertWindow:
        factor = round(self.budget_percent / 100 * period / self.long, 6)
        return AlertWindow(long=self.long, short=self.short, factor=factor)


@dataclass(frozen=True)
class PeriodWindows:
    """The page and ticket windows (quick, slow) Sloth uses for SLOs of ``period`` seconds."""

    period: int
    page: tuple[Window, Window]
    ticket: tuple[Window, Window]
    where: Where | None = None


def _workbook(period: int) -> PeriodWindows:
    rows = [Window(share * 100, short, long) for _, long, short, share in WORKBOOK_TABLE]
    return PeriodWindows(period, (rows[0], rows[1]), (rows[2], rows[3]))


# Sloth's built-in catalog.
BUILT_IN = {p: _workbook(p) for p in (THIRTY_DAYS, TWENTY_EIGHT_DAYS)}


def load_alert_windows(doc: Mapping[Any, Any], file: str, report: Report) -> PeriodWindows | None:
    """An ``AlertWindows`` document, or None (problems reported)."""
    where = Where(file, line=line_of(doc))
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec"), where, report)
    swhere = where.child("spec", doc)
    spec = expect_mapping(doc.get("spec"), swhere, report)
    if spec is None:
        return None
    check_keys(spec, ("sloPeriod", "page", "ticket"), swhere, report)
    period = expect_duration(spec.get("sloPeriod"), swhere.child("sloPeriod", spec), report)
    page = _quick_slow(spec.get("page"), swhere.child("page", spec), report)
    ticket = _quick_slow(spec.get("ticket"), swhere.child("ticket", spec), report)
    if period is None or page is None or ticket is None:
        return None
    return PeriodWindows(period, page, ticket, swhere.child("sloPeriod", spec))


def _quick_slow(value: Any, where: Where, report: Report) -> tuple[Window, Window] | None:
    data = expect_mapping(value, where, report)
    if data is None:
        return None
    check_keys(data, ("quick", "slow"), where, report)
    quick = _window(data.get("quick"), where.child("quick", data), report)
    slow = _window(data.get("slow"), where.child("slow", data), report)
    return None if quick is None or slow is None else (quick, slow)


def _window(value: Any, where: Where, report: Report) -> Window | None:
    data = expect_mapping(value, where, report)
    if data is None:
        return None
    check_keys(data, ("errorBudgetPercent", "shortWindow", "longWindow"), where, report)
    percent = expect_number(
        data.get("errorBudgetPercent"), where.child("errorBudgetPercent", data), report
    )
    short = expect_duration(data.get("shortWindow"), where.child("shortWindow", data), report)
    long = expect_duration(data.get("longWindow"), where.child("longWindow", data), report)
    if percent is None or short is None or long is None:
        return None
    if not 0 < percent <= 100:
        report.problems.append(
            where.child("errorBudgetPercent", data).problem("must be above 0 and at most 100")
        )
        return None
    return Window(percent, short, long)


def catalog_of(documents: list[PeriodWindows], report: Report) -> dict[int, PeriodWindows]:
    """Sloth's built-in periods, replaced or extended by the inputs' ``AlertWindows``."""
    catalog = dict(BUILT_IN)
    seen: dict[int, PeriodWindows] = {}
    for windows in documents:
        other = seen.get(windows.period)
        if other is not None and windows.where is not None and other.where is not None:
            report.problems.append(
                windows.where.problem(
                    f"AlertWindows for {format_duration(windows.period)} are also defined in "
                    f"{other.where.file}:{other.where.line}"
                )
            )
            continue
        seen[windows.period] = windows
        catalog[windows.period] = windows
    return catalog


def with_sloth_windows(slo: SLO, catalog: dict[int, PeriodWindows]) -> SLO:
    """A Sloth SLO with the windows Sloth would use for its period, unless ours are the same.

    Only the 30d built-in matches sloplane's derived table exactly; every other period
    found in the catalog gets explicit windows. A tier that is disabled stays disabled.
    """
    windows = catalog.get(slo.window)
    if windows is None or windows is BUILT_IN[THIRTY_DAYS]:  # the derived table, exactly
        return slo
    page = _tier(slo.alerting.page, windows.page, slo.window)
    ticket = _tier(slo.alerting.ticket, windows.ticket, slo.window)
    alerting = slo.alerting.model_copy(update={"page": page, "ticket": ticket})
    return slo.model_copy(update={"alerting": alerting})


def _tier(tier: AlertTier, pair: tuple[Window, Window], period: int) -> AlertTier:
    if not tier.enabled or tier.windows is not None:
        return tier
    return tier.model_copy(update={"windows": tuple(w.alert_window(period) for w in pair)})
