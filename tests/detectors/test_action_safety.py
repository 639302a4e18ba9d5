"""Issue 12, actions: approvals re-run the guards, every attempt counts, hooks are contained.

Real commands, a real SQLite audit log and real processes (a ``detect`` process
killed with SIGKILL during a hook); Prometheus is the scripted ``FixedProm``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from sloplane.detect.audit import list_decisions
from sloplane.detect.config import parse_config
from sloplane.detect.guards import Evidence
from sloplane.detect.service import SeriesState, Service
from sloplane.detectors.labels import format_labels
from tests.detectors.fakes import FixedProm, Scripted, series

T0 = 1_700_000_000.0
GOOD = Evidence(breaches=3, required_breaches=3)
MIN = 60.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _raw(tmp_path: Path, hook: dict[str, Any], **action: Any) -> dict[str, Any]:
    return {
        "prometheus": {"url": "http://127.0.0.1:1"},
        "alertmanager": {"url": None},
        "database": f"sqlite:///{tmp_path / 'audit.db'}",
        "guards": {"cooldown": "15m", "max_actions_per_hour": 3, "dry_run": False},
        "actions": [{"name": "rollback", "target": "deploy/api", "hook": hook, **action}],
    }


def _marker_hook(tmp_path: Path, extra: str = "") -> dict[str, Any]:
    return {
        "kind": "command",
        "argv": ["/bin/sh", "-c", f"echo ran >> {tmp_path / 'hook.log'}{extra}"],
    }


def _runs(tmp_path: Path) -> int:
    marker = tmp_path / "hook.log"
    return marker.read_text().count("ran") if marker.exists() else 0


@pytest.fixture()
def services() -> Iterator[list[Service]]:
    made: list[Service] = []
    yield made
    for svc in made:
        svc.stop()


# --- approvals --------------------------------------------------------------------------


def test_approving_three_stale_requests_at_once_runs_one(
    tmp_path: Path, services: list[Service]
) -> None:
    """Pending at +0, +16 and +33 minutes, all approved at +34: the cooldown admits one."""
    clock = Clock()
    cfg = parse_config(_raw(tmp_path, _marker_hook(tmp_path), require_approval=True))
    svc = Service(cfg, clock=clock, prom=FixedProm())
    services.append(svc)
    a = cfg.action("rollback")
    for minute in (0, 16, 33):
        clock.t = T0 + minute * MIN
        assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == ("pending_approval")
    clock.t = T0 + 34 * MIN
    outcomes = [svc.approve(approval.id, True) for approval in svc.store.approvals("pending")]
    assert outcomes == ["executed", "refused", "refused"]
    assert _runs(tmp_path) == 1
    refused = list_decisions(svc.store, outcome="refused")
    assert all(d.reason.startswith("at approval: cooldown: last action 0s ago") for d in refused)


def _firing_watch_service(
    tmp_path: Path, clock: Clock, prom: FixedProm, **action: Any
) -> tuple[Service, SeriesState]:
    raw = _raw(tmp_path, _marker_hook(tmp_path), require_approval=True, **action)
    raw["watches"] = [
        {"name": "w", "query": "up", "step": "1m", "consecutive": 1, "actions": ["rollback"]}
    ]
    svc = Service(parse_config(raw), clock=clock, prom=prom)
    labels = {"instance": "a"}
    st = svc.watches["w"].series[format_labels(labels)] = SeriesState(labels, Scripted([1.0]))
    prom.series = [series(labels, [(clock.t - MIN, 5.0)])]
    return svc, st


def test_an_approval_is_refused_while_prometheus_is_down(
    tmp_path: Path, services: list[Service]
) -> None:
    clock = Clock()
    prom = FixedProm()
    svc, st = _firing_watch_service(tmp_path, clock, prom)
    services.append(svc)
    svc.tick_watch("w")  # the series fires; its action waits for approval
    _wait(lambda: bool(svc.store.approvals("pending")), "the approval request")
    assert st.firing_since is not None
    (approval,) = svc.store.approvals("pending")
    assert approval.details["watch"] == "w"

    clock.t += MIN
    prom.error = "connection refused"
    svc.tick_watch("w")
    assert svc.approve(approval.id, True) == "refused"
    (last,) = list_decisions(svc.store, limit=1)
    assert (
        last.reason
        == "at approval: data not trustworthy: http://fixed-prometheus: connection refused"
    )
    assert _runs(tmp_path) == 0


def test_an_approval_with_fresh_data_runs(tmp_path: Path, services: list[Service]) -> None:
    clock = Clock()
    prom = FixedProm()
    svc, _ = _firing_watch_service(tmp_path, clock, prom)
    services.append(svc)
    svc.tick_watch("w")
    _wait(lambda: bool(svc.store.approvals("pending")), "the approval request")
    (approval,) = svc.store.approvals("pending")
    assert svc.approve(approval.id, True) == "executed"
    assert _runs(tmp_path) == 1


def test_an_approval_plans_the_scale_again_from_the_current_replicas(
    tmp_path: Path, services: list[Service]
) -> None:
    """Planned 2 -> 4; meanwhile the target reached 6: approving must not scale it down."""
    clock = Clock()
    scaling = {"min_replicas": 2, "max_replicas": 6, "max_step": 2, "step": 3}
    cfg = parse_config(_raw(tmp_path, {"kind": "keda"}, require_approval=True, scaling=scaling))
    svc = Service(cfg, clock=clock, prom=FixedProm())
    services.append(svc)
    a = cfg.action("rollback")
    assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "pending_approval"
    (approval,) = svc.store.approvals("pending")
    assert approval.details["replicas"] == 4
    svc.store.set_scale("rollback", 6, clock.t)
    clock.t += MIN
    assert svc.approve(approval.id, True) == "refused"
    (last,) = list_decisions(svc.store, limit=1)
    assert last.reason == "at approval: at bound: 6 replicas (bounds 2..6)"
    assert svc.store.scale("rollback") == 6


def test_pending_approvals_expire(tmp_path: Path, services: list[Service]) -> None:
    clock = Clock()
    raw = _raw(tmp_path, _marker_hook(tmp_path), require_approval=True)
    raw["approval"] = {"expire_after": "30m"}
    svc = Service(parse_config(raw), clock=clock, prom=FixedProm())
    services.append(svc)
    a = svc.config.action("rollback")
    for _ in range(2):
        assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == ("pending_approval")
        clock.t += 16 * MIN
    first, second = svc.store.approvals("pending")
    clock.t = T0 + 31 * MIN  # the first is 31 minutes old, the second 15
    svc.maintain()
    assert [r.id for r in svc.store.approvals("pending")] == [second.id]
    assert svc.approve(first.id, True) is None  # no longer pending: the API answers 404
    (expired,) = [d for d in list_decisions(svc.store) if "expired" in d.reason]
    assert expired.reason == f"approval #{first.id} expired unanswered after 1800s"
    clock.t = T0 + 47 * MIN  # the second has expired too, unswept: approving expires it
    assert svc.approve(second.id, True) is None
    assert _runs(tmp_path) == 0
    assert [r.status for r in svc.store.approvals(None)] == ["expired", "expired"]


# --- every attempt counts ---------------------------------------------------------------


def test_a_failing_hook_runs_once_per_cooldown(tmp_path: Path, services: list[Service]) -> None:
    """Six requests in five minutes under a 15-minute cooldown: one attempt, five refusals."""
    clock = Clock()
    cfg = parse_config(_raw(tmp_path, _marker_hook(tmp_path, "; exit 1")))
    svc = Service(cfg, clock=clock, prom=FixedProm())
    services.append(svc)
    outcomes = []
    for _ in range(6):
        outcomes.append(
            svc.request_action(cfg.action("rollback"), trigger="t", evidence=GOOD, context={})
        )
        clock.t += MIN
    assert outcomes == ["failed"] + ["refused"] * 5
    assert _runs(tmp_path) == 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_timed_out_hook_loses_its_whole_process_group_and_counts(
    tmp_path: Path, services: list[Service]
) -> None:
    """The wrapper's child (detached from its output) must not finish the job later."""
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}; sleep 300"
    hook = {"kind": "command", "argv": ["/bin/sh", "-c", script], "timeout": "1s"}
    clock = Clock()
    cfg = parse_config(_raw(tmp_path, hook))
    svc = Service(cfg, clock=clock, prom=FixedProm())
    services.append(svc)
    a = cfg.action("rollback")
    try:
        assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "failed"
        (d,) = list_decisions(svc.store)
        assert d.reason == "command /bin/sh timed out after 1s"
        child = int(pidfile.read_text())
        _wait(lambda: not _alive(child), "the hook's child to be killed", timeout=10)
        clock.t += MIN
        assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "refused"
    finally:
        if pidfile.exists() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


