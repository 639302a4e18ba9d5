"""The AlertManager configuration, built from the catalog and the ``AlertRouting`` document.

Routing keys on the labels the rule compiler sets on every burn-rate alert:
``team`` picks the team's subtree, the tier (``sloplane_severity``, else ``severity``)
picks PagerDuty or Slack inside it.
``critical``/``warning`` are routed like ``page``/``ticket`` because hand-written
rules (and most rule collections) use those names; an alert with a severity that
is neither still reaches the team's (or the defaults') receiver instead of
vanishing. A page inhibits the ticket of the same SLO so one incident does not
notify twice. Pure: returns YAML text, touches no files.

Receivers of ``defaults.receiver`` start with ``_``, which team names cannot, so
any team name (``default`` included) gets receivers of its own.
"""

from __future__ import annotations

from typing import Any

import yaml

from sloplane.alerts.routing import AlertRouting, BusinessHours, Team, Timing
from sloplane.artifacts import HEADER
from sloplane.slo.catalog import Catalog
from sloplane.slo.naming import Labels

BUSINESS_HOURS = "business-hours"
DEFAULTS = "_default"  # prefix of the defaults' receivers; team names cannot start with "_"
NULL_RECEIVER = "_nobody"  # the root's receiver when defaults.receiver is empty
PAGE_MATCHER = 'severity=~"page|critical"'
TICKET_MATCHER = 'severity=~"ticket|warning"'
TEMPLATES_GLOB = "templates/*.tmpl"


def receiver_name(team: str, integration: str) -> str:
    return f"{team}-{integration}"


def build_config(routing: AlertRouting | None, labels: Labels) -> dict[str, Any]:
    """The configuration as a dict in AlertManager's key order."""
    routing = routing or AlertRouting()
    config: dict[str, Any] = {
        "global": {"resolve_timeout": "5m", "pagerduty_url": routing.endpoints.pagerduty_url},
        "templates": [TEMPLATES_GLOB],
    }
    if _uses_business_hours(routing):
        config["time_intervals"] = [_business_hours(routing.business_hours)]
    config["route"] = _root_route(routing, labels)
    config["inhibit_rules"] = [
        {
            "source_matchers": [f'{labels.severity}="page"'],
            "target_matchers": [f'{labels.severity}="ticket"'],
            "equal": [labels.id],
        }
    ]
    config["receivers"] = _receivers(routing, labels)
    return config


def render_config(catalog: Catalog, routing: AlertRouting | None, labels: Labels) -> str:
    """``alertmanager.yml`` with a header explaining anything a reviewer should know."""
    notes = [f"# {HEADER}"]
    if routing is None:
        notes.append(
            f"# No AlertRouting document in the inputs: every alert goes to the '{NULL_RECEIVER}'"
            " receiver, which notifies nobody. See docs/dashboards-and-alerting.md."
        )
    else:
        if not _routes_somewhere(routing.defaults.receiver):
            notes.append(
                "# defaults.receiver is empty: alerts without a team (or of a team not listed"
                f" in AlertRouting) go to '{NULL_RECEIVER}', which notifies nobody."
            )
        unrouted = [t for t in catalog.teams() if t not in routing.teams]
        if unrouted:
            notes.append(
                "# Teams of SLOs without an entry in AlertRouting (their alerts go to the"
                f" defaults' receiver): {', '.join(unrouted)}"
            )
    body = yaml.safe_dump(
        build_config(routing, labels), sort_keys=False, default_flow_style=False, width=1000
    )
    return "\n".join(notes) + "\n" + body


def _uses_business_hours(routing: AlertRouting) -> bool:
    teams = [*routing.teams.values(), routing.defaults.receiver]
    return any(_tickets_in_business_hours(routing, t) for t in teams)


def _tickets_in_business_hours(routing: AlertRouting, team: Team) -> bool:
    if team.tickets_in_business_hours is not None:
        return team.tickets_in_business_hours
    return routing.defaults.tickets_in_business_hours


def _business_hours(hours: BusinessHours) -> dict[str, Any]:
    return {
        "name": BUSINESS_HOURS,
        "time_intervals": [
            {
                "weekdays": list(hours.weekdays),
                "times": [{"start_time": t.start, "end_time": t.end} for t in hours.times],
                "location": hours.timezone,
            }
        ],
    }


def _timing(timing: Timing) -> dict[str, str]:
    return {
        "group_wait": timing.group_wait,
        "group_interval": timing.group_interval,
        "repeat_interval": timing.repeat_interval,
    }


#: The label ``sloplane detect serve`` puts on its alerts: each watch is its own group.
WATCH_LABEL = "watch"


def _group_by(routing: AlertRouting, labels: Labels) -> list[str]:
    """SLO alerts carry no ``watch`` label, so it splits only the detector's alerts."""
    keys = ["alertname", labels.service, labels.slo, WATCH_LABEL, *routing.defaults.group_by]
    return list(dict.fromkeys(keys))


def _routes_somewhere(team: Team) -> bool:
    return team.pagerduty is not None or team.slack is not None


