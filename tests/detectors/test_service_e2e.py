"""End to end: a metric the test controls, a real Prometheus scraping it, a real AlertManager."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sloplane.dashboards.detectors import detectors_dashboard
from sloplane.dashboards.queries import expand, panel_queries, variable_values
from sloplane.detect.audit import list_decisions
from sloplane.detect.config import parse_config
from sloplane.detect.metric_names import EVENTS
from sloplane.detect.service import SeriesState, Service
from sloplane.detectors.detectors import make_detector
from tests.alerts.receivers import slack_receiver
from tests.detectors.conftest import controlled_metric
from tests.support import processes
from tests.support.processes import (
    Prometheus,
    free_port,
    prometheus_config,
    run_alertmanager,
    run_prometheus,
    stop_process,
    wait_http_ok,
)

pytestmark = pytest.mark.integration

AM_CONFIG = """
route:
  receiver: default
  group_wait: 1s
receivers:
  - name: default
"""


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _drive(metric: Any, value: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        metric.set(value())
        time.sleep(0.1)


def _config(tmp_path: Path, prom_url: str, am_url: str, marker: Path) -> dict[str, Any]:
    return {
        "prometheus": {"url": prom_url, "timeout": "2s"},
        "alertmanager": {"url": am_url, "resend_every": "1s", "generator_url": prom_url},
        "database": f"sqlite:///{tmp_path / 'detect.db'}",
        "listen": f"127.0.0.1:{free_port()}",
        "guards": {
            "max_staleness": "3s",
            "cooldown": "1h",
            "max_actions_per_hour": 3,
            "dry_run": False,
        },
        "outbox_interval": "500ms",
        "api": {"read_only": True},
        "watches": [
            {
                "name": "latency",
                "query": "test_latency_seconds",
                "step": "200ms",
                "lookback": "10s",
                "detector": "ewma",
                "params": {"learning": 10},
                "threshold": 0.9,
                "consecutive": 3,
                "labels": {"severity": "page", "team": "checkout"},
                "actions": ["rollback"],
            }
        ],
        "actions": [
            {
                "name": "rollback",
                "target": "deploy/checkout",
                "hook": {
                    "kind": "command",
                    "argv": ["/bin/sh", "-c", f"echo rolled-back >> {marker}"],
                },
            }
        ],
    }


def _executed(svc: Service) -> int:
    return len(list_decisions(svc.store, outcome="executed"))


@pytest.mark.timeout(150)
def test_level_shift_alerts_and_rolls_back_once_and_survives_prometheus_outage(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "rollbacks.log"
    rng = random.Random(7)
    with (
        controlled_metric() as metric,
        run_alertmanager(AM_CONFIG) as am,
        run_prometheus(
            prometheus_config([f"127.0.0.1:{metric.port}"], scrape_interval="200ms")
        ) as prom,
    ):
        cfg = parse_config(_config(tmp_path, prom.url, am.url, marker))
        svc = Service(cfg)
        svc.start(serve_http=True)
        restarted: subprocess.Popen[bytes] | None = None
        try:
            _drive(metric, lambda: 1.0 + rng.gauss(0, 0.02), 18.0)  # learn the baseline
            assert _executed(svc) == 0
            ws = svc.watches["latency"]
            st = next(iter(ws.series.values()))
            assert st.firing_since is None

            metric.set(3.0)  # level shift
            _wait(lambda: _executed(svc) == 1, 15, "the rollback")
            # the score that triggered it; st.last_score may already have decayed
            # while the EWMA adapts to the new level, so it is not the one to check
            (executed,) = list_decisions(svc.store, outcome="executed")
            assert executed.details["score"] >= 0.9
            assert executed.details["value"] == pytest.approx(3.0)
            _wait(
                lambda: any(a["labels"].get("watch") == "latency" for a in am.alerts()),
                15,
                "the alert in AlertManager",
            )
            alert = next(a for a in am.alerts() if a["labels"].get("watch") == "latency")
            assert alert["labels"]["severity"] == "page"
            assert alert["labels"]["alertname"] == "SloplaneAnomaly"
            assert {"value", "expected_range", "score"} <= set(alert["annotations"])
            assert alert["generatorURL"].startswith(prom.url)

            # the metric flaps: the rollback still runs exactly once
            end = time.monotonic() + 6
            while time.monotonic() < end:
                _drive(metric, lambda: 1.0, 1.0)
                _drive(metric, lambda: 3.0, 1.0)
            assert marker.read_text().count("rolled-back") == 1
            assert _executed(svc) == 1
            assert {event for event, _ in svc.counters} <= set(EVENTS)

            # scores are exported for dashboards
            host = cfg.listen
            body = httpx.get(f"http://{host}/metrics", timeout=5).text
            assert "sloplane_anomaly_score{" in body and 'watch="latency"' in body
            _every_detector_panel_has_data(prom, host)

            # Prometheus goes away mid-run: no action, the service reports it and carries on
            metric.set(1.0)
            prom.stop()
            _wait(lambda: ws.error is not None, 10, "the outage to be noticed")
            metric.set(9.0)
            time.sleep(3)
            assert _executed(svc) == 1
            assert marker.read_text().count("rolled-back") == 1
            assert (
                'sloplane_detector_up{watch="latency"} 0.0'
                in httpx.get(f"http://{host}/metrics", timeout=5).text
            )

            metric.set(1.0)
            restarted = subprocess.Popen(
                prom.proc.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            wait_http_ok(f"{prom.url}/-/ready", proc=restarted)
            before = st.last_t or 0.0
            _wait(lambda: ws.error is None and (st.last_t or 0) > before, 20, "recovery")
            assert marker.read_text().count("rolled-back") == 1
            refused = list_decisions(svc.store, outcome="refused")
            assert all(d.action == "rollback" for d in refused)
        finally:
            svc.stop()
            if restarted is not None:
                stop_process(restarted)


SLACK_AM_CONFIG = """
route:
  receiver: slack
  group_wait: 3s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs:
      - api_url: {url}
        channel: "#alerts"
        send_resolved: true
