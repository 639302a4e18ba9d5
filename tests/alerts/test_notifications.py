"""Real AlertManager with the generated configuration notifies local PagerDuty/Slack stand-ins.

Alerts are posted through sloplane's API v2 client with the labels and annotations
the rule compiler sets, so this checks the routing, the templates and the client
without Prometheus (the end-to-end test adds Prometheus and real rules).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from sloplane.alerts import CONFIG_FILE
from sloplane.alerts.cli import alertmanager as am_cli
from sloplane.clients.alertmanager import Alert, AlertmanagerClient, Matcher
from sloplane.errors import BackendError
from tests.alerts.conftest import render, routing_doc, slo, write_artifacts
from tests.alerts.receivers import StandIn, pagerduty_receiver, slack_receiver
from tests.support.processes import Alertmanager, run_alertmanager

FAST = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Alertmanager, StandIn, StandIn]]:
    root = tmp_path_factory.mktemp("am")
    with pagerduty_receiver() as pd, slack_receiver() as slack:
        (root / "pd.key").write_text(ROUTING_KEY + "\n")
        (root / "slack.url").write_text(slack.url + "\n")
        doc = routing_doc(
            {
                "spec": {
                    "endpoints": {"pagerduty_url": pd.url},
                    "defaults": {"page": FAST, "ticket": FAST},
                    "teams": {
                        "payments": {
                            "pagerduty": {"routing_key_file": str(root / "pd.key")},
                            "slack": {
                                "api_url_file": str(root / "slack.url"),
                                "channel": "#payments",
                            },
                        }
                    },
                }
            }
        )
        artifacts = render([slo("checkout", "availability", "payments")], [doc])
        write_artifacts(artifacts, root)
        text = (root / CONFIG_FILE).read_text()
        text = text.replace("- templates/*.tmpl", f"- {root}/alertmanager/templates/*.tmpl")
        with run_alertmanager(text) as am:
            yield am, pd, slack


def burn_alert(slo_name: str, severity: str, ends_at: dt.datetime | None = None) -> Alert:
    slo_id = f"checkout-{slo_name}"
    return Alert(
        labels={
            "alertname": f"Checkout{slo_name.title()}ErrorBudgetBurn{severity.title()}",
            "severity": severity,
            "sloplane_severity": severity,
            "sloplane_id": slo_id,
            "sloplane_service": "checkout",
            "sloplane_slo": slo_name,
            "team": "payments",
        },
        annotations={
            "summary": f"{slo_id}: error budget burning 20.00x too fast ({severity})",
            "description": f"SLO {slo_id} targets 99.9% over 30d.",
            "objective": "99.9%",
            "window": "30d",
            "burn_rate": "20.00",
            "burn_rate_threshold": "14.4x over 1h and 5m",
            "runbook_url": "https://runbooks.example.com/checkout",
            "dashboard_url": "http://grafana.example.com/d/slo-checkout",
        },
        starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        ends_at=ends_at,
    )


@pytest.mark.integration
def test_page_triggers_and_resolves_pagerduty(stack: tuple[Alertmanager, StandIn, StandIn]) -> None:
    am, pd, _ = stack
    with AlertmanagerClient(am.url) as client:
        client.post_alerts([burn_alert("availability", "page")])
        trigger = pd.wait_for(lambda r: r.body["event_action"] == "trigger", timeout=20)
        event = trigger.body
        assert event["routing_key"] == ROUTING_KEY
        assert event["payload"]["severity"] == "critical"
        assert event["payload"]["source"] == "checkout"
        assert event["payload"]["summary"].startswith(
            "[FIRING] checkout-availability: error budget burning"
        )
        details = event["payload"]["custom_details"]
        assert details["slo"] == "checkout-availability"
        assert details["objective"] == "99.9% over 30d"
        assert details["burn_rate"].startswith("20.00x")
        assert details["runbook"] == "https://runbooks.example.com/checkout"
        assert details["dashboard"] == "http://grafana.example.com/d/slo-checkout"
        assert event["links"][0]["href"] == "http://grafana.example.com/d/slo-checkout"
        assert event["dedup_key"]

        client.post_alerts([burn_alert("availability", "page", ends_at=dt.datetime.now(dt.UTC))])
        resolve = pd.wait_for(lambda r: r.body["event_action"] == "resolve", timeout=20)
        assert resolve.body["dedup_key"] == event["dedup_key"]
    assert pd.invalid() == []


@pytest.mark.integration
def test_hand_written_critical_alert_pages(stack: tuple[Alertmanager, StandIn, StandIn]) -> None:
    am, pd, _ = stack
    alert = Alert(
        labels={"alertname": "PaymentsQueueStuck", "severity": "critical", "team": "payments"},
        annotations={"summary": "payments queue is stuck"},
        starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    )
    with AlertmanagerClient(am.url) as client:
        client.post_alerts([alert])
        event = pd.wait_for(lambda r: "queue is stuck" in str(r.body), timeout=20).body
    assert event["payload"]["severity"] == "critical"
    assert pd.invalid() == []


@pytest.mark.integration
def test_ticket_reaches_slack_and_is_inhibited_by_a_page(
    stack: tuple[Alertmanager, StandIn, StandIn],
) -> None:
    am, _, slack = stack
    with AlertmanagerClient(am.url) as client:
        client.post_alerts([burn_alert("latency", "ticket")])
        message = slack.wait_for(lambda r: "checkout-latency" in str(r.body), timeout=20).body
        attachment = message["attachments"][0]
        assert message["channel"] == "#payments"
        assert attachment["title"].startswith("[FIRING] checkout-latency")
        assert attachment["title_link"] == "http://grafana.example.com/d/slo-checkout"
        assert attachment["color"] == "warning"
        assert "*Burn rate:* 20.00x" in attachment["text"]
        assert "<https://runbooks.example.com/checkout|runbook>" in attachment["text"]

        client.post_alerts([burn_alert("errors", "page"), burn_alert("errors", "ticket")])
        ticket = [Matcher("sloplane_id", "checkout-errors"), Matcher("severity", "ticket")]
        for _ in range(50):
            alerts = client.alerts(ticket)
            if alerts and alerts[0]["status"]["inhibitedBy"]:
                break
            time.sleep(0.1)
        assert alerts[0]["status"]["state"] == "suppressed"
        assert alerts[0]["status"]["inhibitedBy"]
    assert slack.invalid() == []


@pytest.mark.integration
def test_silences_through_the_client_and_cli(stack: tuple[Alertmanager, StandIn, StandIn]) -> None:
    am, _, _ = stack
    runner = CliRunner()
    result = runner.invoke(
        am_cli,
        [
            "silence",
            "add",
            "--alertmanager-url",
            am.url,
            "--duration",
            "2h",
            "--comment",
            "maintenance",
            "sloplane_id=checkout-availability",
        ],
    )
    assert result.exit_code == 0, result.output
    silence_id = result.output.strip()
    listed = runner.invoke(am_cli, ["silence", "list", "--alertmanager-url", am.url])
    assert silence_id in listed.output and 'sloplane_id="checkout-availability"' in listed.output
    with AlertmanagerClient(am.url) as client:
        client.expire_silence(silence_id)
        states = {s["id"]: s["status"]["state"] for s in client.silences()}
    assert states[silence_id] == "expired"
    alerts = runner.invoke(am_cli, ["alerts", "--alertmanager-url", am.url, "severity=ticket"])
    assert alerts.exit_code == 0 and "ErrorBudgetBurnTicket" in alerts.output


@pytest.mark.integration
def test_client_errors_are_backend_errors(stack: tuple[Alertmanager, StandIn, StandIn]) -> None:
    am, _, _ = stack
    with AlertmanagerClient(am.url) as client, pytest.raises(BackendError, match="400"):
        client.post_alerts([Alert(labels={})])
    with (
        AlertmanagerClient("http://127.0.0.1:9", timeout=1) as client,
        pytest.raises(BackendError, match="unreachable"),
    ):
        client.status()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=b", Matcher("a", "b")),
        ('a!="b"', Matcher("a", "b", is_equal=False)),
        ("a=~b.*", Matcher("a", "b.*", is_regex=True)),
        ("a!~b", Matcher("a", "b", is_regex=True, is_equal=False)),
    ],
)
def test_matcher_parsing(text: str, expected: Matcher) -> None:
    assert Matcher.parse(text) == expected
