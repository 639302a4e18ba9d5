"""The detector store on SQLite and on the machine's real PostgreSQL, with the same test bodies.

Every test runs twice through the ``db_url`` fixture: once on a SQLite file and
once on a fresh PostgreSQL database that is dropped afterwards. What is checked:
the alert outbox across restarts (a new Store or Service on the same URL), the
audit log of decisions taken and refused and its HTTP API, cooldowns and hourly
limits counted from the stored log, approvals, deploy times and desired scales.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from sloplane.detect.audit import list_decisions
from sloplane.detect.config import parse_config
from sloplane.detect.guards import Evidence
from sloplane.detect.routes import ApiAuth, create_app
from sloplane.detect.service import SeriesState, Service
from sloplane.detect.store import NAME_MAX, Store
from sloplane.detectors.detectors import make_detector
from sloplane.errors import SpecError
from tests.support import processes
from tests.support.postgres import database_exists, ensure_postgres, fresh_database
from tests.support.processes import free_port, run_alertmanager

GOOD = Evidence(breaches=3, required_breaches=3)
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_700_000_000.123456  # a fraction of a second must survive the round trip exactly

AM_CONFIG = """
route:
  receiver: default
  group_wait: 1s
receivers:
  - name: default
"""


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    problem = ensure_postgres()
    if problem:
        pytest.skip(problem)
    with fresh_database("sloplane_detect") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    assert not database_exists(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database; PostgreSQL's is dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'detect.db'}"
    else:
        with _postgres_database() as url:
            yield url


@pytest.fixture()
def pg_url() -> Iterator[str]:
    with _postgres_database() as url:
        yield url


@pytest.fixture()
def stores() -> Iterator[Callable[[str], Store]]:
    """Open Stores that are all disposed at teardown (a restart is simply a new Store)."""
    opened: list[Store] = []

    def open_store(url: str) -> Store:
        opened.append(Store(url))
        return opened[-1]

    yield open_store
    for s in opened:
        s.engine.dispose()


def _sql(db_url: str, query: str) -> list[tuple[Any, ...]]:
    """Read the database behind the Store directly, not through SQLAlchemy."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        with sqlite3.connect(str(url.database)) as conn:
            return list(conn.execute(query).fetchall())
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database
    ) as pg:
        return list(pg.execute(query).fetchall())  # type: ignore[arg-type]


def _config(db_url: str, tmp_path: Path, am_url: str | None = None) -> dict[str, Any]:
    def command(script: str) -> dict[str, Any]:
        return {"kind": "command", "argv": ["/bin/sh", "-c", script]}

    marker = tmp_path / "hook.log"
    return {
        "prometheus": {"url": "http://127.0.0.1:1"},
        "alertmanager": {"url": am_url},
        "database": db_url,
        "guards": {"cooldown": "10m", "max_actions_per_hour": 2, "dry_run": False},
        "api": {"read_only": True},
        "watches": [{"name": "latency", "query": "test_latency_seconds", "actions": []}],
        "actions": [
            {"name": "rollback", "target": "deploy/api", "hook": command(f"echo ran >> {marker}")},
            {"name": "restart", "target": "deploy/api", "hook": command(f"echo ran >> {marker}")},
            {"name": "broken", "target": "deploy/db", "hook": command("echo nope >&2; exit 3")},
            {
                "name": "careful",
                "target": "deploy/web",
                "require_approval": True,
                "hook": command(f"echo ran >> {marker}"),
            },
            {
                "name": "scale",
                "target": "deploy/worker",
                "hook": {"kind": "keda"},
                "scaling": {"min_replicas": 2, "max_replicas": 6, "max_step": 2, "step": 3},
            },
            {
                "name": "rehearse",
                "target": "deploy/batch",
                "dry_run": True,
                "hook": command(f"echo ran >> {marker}"),
            },
        ],
    }