"""


@pytest.mark.timeout(120)
def test_a_brief_spike_reaches_slack_through_alertmanager_and_then_resolves(
    tmp_path: Path,
) -> None:
    """A score that is high for a moment still notifies: the alert is held firing for
    ``keep_firing_for``, longer than AlertManager's ``group_wait``, then resolved."""
    rng = random.Random(3)
    with (
        slack_receiver() as slack,
        controlled_metric() as metric,
        run_alertmanager(SLACK_AM_CONFIG.format(url=slack.url)) as am,
        run_prometheus(
            prometheus_config([f"127.0.0.1:{metric.port}"], scrape_interval="200ms")
        ) as prom,
    ):
        raw = _config(tmp_path, prom.url, am.url, tmp_path / "unused")
        raw["watches"][0].update(actions=[], consecutive=1, keep_firing_for="8s")
        svc = Service(parse_config(raw))
        svc.start(serve_http=False)
        try:
            _drive(metric, lambda: 1.0 + rng.gauss(0, 0.02), 15.0)
            metric.set(3.0)  # a spike of about a second
            _drive(metric, lambda: 3.0, 1.0)
            metric.set(1.0)  # and back, for good
            spike_end = time.monotonic()
            ws = svc.watches["latency"]
            st = next(iter(ws.series.values()))
            firing = slack.wait_for(lambda r: "FIRING" in json.dumps(r.body), 30)
            assert st.firing_since is not None  # held, though the score fell long ago
            assert st.last_score < 0.9
            resolved = slack.wait_for(lambda r: "RESOLVED" in json.dumps(r.body), 40)
            assert time.monotonic() - spike_end >= 8  # not before the hold ran out
            assert slack.invalid() == []
            for msg in (firing, resolved):
                assert "SloplaneAnomaly" in json.dumps(msg.body)
            assert st.firing_since is None
        finally:
            svc.stop()


@pytest.mark.timeout(60)
def test_alerts_wait_in_outbox_while_alertmanager_is_down_and_survive_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    am_port = free_port()
    raw = _config(
        tmp_path, "http://127.0.0.1:1", f"http://127.0.0.1:{am_port}", tmp_path / "unused"
    )
    raw["watches"][0]["actions"] = []
    cfg = parse_config(raw)
    svc = Service(cfg)
    w = cfg.watches[0]
    now = time.time()
    st = SeriesState(
        {"instance": "a"},
        make_detector("ewma"),
        last_t=now,
        last_value=5.0,
        last_score=0.97,
        consecutive=3,
    )
    st.firing_since = now
    svc.outbox.send(w, st, now, firing=True)
    st2 = SeriesState(
        {"instance": "b"},
        make_detector("ewma"),
        last_t=now,
        last_value=6.0,
        last_score=0.95,
        consecutive=3,
    )
    st2.firing_since = now
    svc.outbox.send(w, st2, now, firing=True)
    assert svc.deliver_outbox() == 0
    assert len(svc.store.pending()) == 2
    svc.stop()  # the service restarts while AlertManager is still down

    monkeypatch.setattr(processes, "free_port", lambda: am_port)
    with run_alertmanager(AM_CONFIG) as am:
        svc2 = Service(cfg)
        try:
            assert svc2.deliver_outbox() == 2
            assert svc2.store.pending() == []
            instances = sorted(a["labels"]["instance"] for a in am.alerts())
            assert instances == ["a", "b"]
        finally:
            svc2.stop()