# --- the audit log survives the process ----------------------------------------------------

CHILD = """
import json, sys
from sloplane.detect.config import parse_config
from sloplane.detect.guards import Evidence
from sloplane.detect.service import Service
cfg = parse_config(json.loads(sys.argv[1]))
svc = Service(cfg)
svc.request_action(cfg.action("rollback"), trigger="t", evidence=Evidence(breaches=1), context={})
"""


@pytest.mark.integration  # a second interpreter runs the service, and is killed
def test_a_hook_interrupted_by_sigkill_is_audited_and_never_rerun(
    tmp_path: Path, services: list[Service]
) -> None:
    hook_pid = tmp_path / "hook.pid"
    raw = _raw(tmp_path, _marker_hook(tmp_path, f"; echo $$ > {hook_pid}; exec sleep 300"))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(raw)], env=env)
    try:
        _wait(lambda: hook_pid.exists() and hook_pid.read_text().strip() != "", "the hook")
        svc = Service(parse_config(raw), prom=FixedProm())
        services.append(svc)
        (intent,) = list_decisions(svc.store)
        assert (intent.outcome, intent.reason) == ("started", "hook running")
        child.kill()  # SIGKILL: no chance to write the outcome
        child.wait(timeout=20)
        assert svc.gate.recover_unfinished() == 1
        (d,) = list_decisions(svc.store)
        assert d.outcome == "unknown"
        assert d.reason.startswith("unknown outcome: ") and "not re-run" in d.reason
        assert "holder" not in d.details
        assert svc.gate.recover_unfinished() == 0
        a = svc.config.action("rollback")
        assert svc.request_action(a, trigger="t", evidence=GOOD, context={}) == "refused"
        assert _runs(tmp_path) == 1
    finally:
        if child.poll() is None:
            child.kill()
        if hook_pid.exists() and hook_pid.read_text().strip():
            os.kill(int(hook_pid.read_text()), signal.SIGKILL)


