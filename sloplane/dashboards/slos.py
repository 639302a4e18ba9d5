"""SLO dashboards: one per service, and one overview of every SLO.

Panels read the series the rule compiler records (names from :mod:`sloplane.slo.naming`),
so a dashboard shows exactly the numbers the alerts act on. The two headline numbers of
an SLO, its SLI and budget left over the SLO window, follow the API's rule instead
(:func:`sloplane.slo.queries.covered_ratio`): the recorded window while its history is
recorded, the SLI's source queries over the whole window while it is not (rules loaded
recently, no ``sloplane backfill``), so the dashboard, the API and the reports show one
number at one instant. Graphs of the SLO window draw only recorded history the rules
trust (the period series, absent while history is short). Numbers that differ per SLO
(objective, alert factors) are drawn as thresholds taken from the same model as the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grafanalib.core as g

from sloplane.dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    Layout,
    gauge,
    stat,
    steps,
    table,
    timeseries,
)
from sloplane.dashboards.render import (
    custom_variable,
    dashboard,
    datasource_variable,
    query_variable,
)
from sloplane.slo import queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.naming import (
    BASE_WINDOW,
    CURRENT_BURN_RATE,
    ERROR_BUDGET,
    INFO,
    OBJECTIVE,
    PERIOD_BUDGET_REMAINING,
    PERIOD_BURN_RATE,
    TOTAL_RATE,
    Labels,
    composed,
    coverage_metric,
    dashboard_uid,
    escape_label_value,
    ratio_metric,
)
from sloplane.slo.promql import num

OVERVIEW_UID = "sloplane-overview"
BUDGET_STEPS = steps(RED, (0.0, ORANGE), (0.25, GREEN))


def pct(ratio: float) -> str:
    return num(round(ratio * 100, 10)) + "%"


class Queries:
    """PromQL for one SLO's panels, restricted by the dashboard's ``$slo`` variable."""

    def __init__(self, slo: SLO, labels: Labels) -> None:
        self.slo = slo
        self.labels = labels
        groups = "".join(f', {k}=~"${group_variable(k)}"' for k in slo.group_by)
        self.sel = (
            "{" + f'{labels.id}="{escape_label_value(slo.id)}", {labels.slo}=~"$slo"{groups}' + "}"
        )
        self.legend = " ".join("{{" + k + "}}" for k in slo.group_by)

    def ratio(self, window: int) -> str:
        return f"{ratio_metric(window)}{self.sel}"

    def period_ratio(self) -> str:
        """The SLO window's error ratio per group, from the source the API would use."""
        return queries.covered_ratio(self.slo, self.slo.window, self.sel)

    def period_sli(self) -> str:
        return f"1 - (\n{self.period_ratio()}\n)"

    def period_budget(self) -> str:
        """Budget left: 1 - ratio / budget, as :meth:`sloplane.slo.model.SLO.budget_remaining`."""
        return f"1 - (\n{self.period_ratio()}\n) / {num(self.slo.error_budget)}"

    def trusted_history(self, expr: str) -> str:
        """``expr`` only where the rules trust the SLO window's recorded history (the period
        series exist): a graph cannot fall back to the source queries at every step."""
        on = ", ".join([self.labels.id, *self.slo.group_by])
        return f"({expr}) and on ({on}) {PERIOD_BURN_RATE}{self.sel}"

    def sli(self, window: int) -> str:
        return f"1 - {self.ratio(window)}"

    def burn(self, window: int) -> str:
        return f"{self.ratio(window)} / {num(self.slo.error_budget)}"

    def firing(self) -> str:
        return f'count(ALERTS{{alertstate="firing", {self.sel[1:-1]}}}) or vector(0)'


_SOURCE_NOTE = (
    "From the recorded series while they cover 99% of the window, else from the SLI's "
    "source queries over the whole window (as the API and the reports answer)."
)


def group_variable(label: str) -> str:
    """The dashboard variable that picks groups of a ``group_by`` label (``group_route``)."""
    return f"group_{label}"


def _group_variables(slos: Sequence[SLO], labels: Labels, service: str) -> list[dict[str, Any]]:
    """One variable per ``group_by`` label of the service's SLOs: which groups to show."""
    names = list(dict.fromkeys(k for slo in slos for k in slo.group_by))
    flt = f'{labels.service}="{escape_label_value(service)}"'
    return [
        query_variable(group_variable(k), k, f"label_values({TOTAL_RATE}{{{flt}}}, {k})")
        for k in names
    ]