@pytest.mark.timeout(60)
def test_burn_soon_after_deploy_rolls_back_and_old_deploys_do_not(tmp_path: Path) -> None:
    marker = tmp_path / "rollbacks.log"
    with (
        controlled_metric("test_error_ratio") as metric,
        run_prometheus(
            prometheus_config([f"127.0.0.1:{metric.port}"], scrape_interval="200ms")
        ) as prom,
    ):
        raw = _config(tmp_path, prom.url, "", marker)
        raw["alertmanager"] = {"url": None}
        raw["watches"] = []
        raw["rollbacks"] = [
            {
                "name": "burn",
                "burn_query": "test_error_ratio > 0.0144",
                "deploy_target": "checkout",
                "within": "30m",
                "action": "rollback",
            }
        ]
        svc = Service(parse_config(raw))
        try:
            metric.set(0.001)
            svc.store.set_deploy("checkout", time.time() - 3 * 3600)  # an old deploy
            _wait(lambda: bool(svc.prom.instant("test_error_ratio")), 10, "the first scrape")
            svc.tick_rollback("burn")
            metric.set(0.5)
            _wait(lambda: bool(svc.prom.instant("test_error_ratio > 0.0144")), 10, "the burn")
            svc.tick_rollback("burn")
            assert svc.gate.settle(30)  # actions run off the poll thread: let them finish
            assert _executed(svc) == 0  # burn, but the deploy is too old

            metric.set(0.001)
            _wait(lambda: not svc.prom.instant("test_error_ratio > 0.0144"), 10, "the burn to stop")
            svc.tick_rollback("burn")
            svc.store.set_deploy("checkout", time.time() - 60)
            metric.set(0.5)
            _wait(lambda: bool(svc.prom.instant("test_error_ratio > 0.0144")), 10, "the burn")
            for _ in range(5):
                svc.tick_rollback("burn")
            assert svc.gate.settle(30)
            assert _executed(svc) == 1
            assert marker.read_text().count("rolled-back") == 1

            prom.stop()  # Prometheus errors while burning: refused, never acted on
            svc.tick_rollback("burn")
            assert svc.gate.settle(30)
            assert _executed(svc) == 1
            assert "data not trustworthy" in list_decisions(svc.store, limit=1)[0].reason
        finally:
            svc.stop()


@pytest.mark.timeout(60)
def test_backtest_from_a_prometheus_range_and_plot(tmp_path: Path) -> None:
    from sloplane.detectors.backtest import from_prometheus, plot, run

    with (
        controlled_metric("test_backtest") as metric,
        run_prometheus(
            prometheus_config([f"127.0.0.1:{metric.port}"], scrape_interval="200ms")
        ) as prom,
    ):
        metric.set(1.0)
        _wait(lambda: bool(prom.query("test_backtest")), 20, "the first scrape")
        start = time.time()
        _drive(metric, lambda: 1.0, 2.0)
        frames = from_prometheus(prom.url, "test_backtest", start, time.time(), 0.2)
    (df,) = frames.values()
    scored = run(df, "ewma", {"learning": 3})
    assert len(scored) == len(df) > 3
    plot(scored, 0.9, tmp_path / "p.png", title="t")
    assert (tmp_path / "p.png").stat().st_size > 1000


def _every_detector_panel_has_data(prom: Prometheus, detector_host: str) -> None:
    """Scrape the detector service too, then run every query of its Grafana dashboard."""
    config = yaml.safe_load(prom.config_file.read_text())
    config["scrape_configs"].append(
        {"job_name": "detector", "static_configs": [{"targets": [detector_host]}]}
    )
    prom.config_file.write_text(yaml.safe_dump(config))
    prom.reload()
    _wait(lambda: bool(prom.query("sloplane_anomaly_score")), 15, "the detector scrape")
    _wait(lambda: bool(prom.query("sloplane_detector_events_total[1m]")), 15, "two scrapes")
    board = detectors_dashboard()
    values = {**variable_values(board), "__rate_interval": "1m"}
    panels = [q for q in panel_queries(board) if not q.panel.startswith("annotation")]
    assert len(panels) >= 6
    empty = [q.panel for q in panels if not prom.query(expand(q.expr, values))]
    assert not empty, f"panels without data: {empty}"
