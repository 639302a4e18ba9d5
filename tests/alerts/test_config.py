"""The generated AlertManager configuration passes amtool and routes every team correctly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloplane.alerts import CONFIG_FILE, render_alertmanager
from sloplane.artifacts import HEADER, GenerateSettings
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from tests.alerts.conftest import ROOT, example_routing, render, routing_doc, slo, write_artifacts
from tests.support.processes import amtool

SLOS = [slo("checkout", "availability", "payments"), slo("gateway", "latency", "platform")]


def check_config(path: Path) -> None:
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def route(config: Path, *labels: str) -> str:
    result = amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def example_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("am")
    write_artifacts(render(SLOS, [example_routing()]), root)
    return root / CONFIG_FILE


@pytest.mark.integration
def test_example_passes_amtool(example_config: Path) -> None:
    check_config(example_config)
    text = example_config.read_text()
    assert text.startswith(f"# {HEADER}")
    assert "templates/*.tmpl" in text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("team", "severity", "receiver"),
    [
        ("payments", "page", "payments-pagerduty"),
        ("payments", "ticket", "payments-slack"),
        ("platform", "page", "platform-pagerduty"),
        ("platform", "ticket", "platform-slack"),
        ("unknown", "page", "_default-slack"),
        ("unknown", "ticket", "_default-slack"),
        ("payments", "critical", "payments-pagerduty"),
        ("payments", "warning", "payments-slack"),
        ("platform", "critical", "platform-pagerduty"),
        ("unknown", "critical", "_default-slack"),
        ("unknown", "warning", "_default-slack"),
        ("payments", "info", "payments-slack"),
    ],
)
def test_each_team_page_and_ticket_reach_their_receiver(
    example_config: Path, team: str, severity: str, receiver: str
) -> None:
    labels = [f"team={team}", f"severity={severity}", "sloplane_severity=" + severity]
    assert route(example_config, *labels) == receiver


@pytest.mark.integration
def test_alert_without_labels_goes_to_the_defaults_receiver(example_config: Path) -> None:
    assert route(example_config, "alertname=Watchdog") == "_default-slack"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "_default-pagerduty"), ("page", "_default-pagerduty")]
    + [(s, "_default-slack") for s in ("warning", "ticket", "info", "")],
)
def test_alerts_without_a_team_reach_the_defaults_receiver(
    tmp_path: Path, severity: str, receiver: str
) -> None:
    doc = routing_doc(
        {
            "spec": {
                "defaults": {
                    "receiver": {
                        "pagerduty": {"routing_key_file": "pd.key"},
                        "slack": {"api_url_file": "slack.url"},
                    }
                }
            }
        }
    )
    write_artifacts(render(SLOS, [doc]), tmp_path)
    check_config(tmp_path / CONFIG_FILE)
    labels = ["alertname=HighErrorRate"] + ([f"severity={severity}"] if severity else [])
    assert route(tmp_path / CONFIG_FILE, *labels) == receiver


@pytest.mark.integration
def test_empty_defaults_receiver_is_named_in_the_header(tmp_path: Path) -> None:
    doc = routing_doc({"spec": {"teams": {"payments": {"slack": {"api_url_file": "f"}}}}})
    artifacts = render(SLOS, [doc])
    write_artifacts(artifacts, tmp_path)
    check_config(tmp_path / CONFIG_FILE)
    assert "defaults.receiver is empty" in artifacts[CONFIG_FILE]
    assert route(tmp_path / CONFIG_FILE, "team=data", "severity=critical") == "_nobody"
    assert route(tmp_path / CONFIG_FILE, "team=payments", "severity=critical") == "payments-slack"


@pytest.mark.integration
def test_no_routing_document_means_default_receiver_only(tmp_path: Path) -> None:
    artifacts = render(SLOS, [])
    write_artifacts(artifacts, tmp_path)
    check_config(tmp_path / CONFIG_FILE)
    config = yaml.safe_load(artifacts[CONFIG_FILE])
    assert [r["name"] for r in config["receivers"]] == ["_nobody"]
    assert "No AlertRouting document" in artifacts[CONFIG_FILE]
    assert route(tmp_path / CONFIG_FILE, "team=payments", "severity=page") == "_nobody"


@pytest.mark.integration
def test_sloth_label_mode(tmp_path: Path) -> None:
    artifacts = render(SLOS, [example_routing()], GenerateSettings(label_mode="sloth"))
    write_artifacts(artifacts, tmp_path)
    check_config(tmp_path / CONFIG_FILE)
    config = yaml.safe_load(artifacts[CONFIG_FILE])
    assert config["inhibit_rules"][0]["equal"] == ["sloth_id"]
    assert "sloth_service" in config["route"]["group_by"]
    assert "watch" in config["route"]["group_by"]  # one notification per detector watch
    assert ".CommonLabels.sloth_id" in artifacts["alertmanager/templates/sloplane.tmpl"]


def test_page_inhibits_ticket_of_same_slo(example_config: Path) -> None:
    config = yaml.safe_load(example_config.read_text())
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['sloplane_severity="page"'],
            "target_matchers": ['sloplane_severity="ticket"'],
            "equal": ["sloplane_id"],
        }
    ]


def test_business_hours_apply_to_tickets_only_where_asked(example_config: Path) -> None:
    config = yaml.safe_load(example_config.read_text())
    assert config["time_intervals"][0]["time_intervals"][0]["location"] == "Europe/Berlin"
    teams = {r["matchers"][0]: r for r in config["route"]["routes"] if "routes" in r}
    payments = {r["matchers"][0]: r for r in teams['team="payments"']["routes"]}
    platform = {r["matchers"][0]: r for r in teams['team="platform"']["routes"]}
    assert payments['severity=~"ticket|warning"']["active_time_intervals"] == ["business-hours"]
    assert "active_time_intervals" not in payments['severity=~"page|critical"']
    assert "active_time_intervals" not in platform['severity=~"ticket|warning"']


def test_secrets_are_only_referenced_by_file(tmp_path: Path) -> None:
    secret = tmp_path / "pd"
    secret.write_text("R0UTINGKEYSECRET0000000000000000")
    doc = routing_doc(
        {"spec": {"teams": {"payments": {"pagerduty": {"routing_key_file": str(secret)}}}}}
    )
    text = render(SLOS, [doc])[CONFIG_FILE]
    assert "R0UTINGKEYSECRET" not in text
    assert f"routing_key_file: {secret}" in text
    assert "routing_key:" not in text and "api_url:" not in text


def test_output_is_deterministic() -> None:
    assert render(SLOS, [example_routing()]) == render(list(reversed(SLOS)), [example_routing()])


def test_unrouted_team_is_named_in_the_header() -> None:
    text = render([*SLOS, slo("search", "availability", "discovery")], [example_routing()])[
        CONFIG_FILE
    ]
    assert "discovery" in text.splitlines()[1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"spec": {"teams": {"payments": {"pagerduty": {}}}}},
            "spec.teams.payments.pagerduty.routing_key_file",
        ),
        (
            {"spec": {"teams": {"payments": {"slack": {"api_url": "https://hooks"}}}}},
            "spec.teams.payments.slack.api_url",
        ),
        (
            {"spec": {"teams": {"payments": {"slack": {"api_url_file": "f", "channel": "x"}}}}},
            "spec.teams.payments.slack.channel",
        ),
        (
            {"spec": {"defaults": {"page": {"group_wait": "soon"}}}},
            "spec.defaults.page.group_wait",
        ),
        (
            {"spec": {"business_hours": {"times": [{"start": "9am", "end": "17:00"}]}}},
            "spec.business_hours.times[0].start",
        ),
        ({"spec": {"business_hours": {"weekdays": ["funday"]}}}, "spec.business_hours.weekdays"),
        ({"spec": {"teams": {"bad team": {}}}}, "spec.teams"),
    ],
)
def test_bad_routing_is_a_spec_error_naming_the_field(body: dict, field: str) -> None:
    with pytest.raises(SpecError) as info:
        render(SLOS, [routing_doc(body, "r.yaml")])
    problem = info.value.problems[0]
    assert problem.file == "r.yaml"
    assert problem.field == field
    assert problem.obj == "AlertRouting"


def test_bad_routing_is_worded_like_slo_problems() -> None:
    # these read "Extra inputs are not permitted", "Field required" and "Value error, ..."
    body = {
        "spec": {
            "teams": {"payments": {"pagerduty": {"routing_key_fil": "k"}}},
            "defaults": {"page": {"group_wait": "soon"}},
        }
    }
    with pytest.raises(SpecError) as info:
        render(SLOS, [routing_doc(body, "r.yaml")])
    assert [(p.field, p.message) for p in info.value.problems] == [
        (
            "spec.defaults.page.group_wait",
            "invalid duration 'soon': use a number followed by s, m, h, d or w, e.g. 30d or 1h30m",
        ),
        (
            "spec.teams.payments.pagerduty.routing_key_fil",
            "unknown field 'routing_key_fil' (did you mean 'routing_key_file'?)",
        ),
        ("spec.teams.payments.pagerduty.routing_key_file", "missing"),
    ]


def test_team_routed_twice_is_an_error() -> None:
    doc = {"spec": {"teams": {"payments": {"slack": {"api_url_file": "f"}}}}}
    with pytest.raises(SpecError, match="already routed"):
        render(SLOS, [routing_doc(doc, "a.yaml"), routing_doc(doc, "b.yaml")])


@pytest.mark.integration
def test_teams_may_be_split_over_documents(tmp_path: Path) -> None:
    a = routing_doc({"spec": {"teams": {"payments": {"slack": {"api_url_file": "f"}}}}})
    b = routing_doc({"spec": {"teams": {"platform": {"pagerduty": {"routing_key_file": "k"}}}}})
    write_artifacts(render(SLOS, [a, b]), tmp_path)
    config = tmp_path / CONFIG_FILE
    check_config(config)
    assert route(config, "team=payments", "severity=page") == "payments-slack"
    assert route(config, "team=platform", "severity=ticket") == "platform-pagerduty"


team_names = st.one_of(
    st.sampled_from(["default", "nobody", "default-slack", "a-slack"]),
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?", fullmatch=True),
)
team_specs = st.fixed_dictionaries(
    {},
    optional={
        "pagerduty": st.just({"routing_key_file": "pd.key"}),
        "slack": st.just({"api_url_file": "slack.url", "channel": "#alerts"}),
        "tickets_in_business_hours": st.booleans(),
    },
)


@pytest.mark.integration
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(teams=st.dictionaries(team_names, team_specs, min_size=1, max_size=3))
def test_any_routing_passes_amtool_and_routes_pages_to_pagerduty(
    tmp_path: Path, teams: dict
) -> None:
    artifacts = render_alertmanager(
        Catalog.of(SLOS, [routing_doc({"spec": {"teams": teams}})]), GenerateSettings()
    )
    write_artifacts(artifacts, tmp_path)
    config = tmp_path / CONFIG_FILE
    check_config(config)
    for name, spec in teams.items():
        for severity in ("page", "critical"):
            got = route(config, f"team={name}", f"severity={severity}")
            expected = (
                f"{name}-pagerduty"
                if "pagerduty" in spec
                else f"{name}-slack"
                if "slack" in spec
                else "_nobody"
            )
            assert got == expected


@pytest.mark.integration
@pytest.mark.parametrize("name", ["default", "nobody", "default-slack", "Default"])
def test_team_named_like_the_defaults_gets_its_own_receivers(tmp_path: Path, name: str) -> None:
    both = {"pagerduty": {"routing_key_file": "pd.key"}, "slack": {"api_url_file": "s.url"}}
    doc = routing_doc({"spec": {"defaults": {"receiver": both}, "teams": {name: both}}})
    write_artifacts(render(SLOS, [doc]), tmp_path)
    config = tmp_path / CONFIG_FILE
    check_config(config)
    assert route(config, f"team={name}", "severity=page") == f"{name}-pagerduty"
    assert route(config, f"team={name}", "severity=warning") == f"{name}-slack"
    assert route(config, "team=other", "severity=page") == "_default-pagerduty"


@pytest.mark.integration
def test_routing_document_through_the_loader(tmp_path: Path) -> None:
    from sloplane.slo.loaders import load_catalog

    catalog = load_catalog([str(ROOT / "examples" / "slos" / "routing.yaml")])
    write_artifacts(render_alertmanager(catalog, GenerateSettings()), tmp_path)
    check_config(tmp_path / CONFIG_FILE)
    assert route(tmp_path / CONFIG_FILE, "team=platform", "severity=page") == "platform-pagerduty"