# --- hooks run off the poll and HTTP threads -----------------------------------------------


def test_a_running_hook_holds_up_neither_polls_nor_metrics(
    tmp_path: Path, services: list[Service]
) -> None:
    go, started = tmp_path / "go", tmp_path / "started"
    wait_for_go = f"touch {started}; while [ ! -f {go} ]; do sleep 0.02; done"
    hook = {"kind": "command", "argv": ["/bin/sh", "-c", wait_for_go], "timeout": "60s"}
    clock = Clock()
    prom = FixedProm()
    raw = _raw(tmp_path, hook)
    raw["watches"] = [
        {"name": "w", "query": "up", "step": "1m", "consecutive": 1, "actions": ["rollback"]}
    ]
    svc = Service(parse_config(raw), clock=clock, prom=prom)
    services.append(svc)
    labels = {"instance": "a"}
    svc.watches["w"].series[format_labels(labels)] = SeriesState(labels, Scripted([1.0]))
    prom.series = [series(labels, [(clock.t - MIN, 5.0)])]
    try:
        poll = threading.Thread(target=svc.tick_watch, args=["w"], daemon=True)
        poll.start()
        _wait(started.exists, "the hook to start")
        poll.join(timeout=20)
        assert not poll.is_alive(), "the poll waited for the hook"
        scraped: list[bytes] = []
        scrape = threading.Thread(
            target=lambda: scraped.append(generate_latest(svc.registry)), daemon=True
        )
        scrape.start()
        scrape.join(timeout=20)
        assert scraped and b'sloplane_anomaly_firing{instance="a",watch="w"} 1.0' in scraped[0]
        assert not go.exists()  # all of this while the hook still ran
    finally:
        go.touch()
    _wait(lambda: bool(list_decisions(svc.store, outcome="executed")), "the hook's outcome")


# --- the limits hold whatever happens ----------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    asks=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1500), st.booleans()), min_size=1, max_size=12
    )
)
def test_attempts_never_exceed_the_cooldown_or_the_hourly_limit(
    tmp_path_factory: pytest.TempPathFactory, asks: list[tuple[float, bool]]
) -> None:
    """Requests at any times, hooks that fail or succeed: the attempts (executed or
    failed) are a cooldown apart and at most ``max_actions_per_hour`` in any hour."""
    tmp = tmp_path_factory.mktemp("limits")
    code = tmp / "code"
    hook = _marker_hook(tmp, f"; exit $(cat {code})")
    raw = _raw(tmp, hook)
    raw["guards"].update(cooldown="10m", max_actions_per_hour=3)
    clock = Clock()
    svc = Service(parse_config(raw), clock=clock, prom=FixedProm())
    try:
        for gap, fails in asks:
            clock.t += gap
            code.write_text("1" if fails else "0")
            svc.request_action(
                svc.config.action("rollback"), trigger="t", evidence=GOOD, context={}
            )
        attempts = sorted(
            d.at for d in list_decisions(svc.store) if d.outcome in ("executed", "failed")
        )
        assert len(attempts) == _runs(tmp)
        assert all(b - a >= 600 for a, b in itertools.pairwise(attempts))
        assert all(sum(1 for t in attempts if s <= t < s + 3600) <= 3 for s in attempts)
    finally:
        svc.stop()