def _severity_routes(
    routing: AlertRouting, name: str, team: Team, labels: Labels
) -> list[dict[str, Any]]:
    """Children of a team's route: page -> PagerDuty (else Slack), ticket -> Slack (else PagerDuty).

    ``name`` is the receiver prefix: the team name, or ``DEFAULTS``. sloplane's alerts are
    matched on their tier label (``sloplane_severity``) first, since an author's own
    ``severity`` (``pageteam``) is kept; then ``severity`` for hand-written rules.
    """
    page_to = "pagerduty" if team.pagerduty else "slack" if team.slack else None
    ticket_to = "slack" if team.slack else "pagerduty" if team.pagerduty else None
    routes: list[dict[str, Any]] = []
    if page_to:
        for matcher in (f'{labels.severity}="page"', PAGE_MATCHER):
            routes.append(
                {
                    "receiver": receiver_name(name, page_to),
                    "matchers": [matcher],
                    **_timing(routing.defaults.page),
                }
            )
    if ticket_to:
        for matcher in (f'{labels.severity}="ticket"', TICKET_MATCHER):
            ticket: dict[str, Any] = {
                "receiver": receiver_name(name, ticket_to),
                "matchers": [matcher],
                **_timing(routing.defaults.ticket),
            }
            if _tickets_in_business_hours(routing, team):
                ticket["active_time_intervals"] = [BUSINESS_HOURS]
            routes.append(ticket)
    return routes


def _root_route(routing: AlertRouting, labels: Labels) -> dict[str, Any]:
    routes: list[dict[str, Any]] = []
    for name, team in routing.teams.items():
        routes.append(
            {
                "receiver": _fallback(name, team) or _defaults_receiver(routing),
                "matchers": [f'team="{name}"'],
                "routes": _severity_routes(routing, name, team, labels),
            }
        )
    routes.extend(_severity_routes(routing, DEFAULTS, routing.defaults.receiver, labels))
    route: dict[str, Any] = {
        "receiver": _defaults_receiver(routing),
        "group_by": _group_by(routing, labels),
        **_timing(routing.defaults.ticket),
    }
    if routes:
        route["routes"] = [r for r in routes if r.get("routes", True)]
    return route


def _fallback(name: str, team: Team) -> str | None:
    """Receiver for alerts with neither severity (e.g. hand-written rules): Slack, else PagerDuty."""
    if team.slack:
        return receiver_name(name, "slack")
    if team.pagerduty:
        return receiver_name(name, "pagerduty")
    return None


def _defaults_receiver(routing: AlertRouting) -> str:
    return _fallback(DEFAULTS, routing.defaults.receiver) or NULL_RECEIVER


def _receivers(routing: AlertRouting, labels: Labels) -> list[dict[str, Any]]:
    default = routing.defaults.receiver
    receivers: list[dict[str, Any]] = []
    if not _routes_somewhere(default):
        receivers.append({"name": NULL_RECEIVER})
    if default.pagerduty:
        receivers.append(_pagerduty_receiver(DEFAULTS, default, labels))
    if default.slack:
        receivers.append(_slack_receiver(DEFAULTS, default))
    for name, team in routing.teams.items():
        if team.pagerduty:
            receivers.append(_pagerduty_receiver(name, team, labels))
        if team.slack:
            receivers.append(_slack_receiver(name, team))
    return receivers


def _pagerduty_receiver(name: str, team: Team, labels: Labels) -> dict[str, Any]:
    assert team.pagerduty is not None
    pd: dict[str, Any] = {
        "routing_key_file": team.pagerduty.routing_key_file,
        "send_resolved": True,
    }
    if team.pagerduty.url:
        pd["url"] = team.pagerduty.url
    pd |= {
        "client": "sloplane",
        "client_url": '{{ template "sloplane.dashboard_url" . }}',
        "description": '{{ template "sloplane.title" . }}',
        "severity": '{{ template "sloplane.pagerduty.severity" . }}',
        "source": '{{ template "sloplane.pagerduty.source" . }}',
        "component": "{{ .CommonLabels." + labels.service + " }}",
        "group": "{{ .CommonLabels.team }}",
        "class": "{{ .CommonLabels." + labels.slo + " }}",
        "details": {
            "slo": '{{ template "sloplane.slo" . }}',
            "objective": '{{ template "sloplane.objective" . }}',
            "burn_rate": '{{ template "sloplane.burn_rate" . }}',
            "budget_remaining": '{{ template "sloplane.budget_remaining" . }}',
            "runbook": '{{ template "sloplane.runbook_url" . }}',
            "dashboard": '{{ template "sloplane.dashboard_url" . }}',
            "description": '{{ template "sloplane.description" . }}',
        },
        "links": [{"href": '{{ template "sloplane.dashboard_url" . }}', "text": "SLO dashboard"}],
    }
    return {"name": receiver_name(name, "pagerduty"), "pagerduty_configs": [pd]}


def _slack_receiver(name: str, team: Team) -> dict[str, Any]:
    assert team.slack is not None
    slack: dict[str, Any] = {"api_url_file": team.slack.api_url_file, "send_resolved": True}
    if team.slack.channel:
        slack["channel"] = team.slack.channel
    slack |= {
        "title": '{{ template "sloplane.title" . }}',
        "title_link": '{{ template "sloplane.dashboard_url" . }}',
        "text": '{{ template "sloplane.slack.text" . }}',
        "fallback": '{{ template "sloplane.title" . }}',
        "color": '{{ template "sloplane.slack.color" . }}',
    }
    return {"name": receiver_name(name, "slack"), "slack_configs": [slack]}