def _legend(q: Queries, text: str) -> str:
    return f"{text} {q.legend}".strip()


def _burn_thresholds(slo: SLO) -> dict[str, Any]:
    levels = [(w.factor, RED) for w in slo.burn_windows("page")]
    levels += [(w.factor, ORANGE) for w in slo.burn_windows("ticket")]
    return steps(GREEN, *sorted(set(levels)))


def slo_panels(layout: Layout, slo: SLO, labels: Labels) -> None:
    """One row for ``slo``: headline numbers, SLI, burn-down, burn rate per alert window."""
    q = Queries(slo, labels)
    window = slo.window_text
    layout.add_row(f"{slo.name}: {pct(slo.objective)} over {window}")
    sli_steps = steps(RED, (slo.objective, GREEN))
    width = 5 if composed(slo.window) else 6
    layout.add(
        stat(
            f"SLI over {window}",
            q.period_sli(),
            "percentunit",
            sli_steps,
            decimals=3,
            description=(
                f"Share of good events over the SLO window; the objective is {pct(slo.objective)}. "
                + _SOURCE_NOTE
            ),
        ),
        width,
        5,
    )
    layout.add(
        gauge(
            "Error budget remaining",
            q.period_budget(),
            "percentunit",
            BUDGET_STEPS,
            description=(
                f"Of {num(round(slo.budget_minutes, 2))} minutes of full outage allowed per "
                f"{window}. " + _SOURCE_NOTE
            ),
        ),
        width,
        5,
    )
    layout.add(
        stat(
            "Burn rate (5m)",
            f"{CURRENT_BURN_RATE}{q.sel}",
            "x",
            _burn_thresholds(slo),
            decimals=2,
            description="How many times faster than sustainable the budget burns right now.",
        ),
        width,
        5,
    )
    layout.add(
        stat(
            "Firing alerts",
            q.firing(),
            "none",
            steps(GREEN, (1.0, RED)),
            description=f"{slo.alert_name('page')} / {slo.alert_name('ticket')} firing now.",
        ),
        width,
        5,
    )
    if composed(slo.window):
        layout.add(
            stat(
                f"History recorded over {window}",
                f"min({coverage_metric(slo.window)}{q.sel})",
                "percentunit",
                steps(RED, (0.99, GREEN)),
                decimals=1,
                description=(
                    f"Share of the {window} window the recorded series cover (the least covered "
                    "group). Under 99%, the SLI and budget above come from the SLI's source "
                    "queries and the graphs of the window stay empty: run `sloplane backfill`."
                ),
            ),
            4,
            5,
        )
    layout.add(
        timeseries(
            "SLI against objective",
            [
                (q.sli(BASE_WINDOW), _legend(q, "SLI 5m")),
                (q.trusted_history(q.sli(slo.window)), _legend(q, f"SLI {window}")),
                (f"{OBJECTIVE}{q.sel}", "objective"),
            ],
            "percentunit",
            steps(RED, (slo.objective, GREEN)),
            description=(
                f"The {window} line is drawn where the rules trust the recorded history of the "
                f"window (99% covered, or all the source has): see History recorded."
            ),
            soft_max=1,
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            f"Error budget remaining over {window} (burn-down)",
            [(f"{PERIOD_BUDGET_REMAINING}{q.sel}", _legend(q, "remaining"))],
            "percentunit",
            BUDGET_STEPS,
            soft_min=0,
            soft_max=1,
        ),
        12,
        8,
    )
    windows = slo.all_burn_windows()
    width = max(6, 24 // max(1, len(windows)))
    for w in windows:
        long, short = format_duration(w.long), format_duration(w.short)
        colour = RED if w.severity == "page" else ORANGE
        layout.add(
            timeseries(
                f"Burn rate {long} / {short} ({w.severity} at {num(w.factor)}x)",
                [(q.burn(w.long), _legend(q, long)), (q.burn(w.short), _legend(q, short))],
                "x",
                steps(GREEN, (w.factor, colour)),
                description=(
                    f"{w.severity.capitalize()} when both windows burn faster than {num(w.factor)}x: "
                    f"{pct(w.budget_share)} of the budget gone in {long}."
                ),
                soft_min=0,
            ),
            width,
            7,
        )


def _history(labels: Labels, slos: Sequence[SLO], by: str, flt: str) -> str:
    """Each SLO's window coverage (least covered group): one term per distinct composed
    window, joined to the info series of the SLOs with that window; empty when no SLO has
    a composed window."""
    windows = sorted({s.window for s in slos if composed(s.window)})
    terms = [
        f"min by ({by}) ({coverage_metric(w)}{{{flt}}}) and on ({labels.id}) "
        f'{INFO}{{{flt}, window="{format_duration(w)}"}}'
        for w in windows
    ]
    return " or ".join(terms)


def summary_table(labels: Labels, slos: Sequence[SLO], title: str) -> g.Table:
    """Every SLO with objective, current SLI, budget left, recorded history and status
    colour, linking to its dashboard.

    SLI and budget come from the period series, which exist only while the rules trust
    the window's recorded history; the History column says why a cell is empty.
    """
    services = sorted({s.service for s in slos})
    by = f"{labels.id}, {labels.service}, {labels.slo}"
    flt = f'{labels.service}=~"$service", {labels.slo}=~"$slo"'
    info = (
        " or ".join(
            f'label_replace({INFO}{{{labels.service}="{escape_label_value(s)}", {flt}}}, '
            f'"dashboard_uid", "{dashboard_uid(s)}", "", "")'
            for s in services
        )
        or f"{INFO}{{{flt}}}"
    )
    exprs = [
        (info, "info"),
        (
            f"1 - max by ({by}) ({PERIOD_BURN_RATE}{{{flt}}} * on ({labels.id}) group_left () "
            f"{ERROR_BUDGET}{{{flt}}})",
            "sli",
        ),
        (f"min by ({by}) ({PERIOD_BUDGET_REMAINING}{{{flt}}})", "budget"),
        (f"max by ({by}) ({CURRENT_BURN_RATE}{{{flt}}})", "burn"),
        (
            f'count by ({by}) (ALERTS{{alertstate="firing", {flt}}}) '
            f"or 0 * group by ({by}) ({INFO}{{{flt}}})",
            "firing",
        ),
    ]
    history = _history(labels, slos, by, flt)
    if history:
        exprs.append((history, "history"))
    rename = {
        labels.service: "Service",
        labels.slo: "SLO",
        "objective": "Objective",
        "window": "Window",
        "team": "Team",
        "Value #B": "SLI",
        "Value #C": "Budget remaining",
        "Value #D": "Burn rate",
        "Value #E": "Firing",
        "Value #F": "History",
    }
    order = [
        "Service",
        "SLO",
        "Team",
        "Objective",
        "Window",
        "SLI",
        "Budget remaining",
        "Burn rate",
        "Firing",
        "History",
    ]
    transformations = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {
                    "Time": True,
                    "Value #A": True,
                    "__name__": True,
                    labels.id: True,
                    "dashboard_uid": False,
                    "sli_kind": True,
                },
                "renameByName": rename,
                "indexByName": {name: i for i, name in enumerate(order)},
            },
        },
    ]
    link = {
        "title": "SLO dashboard",
        "url": "/d/${__data.fields.dashboard_uid}?${datasource:queryparam}",
    }
    overrides = [
        _override("SLI", {"unit": "percentunit", "decimals": 3}),
        _override(
            "Budget remaining",
            {
                "unit": "percentunit",
                "decimals": 1,
                "thresholds": BUDGET_STEPS,
                "custom.cellOptions": {"type": "color-background"},
            },
        ),
        _override("Burn rate", {"unit": "x", "decimals": 2}),
        _override(
            "Firing",
            {"thresholds": steps(GREEN, (1.0, RED)), "custom.cellOptions": {"type": "color-text"}},
        ),
        _override(
            "History",
            {
                "unit": "percentunit",
                "decimals": 1,
                "thresholds": steps(RED, (queries.COMPLETE_COVERAGE, GREEN)),
                "custom.cellOptions": {"type": "color-text"},
            },
        ),
        _override("Service", {"links": [link]}),
        _override("SLO", {"links": [link]}),
        _override("dashboard_uid", {"custom.hidden": True}),
    ]
    return table(
        title,
        exprs,
        transformations,
        overrides,
        description=(
            "Status colour: red when the budget is spent, orange below 25% left. History: "
            "the share of the SLO window the recorded series cover; under 99% SLI and budget "
            "stay empty here (see the SLO's row, which answers from the source queries)."
        ),
    )


