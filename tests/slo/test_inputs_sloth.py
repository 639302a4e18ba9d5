"""Sloth specs without losses (issue 14): each shape's `--label-mode sloth` rules against Sloth's.

For each Sloth shape (events with the author's own alert labels, raw with both alerts off,
the Kubernetes CRD, a 28d/7d period) the test states what Sloth documents for that shape
(its `_gen` outputs and rule conventions: one ratio recording per window `5m 30m 1h 2h 6h 1d
3d <period>` labelled `sloth_id/sloth_service/sloth_slo/sloth_window`, objective and period
metadata, `sloth_slo_info`, two alerts named `alerting.name` with window pairs 5m&1h 14.4,
30m&6h 6, 2h&1d 3, 6h&3d 1, the author's labels plus `sloth_severity`, and Sloth's `title`
annotation) and compares every item with ours. Deliberate differences are listed in
docs/inputs.md ("Sloth: what differs").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.slo.loaders import load
from sloplane.slo.naming import Labels
from sloplane.slo.rules import compile_rules
from sloplane.slo.rules.alerts import alert_labels

FIXTURES = Path(__file__).parents[1] / "fixtures"
SLOTH = GenerateSettings(label_mode="sloth", unit_tests=False)
SLOTH_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
# (short, long, factor) of Sloth's 30d page and ticket alerts, in its order
SLOTH_PAGE = [("5m", "1h", 14.4), ("30m", "6h", 6.0)]
SLOTH_TICKET = [("2h", "1d", 3.0), ("6h", "3d", 1.0)]


def rules_of(*paths: Path, period: int | None = None) -> dict[str, list[dict[str, Any]]]:
    catalog = load(list(paths), sloth_period=period).catalog
    out: dict[str, list[dict[str, Any]]] = {}
    for path, text in compile_rules(catalog, SLOTH).items():
        if path.endswith(".rules.yml"):
            slo_id = Path(path).name.removesuffix(".rules.yml")
            for group in yaml.safe_load(text)["groups"]:
                out.setdefault(slo_id, []).extend(group["rules"])
    return out


def ratio_windows(rules: list[dict[str, Any]]) -> list[str]:
    prefix = "slo:sli_error:ratio_rate"
    return [
        r["record"].removeprefix(prefix) for r in rules if r.get("record", "").startswith(prefix)
    ]


def alert_pairs(rule: dict[str, Any]) -> list[tuple[str, str, float]]:
    import re

    found = re.findall(r"ratio_rate(\w+)\{[^}]*\} / [\d.e-]+ > ([\d.]+)", rule["expr"])
    return [(found[i][0], found[i + 1][0], float(found[i][1])) for i in range(0, len(found), 2)]


def test_events_with_the_authors_labels() -> None:
    rules = rules_of(FIXTURES / "sloth" / "explicit-labels.yaml")["payments-charge-availability"]
    assert ratio_windows(rules) == [*SLOTH_WINDOWS, "30d"]
    for rule in rules:
        if rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
            labels = rule["labels"]
            assert (
                labels["sloth_service"] == "payments"
                and labels["sloth_slo"] == "charge-availability"
            )
            assert labels["owner"] == "payments-team" and labels["tier"] == "1"
            assert labels["sloth_window"] == rule["record"].rsplit("rate", 1)[1]
    # Sloth's short-window query: (error query) / (total query), each rendered for the window
    for window in ("30m", "1h", "2h"):
        rule = next(r for r in rules if r.get("record") == f"slo:sli_error:ratio_rate{window}")
        errors = f'sum(rate(charge_requests_total{{result="error"}}[{window}]))'
        total = f"sum(rate(charge_requests_total[{window}]))"
        numerator, denominator = rule["expr"].split("\n/\n")
        assert errors in numerator and total in denominator
    objective = next(r for r in rules if r.get("record") == "slo:objective:ratio")
    assert objective["expr"] == "vector(0.9995)"
    days = next(r for r in rules if r.get("record") == "slo:time_period:days")
    assert days["expr"] == "vector(30)"
    page, ticket = [r for r in rules if "alert" in r]
    assert page["alert"] == ticket["alert"] == "PaymentsChargeBurn"
    assert alert_pairs(page) == SLOTH_PAGE and alert_pairs(ticket) == SLOTH_TICKET
    # the author's labels, as written, win over what sloplane derives (owner -> team)
    assert page["labels"] == {
        "category": "availability",
        "team": "payments",
        "severity": "pageteam",
        "sloth_severity": "page",
    }
    assert ticket["labels"]["severity"] == "pageteam-low"
    assert ticket["labels"]["sloth_severity"] == "ticket"
    assert page["annotations"]["summary"] == "Charges are failing"
    assert page["annotations"]["title"] == (
        "(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is "
        "too fast."
    )
    info = next(r for r in rules if r.get("record") == "sloth_slo_info")
    assert info["labels"] | {"sloth_mode": "", "sloth_spec": ""} == {
        "owner": "payments-team",
        "tier": "1",
        "sloth_id": "payments-charge-availability",
        "sloth_service": "payments",
        "sloth_slo": "charge-availability",
        "sloth_objective": "99.95",
        "sloth_mode": "",
        "sloth_spec": "",
    }
    assert (info["labels"]["sloth_mode"], info["labels"]["sloth_spec"]) == (
        "cli-gen-prom",
        "prometheus/v1",
    )


def test_alerts_off_still_records_every_window() -> None:
    rules = rules_of(FIXTURES / "sloth" / "no-alerts.yaml")["ledger-writes"]
    assert ratio_windows(rules) == [*SLOTH_WINDOWS, "30d"]
    assert [r for r in rules if "alert" in r] == []


def test_crd_says_so_in_sloth_slo_info_and_severity_page_needs_no_second_label() -> None:
    rules = rules_of(FIXTURES / "sloth" / "crd.yaml")["inventory-lookups"]
    info = next(r for r in rules if r.get("record") == "sloth_slo_info")
    assert info["labels"]["sloth_mode"] == "cli-gen-k8s"
    assert info["labels"]["sloth_spec"] == "sloth.slok.dev/v1"
    # infoLabels go onto the info series only, as in Sloth
    assert info["labels"]["runbook"] == "https://runbooks.example.com/inventory"
    infos = ("sloth_slo_info", "sloplane_slo_info")
    assert all("runbook" not in r.get("labels", {}) for r in rules if r.get("record") not in infos)
    page = next(r for r in rules if "alert" in r)
    assert page["labels"] == {"severity": "page", "sloth_severity": "page", "team": "stock"}


def test_28d_period_keeps_sloths_windows_and_factors() -> None:
    # Sloth's built-in 28d catalog: the workbook's windows unscaled, factor = share x 28d / long.
    rules = rules_of(FIXTURES / "sloth" / "explicit-labels.yaml", period=28 * 86400)
    slo_rules = rules["payments-charge-availability"]
    assert ratio_windows(slo_rules) == [*SLOTH_WINDOWS, "28d"]
    page, ticket = [r for r in slo_rules if "alert" in r]
    assert alert_pairs(page) == [("5m", "1h", 13.44), ("30m", "6h", 5.6)]
    assert alert_pairs(ticket) == [("2h", "1d", 2.8), ("6h", "3d", 0.933333)]


def test_alert_windows_document_sets_a_7d_period() -> None:
    rules = rules_of(
        FIXTURES / "sloth" / "no-alerts.yaml",
        FIXTURES / "sloth" / "crd.yaml",
        FIXTURES / "sloth_windows" / "7d.yaml",
        period=7 * 86400,
    )
    inventory = rules["inventory-lookups"]
    page, ticket = [r for r in inventory if "alert" in r]
    # 8% of a 7d budget in 1h is 13.44x; 12.5% in 6h is 3.5x; 20% in 1d 1.4x; 42% in 3d 0.98x
    assert alert_pairs(page) == [("5m", "1h", 13.44), ("30m", "6h", 3.5)]
    assert alert_pairs(ticket) == [("2h", "1d", 1.4), ("6h", "3d", 0.98)]
    # with both tiers off nothing changes but the period
    assert ratio_windows(rules["ledger-writes"])[-1] == "7d"


@pytest.mark.integration
def test_an_authors_severity_still_reaches_the_tiers_receiver(tmp_path: Path) -> None:
    """severity: pageteam / pageteam-low are kept; amtool routes on sloplane_severity first."""
    from sloplane.alerts import render_alertmanager
    from sloplane.generate import write_artifacts
    from tests.support.processes import amtool

    examples = Path(__file__).parents[2] / "examples" / "slos" / "routing.yaml"
    catalog = load([FIXTURES / "sloth" / "explicit-labels.yaml", examples]).catalog
    write_artifacts(tmp_path, render_alertmanager(catalog, GenerateSettings()))
    config = f"--config.file={tmp_path / 'alertmanager' / 'alertmanager.yml'}"
    (slo,) = catalog.slos
    for tier, receiver in (("page", "payments-pagerduty"), ("ticket", "payments-slack")):
        labels = alert_labels(slo, Labels("sloplane"), tier)  # type: ignore[arg-type]
        pairs = [f"{k}={v}" for k, v in labels.items()]
        routed = amtool("config", "routes", "test", config, *pairs)
        assert routed.stdout.strip() == receiver, (labels, routed.stdout, routed.stderr)


def test_a_bad_alert_windows_document_names_each_field() -> None:
    from sloplane.errors import SpecError

    with pytest.raises(SpecError) as info:
        load([FIXTURES / "bad" / "sloth-alert-windows.yaml", FIXTURES / "sloth" / "crd.yaml"])
    found = [f"{p.line}: {p.field}: {p.message}" for p in info.value.problems]
    assert found == [
        "7: spec.page.quick.errorBudgetPercent: must be above 0 and at most 100",
        "11: spec.page.slow.longWindow: missing",
        "13: spec.page.slow.longWindw: unknown field 'longWindw' (did you mean 'longWindow'?)",
    ]
