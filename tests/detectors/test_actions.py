"""Guards and hooks with a real SQLite audit log and real commands and HTTP receivers."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sloplane.detect import hooks, signing
from sloplane.detect.audit import list_decisions
from sloplane.detect.config import parse_config
from sloplane.detect.guards import Evidence, Limits, plan_scale, refusal
from sloplane.detect.routes import ApiAuth, create_app
from sloplane.detect.service import Service
from tests.alerts.receivers import slack_receiver
from tests.detectors.fakes import FixedProm
from tests.detectors.fakes import series as make_series
from tests.support.processes import free_port

GOOD = Evidence(breaches=3, required_breaches=3)


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _service(tmp_path: Path, clock: Clock, **action: Any) -> tuple[Service, Path]:
    marker = tmp_path / "hook.log"
    act = {
        "name": "rollback",
        "target": "deploy/api",
        "hook": {"kind": "command", "argv": ["/bin/sh", "-c", f"echo ran >> {marker}"]},
        **action,
    }
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'audit.db'}",
            "guards": {"cooldown": "10m", "max_actions_per_hour": 2, "dry_run": False},
            "actions": [act],
        }
    )
    return Service(cfg, clock=clock), marker


def _runs(marker: Path) -> int:
    return marker.read_text().count("ran") if marker.exists() else 0


def test_cooldown_and_hourly_limit_hold_under_a_burst(tmp_path: Path) -> None:
    clock = Clock()
    svc, marker = _service(tmp_path, clock)
    a = svc.config.action("rollback")
    outcomes = [
        svc.request_action(a, trigger="burst", evidence=GOOD, context={}) for _ in range(30)
    ]
    assert outcomes.count("executed") == 1 and _runs(marker) == 1
    clock.t += 11 * 60
    outcomes = [
        svc.request_action(a, trigger="burst", evidence=GOOD, context={}) for _ in range(30)
    ]
    assert outcomes.count("executed") == 1 and _runs(marker) == 2
    clock.t += 11 * 60  # past the cooldown, but two actions in the last hour already
    outcomes = [
        svc.request_action(a, trigger="burst", evidence=GOOD, context={}) for _ in range(30)
    ]
    assert outcomes.count("executed") == 0 and _runs(marker) == 2
    refused = list_decisions(svc.store, outcome="refused", limit=1)
    assert "hourly limit" in refused[0].reason
    clock.t += 3600
    assert svc.request_action(a, trigger="later", evidence=GOOD, context={}) == "executed"
    svc.stop()


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (
            Evidence(data_error="newest point is 900s old", breaches=3, required_breaches=3),
            "data not trustworthy",
        ),
        (
            Evidence(
                breaches=3, required_breaches=3, traffic_min=5, traffic_error="connection refused"
            ),
            "traffic unknown",
        ),
        (Evidence(breaches=3, required_breaches=3, traffic_min=5, traffic=None), "traffic unknown"),
        (Evidence(breaches=3, required_breaches=3, traffic_min=5, traffic=1), "below minimum"),
        (Evidence(breaches=2, required_breaches=3), "consecutive"),
    ],
)
def test_bad_or_missing_data_is_refused_and_audited(
    tmp_path: Path, evidence: Evidence, reason: str
) -> None:
    svc, marker = _service(tmp_path, Clock())
    assert (
        svc.request_action(
            svc.config.action("rollback"), trigger="t", evidence=evidence, context={}
        )
        == "refused"
    )
    assert _runs(marker) == 0
    (d,) = list_decisions(svc.store)
    assert reason in d.reason and d.outcome == "refused"
    svc.stop()


def test_refusal_is_pure_and_ordered() -> None:
    lim = Limits(cooldown=600, max_per_hour=3)
    assert refusal(GOOD, lim, [], 1000.0) is None
    assert refusal(GOOD, lim, [900.0], 1000.0) is not None
    assert refusal(GOOD, lim, [0.0, 1.0, 2.0], 3000.0) is not None
    assert plan_scale(3, 5, 1, 10, 2) == (5, "3 -> 5 replicas")
    assert plan_scale(10, 1, 1, 10, 2)[0] is None
    assert plan_scale(2, -9, 1, 10, 2)[0] == 1


def test_a_target_lease_outlasts_the_longest_hook_run() -> None:
    raw = {
        "actions": [
            {"name": "w", "hook": {"kind": "webhook", "url": "http://x", "timeout": "10s"}},
            {"name": "c", "hook": {"kind": "command", "argv": ["true"], "timeout": "1m"}},
            {"name": "k", "hook": {"kind": "kubernetes", "operation": "scale", "deployment": "d"}},
            {"name": "keda", "hook": {"kind": "keda"}},
        ]
    }
    cfg = parse_config(raw)
    runs = [hooks.longest_run(cfg.action(n).hook) for n in ("w", "c", "k", "keda")]
    assert runs == [4 * 10 + (1 + 2 + 4), 60, 4 * 10, 0]


def test_dry_run_and_approval(tmp_path: Path) -> None:
    clock = Clock()
    svc, marker = _service(tmp_path, clock, dry_run=True)
    assert (
        svc.request_action(svc.config.action("rollback"), trigger="t", evidence=GOOD, context={})
        == "dry_run"
    )
    assert _runs(marker) == 0
    svc.stop()

    (tmp_path / "b").mkdir()
    svc, marker = _service(tmp_path / "b", clock, require_approval=True)
    assert (
        svc.request_action(svc.config.action("rollback"), trigger="t", evidence=GOOD, context={})
        == "pending_approval"
    )
    assert _runs(marker) == 0
    client = TestClient(create_app(svc, ApiAuth("s3cret")))
    (pending,) = client.get("/v1/detectors/approvals").json()
    url = f"/v1/detectors/approvals/{pending['id']}/approve"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.post(url, headers=auth).json()["outcome"] == "executed"
    assert client.post(url, headers=auth).status_code == 404
    assert _runs(marker) == 1
    outcomes = [d["outcome"] for d in client.get("/v1/detectors/decisions").json()]
    assert outcomes == ["executed", "pending_approval"]
    svc.stop()


def test_pending_approval_is_announced_on_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with slack_receiver() as slack:
        monkeypatch.setenv("TEST_SLACK_WEBHOOK", slack.url)
        clock = Clock()
        svc, marker = _service(tmp_path, clock, require_approval=True)
        svc.config.approval.slack_webhook_env = "TEST_SLACK_WEBHOOK"
        svc.config.approval.public_url = "https://detect.example.org/"
        a = svc.config.action("rollback")
        assert svc.request_action(a, trigger="burn", evidence=GOOD, context={}) == (
            "pending_approval"
        )
        (msg,) = slack.valid()
        assert slack.invalid() == []
        text = msg.body["text"]
        assert "*rollback*" in text and "`deploy/api`" in text and "burn" in text
        assert "POST https://detect.example.org/v1/detectors/approvals/1/approve" in text
        assert "/v1/detectors/approvals/1/reject" in text
        assert _runs(marker) == 0
        svc.stop()


def test_a_failed_slack_announcement_still_leaves_the_approval_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", f"http://127.0.0.1:{free_port()}/hooks/x")
    svc, marker = _service(tmp_path, Clock(), require_approval=True)
    svc.config.approval.slack_webhook_env = "TEST_SLACK_WEBHOOK"
    a = svc.config.action("rollback")
    assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "pending_approval"
    assert "The Slack announcement of approval #1 failed" in caplog.text
    assert [p.id for p in svc.store.approvals("pending")] == [1]
    assert _runs(marker) == 0
    svc.stop()


def test_keda_endpoint_reports_bounded_stepped_scale(tmp_path: Path) -> None:
    clock = Clock()
    svc, _ = _service(
        tmp_path,
        clock,
        hook={"kind": "keda"},
        scaling={"min_replicas": 2, "max_replicas": 5, "max_step": 2, "step": 3},
        cooldown=0,
        max_actions_per_hour=100,
    )
    client = TestClient(create_app(svc))
    a = svc.config.action("rollback")
    assert client.get("/v1/detectors/keda/rollback").json()["desired_replicas"] == 2
    assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "executed"
    assert (
        client.get("/v1/detectors/keda/rollback").json()["desired_replicas"] == 4
    )  # step limited to 2
    clock.t += 1
    assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "executed"
    assert client.get("/v1/detectors/keda/rollback").json()["desired_replicas"] == 5  # bounded
    clock.t += 1
    assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "refused"
    svc.stop()


class _Receiver(BaseHTTPRequestHandler):
    calls: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append((dict(self.headers), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_is_signed_retried_and_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.calls = []
    _Receiver.fail_first = 2
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    try:
        svc, _ = _service(
            tmp_path,
            Clock(),
            hook={
                "kind": "webhook",
                "url": f"http://127.0.0.1:{server.server_port}/hook",
                "secret_env": "HOOK_SECRET",
                "retries": 3,
                "backoff": 0.05,
            },
        )
        assert (
            svc.request_action(
                svc.config.action("rollback"), trigger="t", evidence=GOOD, context={"score": 0.99}
            )
            == "executed"
        )
        assert len(_Receiver.calls) == 3
        keys = {h["Idempotency-Key"] for h, _ in _Receiver.calls}
        assert len(keys) == 1
        headers, body = _Receiver.calls[-1]
        key = headers["Idempotency-Key"]
        assert signing.verify(b"s3cret", headers[signing.HEADER], key, body, now=time.time())
        assert "X-Sloplane-Signature" not in headers  # the deprecated one is opt-in
        assert json.loads(body)["action"] == "rollback"
        svc.stop()
    finally:
        server.shutdown()
        server.server_close()


def test_failed_command_is_audited_as_failed(tmp_path: Path) -> None:
    svc, _ = _service(
        tmp_path, Clock(), hook={"kind": "command", "argv": ["/bin/sh", "-c", "exit 3"]}
    )
    assert (
        svc.request_action(svc.config.action("rollback"), trigger="t", evidence=GOOD, context={})
        == "failed"
    )
    (d,) = list_decisions(svc.store)
    assert "exited 3" in d.reason
    svc.stop()


def test_a_config_without_guards_is_dry_run(tmp_path: Path) -> None:
    marker = tmp_path / "hook.log"
    cfg = parse_config(
        {
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'audit.db'}",
            "actions": [
                {"name": "a", "hook": {"kind": "command", "argv": ["/bin/sh", "-c", f"> {marker}"]}}
            ],
        }
    )
    assert cfg.guards.dry_run is True
    svc = Service(cfg, clock=Clock())
    assert svc.request_action(cfg.action("a"), trigger="t", evidence=GOOD, context={}) == "dry_run"
    assert not marker.exists()
    svc.stop()


def test_a_tick_before_the_next_step_asks_prometheus_nothing(tmp_path: Path) -> None:
    """interval < step used to query an empty range, a bad_data error taken as an outage."""
    clock = Clock()
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},  # any query would fail
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'audit.db'}",
            "watches": [{"name": "w", "query": "up", "step": "1m"}],
        }
    )
    svc = Service(cfg, clock=clock)
    ws = svc.watches["w"]
    ws.polled_until = math.floor(clock.t / 60) * 60
    clock.t = ws.polled_until + 30
    svc.tick_watch("w")
    assert ws.error is None and not any(svc.counters.values())  # nothing counted
    clock.t += 30  # the next point is due: now the (failing) query is made
    svc.tick_watch("w")
    assert ws.error is not None
    svc.stop()


def test_series_whose_labels_read_alike_get_their_own_detectors(tmp_path: Path) -> None:
    """{a="1,b=2"} and {a="1", b="2"} once shared a key, so one detector saw both series."""
    clock = Clock()
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'audit.db'}",
            "watches": [{"name": "w", "query": "up", "step": "1m", "detector": "ewma"}],
        }
    )
    points = [(clock.t - 60.0 * i, 1.0) for i in range(5, 0, -1)]
    alike = [make_series({"a": "1,b=2"}, points), make_series({"a": "1", "b": "2"}, points)]
    svc = Service(cfg, clock=clock, prom=FixedProm(alike))
    svc.tick_watch("w")
    series = svc.watches["w"].series
    assert sorted(series) == ['{a="1", b="2"}', '{a="1,b=2"}']
    assert len({id(st.detector) for st in series.values()}) == 2