def _override(name: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k, "value": v} for k, v in props.items()],
    }


def _overview_link() -> dict[str, Any]:
    return {
        "title": "All SLOs",
        "type": "link",
        "url": f"/d/{OVERVIEW_UID}",
        "icon": "dashboard",
        "keepTime": True,
        "includeVars": False,
        "targetBlank": False,
        "asDropdown": False,
        "tags": [],
        "tooltip": "",
    }


def service_dashboard(catalog: Catalog, service: str, labels: Labels) -> dict[str, Any]:
    slos = catalog.for_service(service)
    layout = Layout()
    layout.add_row("Overview")
    layout.add(summary_table(labels, slos, f"SLOs of {service}"), 24, max(5, 3 + len(slos)))
    layout.newline()
    for slo in slos:
        slo_panels(layout, slo, labels)
    links = [_overview_link()]
    for slo in slos:
        if slo.runbook_url:
            links.append(
                {
                    **_overview_link(),
                    "title": f"Runbook: {slo.name}",
                    "url": slo.runbook_url,
                    "icon": "doc",
                    "keepTime": False,
                    "targetBlank": True,
                }
            )
    teams = sorted({s.team for s in slos if s.team})
    return dashboard(
        uid=dashboard_uid(service),
        title=f"SLOs / {service}",
        description=f"SLOs of {service}: SLI, error budget and burn rates",
        panels=layout.panels,
        variables=[
            datasource_variable(),
            custom_variable("service", "Service", [service], hide=2),
            custom_variable("slo", "SLO", [s.name for s in slos], multi=True),
            *_group_variables(slos, labels, service),
        ],
        tags=["slo", f"service:{service}", *(f"team:{t}" for t in teams)],
        links=links,
        id_label=labels.id,
        alert_filter=f'{labels.service}="{escape_label_value(service)}", {labels.slo}=~"$slo"',
    )