def _service(db_url: str, tmp_path: Path, clock: Clock, am_url: str | None = None) -> Service:
    return Service(parse_config(_config(db_url, tmp_path, am_url)), clock=clock)


def _runs(tmp_path: Path) -> int:
    marker = tmp_path / "hook.log"
    return marker.read_text().count("ran") if marker.exists() else 0


def _ask(svc: Service, action: str, evidence: Evidence = GOOD, **context: Any) -> str:
    return svc.request_action(
        svc.config.action(action), trigger=f"test {action}", evidence=evidence, context=context
    )


# --- the outbox ----------------------------------------------------------------------------


@pytest.mark.integration
def test_outbox_rows_wait_in_order_and_survive_a_new_store(
    db_url: str, stores: Callable[[str], Store]
) -> None:
    first = stores(db_url)
    payloads = [[{"labels": {"alertname": "SloplaneAnomaly", "n": str(i)}}] for i in range(3)]
    ids = [first.enqueue(p, T0 + i) for i, p in enumerate(payloads)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    first.mark_failed(ids[0], "connection refused " * 200)
    first.engine.dispose()  # the process goes away

    second = stores(db_url)
    rows = second.pending()
    assert [r.id for r in rows] == ids
    assert [r.created for r in rows] == [T0, T0 + 1, T0 + 2]
    assert rows[0].attempts == 1 and rows[0].last_error.startswith("connection refused")
    assert len(rows[0].last_error) == 2000  # long errors are cut, not refused by the column
    assert [r.attempts for r in rows[1:]] == [0, 0]
    assert [json.loads(r.payload) for r in rows] == payloads
    second.mark_delivered(ids[0], T0 + 10)
    assert [r.id for r in second.pending(limit=1)] == [ids[1]]
    second.engine.dispose()

    third = stores(db_url)
    assert [r.id for r in third.pending()] == ids[1:]
    assert _sql(db_url, "SELECT id, attempts, delivered FROM detect_outbox ORDER BY id") == [
        (ids[0], 2, T0 + 10),
        (ids[1], 0, None),
        (ids[2], 0, None),
    ]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_alerts_held_while_alertmanager_is_down_are_delivered_after_a_restart(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    am_port = free_port()  # nothing listens here until AlertManager is started below
    clock = Clock(time.time())  # AlertManager drops alerts whose endsAt has passed
    svc = _service(db_url, tmp_path, clock, am_url=f"http://127.0.0.1:{am_port}")
    w = svc.config.watches[0]
    for instance in ("a", "b"):
        st = SeriesState(
            {"instance": instance},
            make_detector("ewma"),
            last_t=clock.t,
            last_value=5.0,
            last_score=0.97,
            consecutive=3,
            firing_since=clock.t,
        )
        svc.outbox.send(w, st, clock.t, firing=True)
    assert svc.deliver_outbox() == 0
    assert [r.attempts for r in svc.store.pending()] == [3, 0]  # in order: the head blocks
    svc.stop()  # the service restarts while AlertManager is still down

    monkeypatch.setattr(processes, "free_port", lambda: am_port)
    with run_alertmanager(AM_CONFIG) as am:
        svc2 = _service(db_url, tmp_path, clock, am_url=am.url)
        try:
            assert svc2.deliver_outbox() == 2
            assert svc2.store.pending() == []
            assert sorted(a["labels"]["instance"] for a in am.alerts()) == ["a", "b"]
        finally:
            svc2.stop()
    assert _sql(db_url, "SELECT count(*) FROM detect_outbox WHERE delivered IS NOT NULL") == [(2,)]


# --- the audit log and its API --------------------------------------------------------------


@pytest.mark.integration
def test_every_decision_is_audited_and_served_by_the_api(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    svc = _service(db_url, tmp_path, clock)
    client = TestClient(create_app(svc, ApiAuth(TOKEN)))
    assert _ask(svc, "rollback", score=0.97, series={"instance": "a"}) == "executed"
    clock.t += 1
    assert _ask(svc, "restart") == "refused"  # same target: the rollback's cooldown holds
    clock.t += 1
    stale = Evidence(data_error="newest point is 900s old", breaches=3, required_breaches=3)
    assert _ask(svc, "broken", stale) == "refused"
    clock.t += 1
    assert _ask(svc, "broken") == "failed"
    clock.t += 1
    assert _ask(svc, "rehearse") == "dry_run"
    clock.t += 1
    assert _ask(svc, "scale") == "executed"
    clock.t += 1
    assert _ask(svc, "careful") == "pending_approval"
    assert _runs(tmp_path) == 1

    (pending,) = client.get("/v1/detectors/approvals").json()
    url = f"/v1/detectors/approvals/{pending['id']}"
    clock.t += 1
    assert client.post(f"{url}/approve", headers=AUTH).json()["outcome"] == "executed"
    assert client.post(f"{url}/reject", headers=AUTH).status_code == 404
    assert _runs(tmp_path) == 2

    got = client.get("/v1/detectors/decisions").json()
    assert [(d["action"], d["outcome"]) for d in got] == [
        ("careful", "executed"),
        ("careful", "pending_approval"),
        ("scale", "executed"),
        ("rehearse", "dry_run"),
        ("broken", "failed"),
        ("broken", "refused"),
        ("restart", "refused"),
        ("rollback", "executed"),
    ]
    ids = [d["id"] for d in got]
    assert ids == sorted(ids, reverse=True)
    by_action = {(d["action"], d["outcome"]): d for d in got}
    first = by_action[("rollback", "executed")]
    assert first["at"] == T0 and first["target"] == "deploy/api"
    assert first["trigger"] == "test rollback" and first["reason"] == ""
    assert first["details"]["score"] == 0.97 and first["details"]["series"] == {"instance": "a"}
    assert first["details"]["result"]["returncode"] == 0
    assert by_action[("restart", "refused")]["reason"].startswith("cooldown: last action 1s ago")
    assert "data not trustworthy" in by_action[("broken", "refused")]["reason"]
    assert "exited 3: nope" in by_action[("broken", "failed")]["reason"]
    scaled = by_action[("scale", "executed")]["details"]
    assert (scaled["current_replicas"], scaled["replicas"]) == (2, 4)
    assert by_action[("careful", "executed")]["trigger"] == (
        f"approval #{pending['id']}: test careful"
    )

    def query(**params: Any) -> list[tuple[str, str]]:
        resp = client.get("/v1/detectors/decisions", params=params)
        assert resp.status_code == 200, resp.text
        return [(d["action"], d["outcome"]) for d in resp.json()]

    assert query(outcome="refused") == [("broken", "refused"), ("restart", "refused")]
    assert query(target="deploy/api") == [("restart", "refused"), ("rollback", "executed")]
    assert query(action="broken", outcome="failed") == [("broken", "failed")]
    assert query(since=T0 + 5) == [
        ("careful", "executed"),
        ("careful", "pending_approval"),
        ("scale", "executed"),
    ]
    assert query(limit=2) == [("careful", "executed"), ("careful", "pending_approval")]
    assert query(target="nothing-here") == []
    assert client.get("/v1/detectors/decisions", params={"limit": 0}).status_code == 422
    svc.stop()

    # a restarted service serves the same log, from the database
    svc2 = _service(db_url, tmp_path, clock)
    again = TestClient(create_app(svc2, ApiAuth(TOKEN))).get("/v1/detectors/decisions").json()
    assert again == got
    assert _sql(db_url, "SELECT count(*) FROM detect_decisions") == [(8,)]
    svc2.stop()


@pytest.mark.integration
def test_a_long_trigger_and_non_finite_details_are_stored(db_url: str, tmp_path: Path) -> None:
    """A series with many labels makes a long trigger; a NaN value is stored as null.

    PostgreSQL refused both (a varchar(400) trigger; ``NaN`` is not JSON), which lost
    the audit record of an action that had already run, so its cooldown never counted.
    """
    clock = Clock()
    svc = _service(db_url, tmp_path, clock)
    labels = {f"label_{i:02d}": f"value-{i:02d}-" + "x" * 20 for i in range(20)}
    trigger = "anomaly latency{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    assert len(trigger) > 800
    outcome = svc.request_action(
        svc.config.action("rollback"),
        trigger=trigger,
        evidence=GOOD,
        context={"series": labels, "value": math.nan, "bounds": [-math.inf, 1.0]},
    )
    assert outcome == "executed" and _runs(tmp_path) == 1
    (d,) = list_decisions(svc.store)
    assert d.trigger == trigger and d.details["series"] == labels
    assert d.details["value"] is None and d.details["bounds"] == [None, 1.0]
    body = TestClient(create_app(svc)).get("/v1/detectors/decisions")
    assert body.status_code == 200 and body.json()[0]["trigger"] == trigger
    clock.t += 60
    assert _ask(svc, "rollback") == "refused"  # the executed action counts for the cooldown
    assert svc.store.add_approval(
        now=clock.t, action="careful", target="deploy/web", trigger=trigger, details={}
    )
    assert svc.store.approvals("pending")[0].trigger == trigger
    svc.stop()


# --- cooldowns and hourly limits ------------------------------------------------------------


@pytest.mark.integration
def test_cooldown_and_hourly_limit_hold_across_restarts(db_url: str, tmp_path: Path) -> None:
    clock = Clock()

    def restarted() -> Service:
        return _service(db_url, tmp_path, clock)

    svc = restarted()
    assert _ask(svc, "rollback") == "executed"
    svc.stop()

    clock.t += 60
    svc = restarted()
    assert _ask(svc, "rollback") == "refused"
    assert _ask(svc, "restart") == "refused"  # another action on the same target
    svc.stop()

    clock.t += 10 * 60
    svc = restarted()
    assert _ask(svc, "rollback") == "executed"
    svc.stop()

    clock.t += 11 * 60  # past the cooldown, but two actions in the last hour already
    svc = restarted()
    assert _ask(svc, "restart") == "refused"
    (last,) = list_decisions(svc.store, limit=1)
    assert last.reason == "hourly limit: 2 actions in the last hour, maximum 2"
    # refused decisions are not actions: they start no cooldown
    assert svc.store.actions_since("deploy/api", 0) == [T0, T0 + 660]
    svc.stop()

    clock.t = T0 + 3600 + 1  # the first action has left the hour
    svc = restarted()
    assert _ask(svc, "restart") == "executed"
    assert _runs(tmp_path) == 3
    assert svc.store.actions_since("deploy/api", T0 + 1) == [T0 + 660, T0 + 3601]
    svc.stop()


@pytest.mark.integration
def test_dry_runs_and_pending_approvals_count_against_the_target(
    db_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    svc = _service(db_url, tmp_path, clock)
    assert _ask(svc, "rehearse") == "dry_run"
    assert _ask(svc, "careful") == "pending_approval"
    clock.t += 1
    assert _ask(svc, "rehearse") == "refused"
    assert _ask(svc, "careful") == "refused"
    assert _ask(svc, "broken") == "failed"
    clock.t += 1
    assert _ask(svc, "broken") == "refused"  # a failed attempt counts too (issue 12)
    assert svc.store.actions_since("deploy/batch", 0) == [T0]
    assert svc.store.actions_since("deploy/web", 0) == [T0]
    assert svc.store.actions_since("deploy/db", 0) == [T0 + 1]
    svc.stop()


# --- approvals, deploys, desired scales -----------------------------------------------------


@pytest.mark.integration
def test_approvals_deploys_and_scales_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    svc = _service(db_url, tmp_path, clock)
    assert _ask(svc, "careful") == "pending_approval"
    assert _ask(svc, "scale") == "executed"
    client = TestClient(create_app(svc, ApiAuth(TOKEN)))
    deploy = client.post("/v1/detectors/deploys", json={"target": "checkout"}, headers=AUTH)
    assert deploy.status_code == 200
    deployed_at = deploy.json()["time"]
    at = {"target": "search", "time": T0 - 30}
    assert client.post("/v1/detectors/deploys", json=at, headers=AUTH).status_code == 200
    svc.stop()

    clock.t += 1
    svc2 = _service(db_url, tmp_path, clock)
    client = TestClient(create_app(svc2, ApiAuth(TOKEN)))
    assert svc2.store.deploy_time("checkout") == deployed_at
    assert svc2.store.deploy_time("search") == T0 - 30
    assert svc2.store.deploy_time("unknown") is None
    assert client.get("/v1/detectors/keda/scale").json()["desired_replicas"] == 4
    (pending,) = client.get("/v1/detectors/approvals").json()
    assert pending["action"] == "careful" and pending["status"] == "pending"
    approve = client.post(f"/v1/detectors/approvals/{pending['id']}/approve", headers=AUTH)
    assert approve.json()["outcome"] == "executed" and _runs(tmp_path) == 1
    assert client.get("/v1/detectors/approvals").json() == []
    assert [a["status"] for a in client.get("/v1/detectors/approvals?status=").json()] == [
        "approved"
    ]
    # the next deploy replaces the time; the next scale moves on from the stored one
    at = {"target": "search", "time": T0}
    assert client.post("/v1/detectors/deploys", json=at, headers=AUTH).status_code == 200
    assert svc2.store.deploy_time("search") == T0
    clock.t += 3600
    assert _ask(svc2, "scale") == "executed"
    assert client.get("/v1/detectors/keda/scale").json()["desired_replicas"] == 6
    # a target longer than the column is refused alike on both backends, not a 500
    long_target = {"target": "x" * 201, "time": T0}
    resp = client.post("/v1/detectors/deploys", json=long_target, headers=AUTH)
    assert resp.status_code == 422
    svc2.stop()


def test_names_longer_than_the_columns_are_refused_at_load() -> None:
    """detect.yaml cannot name an action or target that only SQLite would store."""
    hook = {"kind": "keda"}
    long = "a" * (NAME_MAX + 1)
    for action in ({"name": long, "hook": hook}, {"name": "ok", "target": long, "hook": hook}):
        with pytest.raises(SpecError) as err:
            parse_config({"alertmanager": {"url": None}, "actions": [action]})
        assert "at most 200 characters" in str(err.value)
    parse_config({"actions": [{"name": "a" * NAME_MAX, "target": "t" * NAME_MAX, "hook": hook}]})


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_concurrent_writers_on_two_stores_lose_nothing(
    db_url: str, stores: Callable[[str], Store]
) -> None:
    """Two Stores on one URL (two processes' worth of engines), four threads each."""
    a, b = stores(db_url), stores(db_url)
    errors: list[BaseException] = []
    per_thread = 20

    def write(store: Store, worker: int) -> None:
        try:
            for i in range(per_thread):
                store.record(
                    at=T0 + i,
                    action=f"w{worker}",
                    target="deploy/api",
                    trigger=f"worker {worker} #{i}",
                    outcome="executed",
                    details={"worker": worker, "i": i},
                )
                store.enqueue([{"worker": worker, "i": i}], T0 + i)
                store.actions_since("deploy/api", T0)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(a if n % 2 else b, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    decisions = list_decisions(a, limit=10_000)
    assert len(decisions) == 8 * per_thread == len({d.id for d in decisions})
    for worker in range(8):
        mine = [d.details["i"] for d in decisions if d.action == f"w{worker}"]
        assert mine == list(range(per_thread))[::-1]  # newest first, per writer in order
    assert len(b.pending(limit=1000)) == 8 * per_thread
    assert len(a.actions_since("deploy/api", T0)) == 8 * per_thread


# --- two processes on one database ------------------------------------------------------

_ONE_PROCESS = """
import json, sys, time
from sloplane.detect.config import parse_config
from sloplane.detect.guards import Evidence
from sloplane.detect.service import Service

raw, start = json.loads(sys.argv[1]), float(sys.argv[2])
svc = Service(parse_config(raw))
while time.time() < start:
    time.sleep(0.005)
outcome = svc.request_action(
    svc.config.action("slow"),
    trigger="race",
    evidence=Evidence(breaches=3, required_breaches=3),
    context={},
)
svc.stop()
print(outcome)
"""


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_two_processes_on_one_database_act_once(db_url: str, tmp_path: Path) -> None:
    """Two ``detect serve`` processes see the same anomaly at the same moment: one acts,
    the other waits for its lease, then finds the action in the log and its cooldown refuses."""
    import subprocess
    import sys

    marker = tmp_path / "slow.log"
    raw = _config(db_url, tmp_path)
    raw["actions"].append(
        {
            "name": "slow",
            "target": "deploy/api",
            "hook": {
                "kind": "command",
                "argv": ["/bin/sh", "-c", f"sleep 1; echo ran >> {marker}"],
                "timeout": "10s",
            },
        }
    )
    Service(parse_config(raw)).stop()  # create the tables before the race
    start = time.time() + 3  # both interpreters are up and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ONE_PROCESS, json.dumps(raw), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    outcomes = sorted(out.strip() for out, _ in results)
    assert outcomes == ["executed", "refused"], results
    assert marker.read_text().count("ran") == 1
    svc = Service(parse_config(raw))
    refused, executed = list_decisions(svc.store, action="slow")
    assert executed.outcome == "executed" and refused.outcome == "refused"
    assert refused.reason.startswith("cooldown")
    assert svc.store.lease_holder("deploy/api") is None  # both released their leases
    svc.stop()


@pytest.mark.integration
def test_a_lease_is_exclusive_until_it_expires_or_is_released(
    db_url: str, stores: Callable[[str], Store]
) -> None:
    a, b = stores(db_url), stores(db_url)
    assert a.try_lease("deploy/api", "a", T0, 10)
    assert not b.try_lease("deploy/api", "b", T0 + 5, 10)
    assert a.try_lease("deploy/api", "a", T0 + 5, 10)  # the holder renews
    assert b.try_lease("deploy/web", "b", T0, 10)  # other targets are independent
    b.release_lease("deploy/api", "b")  # not b's to release
    assert a.lease_holder("deploy/api") == ("a", T0 + 15)
    assert b.try_lease("deploy/api", "b", T0 + 15.5, 10)  # expired: a crashed, say
    a.release_lease("deploy/api", "b")
    assert a.lease_holder("deploy/api") is None


@pytest.mark.integration
def test_concurrent_lease_takers_on_two_stores_get_one_lease(
    db_url: str, stores: Callable[[str], Store]
) -> None:
    a, b = stores(db_url), stores(db_url)
    a.try_lease("warm", "x", T0, 1)  # create tables and connections before the race
    b.lease_holder("warm")
    barrier = threading.Barrier(8)
    won: list[str] = []
    errors: list[BaseException] = []

    def take(store: Store, name: str) -> None:
        try:
            barrier.wait(timeout=30)
            if store.try_lease("deploy/api", name, T0, 60):
                won.append(name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(a if n % 2 else b, f"t{n}")) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(won) == 1 and a.lease_holder("deploy/api") == (won[0], T0 + 60)


@pytest.mark.integration
def test_a_lease_another_process_keeps_holding_refuses_after_the_longest_hook_run(
    db_url: str, tmp_path: Path
) -> None:
    raw = _config(db_url, tmp_path)
    raw["actions"][0]["hook"]["timeout"] = "500ms"
    clock = Clock()
    svc = Service(parse_config(raw), clock=clock)
    svc.gate.lease_margin = 0.5
    assert svc.store.try_lease("deploy/api", "other-host:42:abcd", T0, 3600)
    assert _ask(svc, "rollback") == "refused"
    (d,) = list_decisions(svc.store, action="rollback")
    assert d.reason == "target busy: other-host:42:abcd has been deciding on it for over 1s"
    assert _runs(tmp_path) == 0
    clock.t += 3601  # its lease ran out: that process is gone
    assert _ask(svc, "rollback") == "executed"
    assert _runs(tmp_path) == 1
    svc.stop()


@pytest.mark.integration
def test_an_approval_is_decided_once_even_from_two_stores(
    db_url: str, stores: Callable[[str], Store]
) -> None:
    a, b = stores(db_url), stores(db_url)
    approval = a.add_approval(
        now=T0, action="careful", target="deploy/web", trigger="t", details={}
    )
    assert a.set_approval(approval, "approved") is not None
    assert b.set_approval(approval, "approved") is None
    assert b.set_approval(approval, "rejected") is None
    assert [r.status for r in b.approvals()] == ["approved"]


# --- PostgreSQL specifics -------------------------------------------------------------------


@pytest.mark.integration
def test_postgresql_schema_and_plain_url(pg_url: str, stores: Callable[[str], Store]) -> None:
    """The tables really are in PostgreSQL, with exact types; ``postgresql://`` uses psycopg."""
    db_url = pg_url
    plain = stores(db_url.replace("postgresql+psycopg://", "postgresql://", 1))
    assert plain.engine.dialect.driver == "psycopg"
    plain.record(at=T0, action="a", target="t", trigger="x", outcome="executed")
    types = dict(
        _sql(
            db_url,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name LIKE 'detect_%'",
        )
    )
    assert types["detect_decisions.at"] == "double precision"
    assert types["detect_decisions.trigger"] == "text"
    assert types["detect_decisions.details"] == "json"
    assert types["detect_approvals.trigger"] == "text"
    assert types["detect_outbox.created"] == "double precision"
    assert _sql(db_url, "SELECT at, trigger FROM detect_decisions") == [(T0, "x")]


@pytest.mark.integration
def test_an_older_postgresql_database_gets_text_triggers(
    pg_url: str, stores: Callable[[str], Store]
) -> None:
    """Early builds made the trigger columns varchar(200); opening the store widens them."""
    url = make_url(pg_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as pg:
        pg.execute(
            "CREATE TABLE detect_decisions (id serial PRIMARY KEY, at double precision,"
            " action varchar(200), target varchar(200), trigger varchar(200),"
            " outcome varchar(40), reason text, details json)"
        )
        pg.execute(
            "CREATE TABLE detect_approvals (id serial PRIMARY KEY, created double precision,"
            " action varchar(200), target varchar(200), trigger varchar(200),"
            " status varchar(20), details json)"
        )
        pg.execute(
            "INSERT INTO detect_decisions (at, action, target, trigger, outcome, reason, details)"
            " VALUES (1, 'a', 't', 'old', 'executed', '', '{}')"
        )
    store = stores(pg_url)
    long_trigger = "anomaly latency " + ",".join(f'l{i}="{"v" * 20}"' for i in range(40))
    store.record(at=T0, action="a", target="t", trigger=long_trigger, outcome="refused")
    store.add_approval(now=T0, action="a", target="t", trigger=long_trigger, details={})
    types = dict(
        _sql(
            pg_url,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name = 'trigger'",
        )
    )
    assert types == {"detect_decisions.trigger": "text", "detect_approvals.trigger": "text"}
    assert [d.trigger for d in list_decisions(store)] == [long_trigger, "old"]
    stores(pg_url)  # a second open finds nothing to change
