"""Issue 17: an alert that really fires in Prometheus shows on the SLO page as firing.

Prometheus evaluates one rule every second: ``vector(1)`` labelled as sloplane's generated
burn alert for ``checkout-availability`` (its id, service, SLO name and severity), with a
short ``for``. Once Prometheus reports it firing, the API's ``/alerts`` has an ongoing
interval and the console's SLO page lists it as still firing, as does the status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from sloplane.slo.catalog import Catalog
from tests.api.dataset import CHECKOUT
from tests.support.processes import Prometheus, prometheus_config, run_prometheus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ALERT = CHECKOUT.alert_name("page")


@pytest.fixture()
def firing_prom(tmp_path: Path) -> Iterator[Prometheus]:
    rules = tmp_path / "rules.yml"
    labels = {
        "severity": "page",
        "sloplane_id": CHECKOUT.id,
        "sloplane_service": CHECKOUT.service,
        "sloplane_slo": CHECKOUT.name,
    }
    group = {
        "name": "live",
        "interval": "1s",
        "rules": [{"alert": ALERT, "expr": "vector(1)", "for": "2s", "labels": labels}],
    }
    rules.write_text(yaml.safe_dump({"groups": [group]}))
    with run_prometheus(prometheus_config(rule_files=[rules])) as p:
        yield p


def test_a_firing_alert_shows_on_the_slo_page(firing_prom: Prometheus, tmp_path: Path) -> None:
    settings = ApiSettings(
        firing_prom.url,
        f"sqlite:///{tmp_path / 'api.db'}",
        open_reads=True,
        schedule=None,
        cache_ttl=0,  # every request reads Prometheus now
    )
    with TestClient(create_app(Catalog.of([CHECKOUT]), settings)) as c:
        deadline = time.monotonic() + 60
        while True:
            history = c.get(f"/api/v1/slos/{CHECKOUT.id}/alerts")
            assert history.status_code == 200, history.text
            if history.json()["intervals"]:
                break
            assert time.monotonic() < deadline, "the rule never fired"
            time.sleep(0.5)
        (interval,) = history.json()["intervals"]
        assert (interval["alertname"], interval["severity"]) == (ALERT, "page")
        assert interval["ongoing"] and interval["end"] == history.json()["end"]
        page = c.get(f"/ui/slos/{CHECKOUT.id}")
        assert page.status_code == 200
        html = page.text
        assert 'data-ongoing="true"' in html
        assert f"{ALERT} (page): " in html and "<strong>still firing</strong>" in html
        assert 'data-field="intervals-source"' in html
        # the status says the same: the alert is firing now
        assert f'<span class="alert sev-page">{ALERT} (page)</span>' in html, html[:3000]