def _count_slos(labels: Labels, series: str) -> str:
    """How many distinct SLOs have ``series``: an SLO with ``group_by`` counts once, not per group."""
    return f"count(count by ({labels.id}) ({series})) or vector(0)"


def overview_dashboard(catalog: Catalog, labels: Labels) -> dict[str, Any]:
    layout = Layout()
    flt = f'{labels.service}=~"$service", {labels.slo}=~"$slo"'
    firing = f'ALERTS{{alertstate="firing", {labels.id}!="", {flt}'
    layout.add(stat("SLOs", _count_slos(labels, f"{INFO}{{{flt}}}"), "none", steps("blue")), 6, 4)
    layout.add(
        stat(
            "Pages firing",
            _count_slos(labels, f'{firing}, {labels.severity}="page"}}'),
            "none",
            steps(GREEN, (1.0, RED)),
            description="SLOs with a firing page alert.",
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Tickets firing",
            _count_slos(labels, f'{firing}, {labels.severity}="ticket"}}'),
            "none",
            steps(GREEN, (1.0, ORANGE)),
            description="SLOs with a firing ticket alert.",
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "SLOs out of budget",
            _count_slos(labels, f"{PERIOD_BUDGET_REMAINING}{{{flt}}} < 0"),
            "none",
            steps(GREEN, (1.0, RED)),
            description="SLOs with any group out of error budget over the SLO window.",
        ),
        6,
        4,
    )
    layout.add(summary_table(labels, catalog.slos, "Every SLO"), 24, max(8, 3 + len(catalog.slos)))
    return dashboard(
        uid=OVERVIEW_UID,
        title="SLOs / Overview",
        description="Every SLO: objective, current SLI, error budget remaining and status",
        panels=layout.panels,
        variables=[
            datasource_variable(),
            query_variable("service", "Service", f"label_values({INFO}, {labels.service})"),
            query_variable(
                "slo", "SLO", f'label_values({INFO}{{{labels.service}=~"$service"}}, {labels.slo})'
            ),
        ],
        tags=["slo", "overview"],
        id_label=labels.id,
        alert_filter=flt,
    )
