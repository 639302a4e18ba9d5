"""The whole chain: traffic -> Prometheus with generated rules -> AlertManager with the generated
routing -> PagerDuty and Slack stand-ins; and every SLO dashboard query answered by Prometheus.

Windows are shortened only through the public SLO API: a 1h SLO window and
explicit alert windows (1m long, 10s short). PagerDuty and Slack are local
stand-ins that validate each request against the Events API v2 and incoming-webhook
formats; nothing leaves the machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sloplane.alerts import CONFIG_FILE, render_alertmanager
from sloplane.artifacts import Artifacts, GenerateSettings
from sloplane.dashboards import OVERVIEW_UID, render_dashboards
from sloplane.dashboards.queries import expand, panel_queries, variable_values
from sloplane.slo.catalog import Catalog, Document
from sloplane.slo.model import SLO, Alerting, AlertTier, AlertWindow, Source
from sloplane.slo.naming import dashboard_uid
from sloplane.slo.rules import compile_rules
from tests.alerts.receivers import pagerduty_receiver, slack_receiver
from tests.e2e.service import ShopService
from tests.support.processes import prometheus_config, run_alertmanager, run_prometheus

pytestmark = pytest.mark.integration

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
FAST = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
SLO_DEF = SLO(
    service="shop",
    name="availability",
    objective=99,
    window="1h",
    team="payments",
    description="checkout requests served without a 5xx",
    runbook_url="https://runbooks.example.com/shop/availability",
    sli={
        "kind": "events",
        "errors": 'http_requests_total{job="shop", code=~"5.."}',
        "total": 'http_requests_total{job="shop"}',
    },
    alerting=Alerting(
        page=AlertTier(windows=(AlertWindow(long="1m", short="10s", factor=14.4),)),
        ticket=AlertTier(windows=(AlertWindow(long="1m", short="10s", factor=2),)),
    ),
)


def write(artifacts: Artifacts, root: Path) -> None:
    for rel, text in artifacts.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def routing(pd_url: str, root: Path) -> Document:
    body = {
        "apiVersion": "sloplane/v1",
        "kind": "AlertRouting",
        "spec": {
            "endpoints": {"pagerduty_url": pd_url},
            "defaults": {"page": FAST, "ticket": FAST},
            "teams": {
                "payments": {
                    "pagerduty": {"routing_key_file": str(root / "secrets/pd-payments")},
                    "slack": {
                        "api_url_file": str(root / "secrets/slack-payments"),
                        "channel": "#payments",
                    },
                }
            },
        },
    }
    return Document("AlertRouting", body, Source(file="routing.yaml"))


def is_event(action: str, since: float = 0.0):
    return lambda r: r.at >= since and r.body.get("event_action") == action


@pytest.mark.timeout(150)
def test_outage_pages_resolves_and_ticket_reaches_slack(tmp_path: Path) -> None:
    settings = GenerateSettings(unit_tests=False, grafana_url="http://grafana.example.com")
    with pagerduty_receiver() as pd, slack_receiver() as slack, ShopService() as service:
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets/pd-payments").write_text(ROUTING_KEY + "\n")
        (tmp_path / "secrets/slack-payments").write_text(slack.url + "\n")
        catalog = Catalog.of([SLO_DEF], [routing(pd.url, tmp_path)])
        rules = compile_rules(catalog, settings)
        write(rules, tmp_path)
        write(render_alertmanager(catalog, settings), tmp_path)
        write(render_dashboards(catalog, settings), tmp_path)
        am_text = (
            (tmp_path / CONFIG_FILE)
            .read_text()
            .replace("- templates/*.tmpl", f"- {tmp_path}/alertmanager/templates/*.tmpl")
        )
        with run_alertmanager(am_text) as am:
            config = prometheus_config(
                scrape_targets=[service.target],
                rule_files=[tmp_path / p for p in rules],
                alertmanager_urls=[am.url],
                job="shop",
            )
            with run_prometheus(config) as prom:
                # healthy traffic first: nothing may page
                wait_until(
                    lambda: prom.query(
                        'slo:sli_error:ratio_rate10s{sloplane_id="shop-availability"}'
                    ),
                    30,
                )

                # total outage: the page reaches PagerDuty with the team's routing key
                service.error_ratio = 1.0
                trigger = pd.wait_for(is_event("trigger"), timeout=45).body
                assert trigger["routing_key"] == ROUTING_KEY
                assert trigger["payload"]["severity"] == "critical"
                assert trigger["payload"]["source"] == "shop"
                assert trigger["payload"]["summary"].startswith(
                    "[FIRING] shop-availability: error budget burning"
                )
                details = trigger["payload"]["custom_details"]
                assert details["slo"] == "shop-availability"
                assert details["objective"] == "99% over 1h"
                assert details["runbook"] == SLO_DEF.runbook_url
                assert (
                    details["dashboard"] == f"http://grafana.example.com/d/{dashboard_uid('shop')}"
                )
                assert float(details["burn_rate"].split("x")[0]) > 14.4
                # the live budget left, read by the alert from the period recording
                assert details["budget_remaining"].endswith("%"), details["budget_remaining"]
                dedup_key = trigger["dedup_key"]
                assert dedup_key

                # while the page fires, every SLO dashboard query returns data
                wait_until(lambda: prom.query('ALERTS{alertstate="firing", severity="page"}'), 15)
                ran, empty = dashboard_queries_without_data(tmp_path, prom.query)
                assert ran > 20 and empty == []

                # end the outage: the resolve event carries the same dedup key
                service.error_ratio = 0.0
                resolve = pd.wait_for(is_event("resolve"), timeout=45).body
                assert resolve["dedup_key"] == dedup_key
                assert resolve["routing_key"] == ROUTING_KEY
                wait_until(lambda: not prom.query('ALERTS{sloplane_id="shop-availability"}'), 30)

                # a ticket-level burn (5% errors = 5x, above 2x, below 14.4x) goes to Slack only
                started = time.time()
                pages_before = len([r for r in pd.valid() if r.body["event_action"] == "trigger"])
                service.error_ratio = 0.05
                message = slack.wait_for(
                    lambda r: (
                        r.at >= started and r.body["attachments"][0]["title"].startswith("[FIRING]")
                    ),
                    timeout=45,
                ).body
                attachment = message["attachments"][0]
                assert message["channel"] == "#payments"
                assert "(ticket)" in attachment["title"]
                assert attachment["color"] == "warning"
                assert (
                    "*Burn rate:*" in attachment["text"]
                    and "<https://runbooks.example.com" in attachment["text"]
                )
                assert (
                    len([r for r in pd.valid() if r.body["event_action"] == "trigger"])
                    == pages_before
                )
    assert pd.invalid() == [] and slack.invalid() == []


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"condition not met within {timeout}s")


def dashboard_queries_without_data(root: Path, query) -> tuple[int, list[tuple[str, str, str]]]:
    """Run every query of the SLO dashboards (service and overview) at the current time."""
    empty, ran = [], 0
    for uid in (dashboard_uid("shop"), OVERVIEW_UID):
        data = json.loads((root / f"grafana/{uid}.json").read_text())
        values = variable_values(data)
        for q in panel_queries(data):
            expr = expand(q.expr, values)
            ran += 1
            if not query(expr):
                empty.append((uid, q.panel, expr))
    return ran, empty
