"""Issue 12, finding 5 (and issue 17's list routes at a period's end): a frozen or locked database and a webhook that never answers stall
only the requests that need them; ``/healthz`` and every other request keep answering.

Each test holds the fault, starts the request that meets it, waits until it is really
stuck (PostgreSQL shows the lock wait, the webhook holds the connection), then asks
``/healthz``: it must answer while the stuck request is still pending. Before the fix
the database and webhook calls ran on the event loop and ``/healthz`` waited for them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sloplane.reports.deliver import Delivery
from sloplane.reports.weeks import week_of
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, EventsSLI
from tests.api.conftest import ADMIN, api
from tests.support.garbage_prometheus import Answer, garbage_prometheus
from tests.support.postgres import ensure_postgres, fresh_database
from tests.support.processes import Prometheus
from tests.support.silent_webhook import silent_webhook

pytestmark = pytest.mark.integration

NOWHERE = "http://127.0.0.1:9"  # no Prometheus needed: definitions, tokens, health
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
DEFINITION = "/api/v1/slos/checkout-availability"


class Call(threading.Thread):
    """One request on its own thread, so the test can look at others meanwhile."""

    def __init__(self, fn: Callable[[], httpx.Response]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.result: httpx.Response | None = None
        self.start()

    def run(self) -> None:
        self.result = self.fn()

    def answer(self, within: float) -> httpx.Response:
        self.join(within)
        assert not self.is_alive(), f"no answer within {within}s"
        assert self.result is not None
        return self.result


def wait_for(condition: Callable[[], Any], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    problem = ensure_postgres()
    if problem:
        pytest.skip(problem)
    with fresh_database("sloplane_apihard") as url:
        yield url


def _waiting_on_tokens(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
            "WHERE c.relname = 'api_tokens' AND NOT l.granted"
        ).fetchone()
    return bool(row and row[0])


def test_frozen_postgres_stalls_only_the_unknown_token(postgres_url: str) -> None:
    with api(NOWHERE, postgres_url, db_deadline=30, token_max_age=0) as c:
        with psycopg.connect(postgres_url) as locker:
            locker.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
            unknown = Call(lambda: c.get(DEFINITION, headers={"Authorization": "Bearer slp_x"}))
            wait_for(lambda: _waiting_on_tokens(postgres_url))
            assert Call(lambda: c.get("/healthz")).answer(within=10).status_code == 200
            # a valid token is known from the snapshot: its request needs no database
            assert Call(lambda: c.get(DEFINITION, headers=ADMIN_AUTH)).answer(10).status_code == 200
            assert unknown.is_alive()  # still waiting for the database, and only it
            locker.rollback()
        assert unknown.answer(within=30).status_code == 401


def test_locked_sqlite_is_not_ready_and_a_503(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    with api(NOWHERE, db, db_deadline=1, ready_deadline=0.5) as c:
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] != "ok", ready.json()
            runs = c.get("/api/v1/reports/runs", headers=ADMIN_AUTH)
            assert runs.status_code == 503, runs.text
            assert runs.json()["title"] == "Database unavailable", runs.json()
            assert c.get("/healthz").status_code == 200
        finally:
            locker.rollback()
            locker.close()
        assert c.get("/api/v1/reports/runs", headers=ADMIN_AUTH).status_code == 200


def test_silent_slack_webhook_stalls_nothing_and_leaks_nothing(
    prom: Prometheus, tmp_path: Path
) -> None:
    week = week_of(datetime.now(UTC) - timedelta(days=7))
    with silent_webhook() as hook:
        delivery = Delivery(slack_webhook=hook.url)
        with api(prom.url, tmp_path / "db.sqlite", delivery=delivery) as c:
            post = Call(lambda: c.post(f"/api/v1/reports/team:payments/{week}", headers=ADMIN_AUTH))
            assert hook.connected.wait(30)
            assert Call(lambda: c.get("/healthz")).answer(within=10).status_code == 200
            assert post.is_alive()  # still waiting for Slack
            failed = post.answer(within=30)
            assert failed.status_code == 503, failed.text
            assert "s3cr3t" not in failed.text and "127.0.0.1" in failed.text
            reader = c.post(
                "/api/v1/tokens", json={"name": "dash", "scopes": ["read"]}, headers=ADMIN_AUTH
            ).json()["token"]
            runs = c.get("/api/v1/reports/runs", headers={"Authorization": f"Bearer {reader}"})
            assert runs.status_code == 200
            [run] = runs.json()
            assert run["status"] == "failed" and "Slack webhook http://127.0.0.1" in run["error"]
            assert "s3cr3t" not in runs.text and "/services/" not in runs.text


EMPTY_VECTOR = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'


class HeldPrometheus:
    """Answers every query with an empty vector, or holds it while ``held`` is set;
    counts queries and how many it held at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()
        self.queries = 0
        self.holding = 0
        self.most_held = 0

    def _hold(self) -> None:
        with self.lock:
            self.queries += 1
            self.holding += 1
            self.most_held = max(self.most_held, self.holding)
        self.release.wait(60)
        with self.lock:
            self.holding -= 1

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        with garbage_prometheus(Answer(body=EMPTY_VECTOR, on_request=self._hold)) as url:
            try:
                yield url
            finally:
                self.release.set()  # before the server's shutdown joins held handlers


MANY = Catalog.of(
    [
        SLO(service=f"svc{i}", name="availability", objective=99,
            sli=EventsSLI(errors='http_requests_total{code=~"5.."}', total="http_requests_total"))
        for i in range(40)
    ]
)  # fmt: skip


def test_list_answers_from_the_last_statuses_when_the_period_ends(tmp_path: Path) -> None:
    """Issue 17: when the cache period ended, /api/v1/slos waited for every SLO's status
    query. Now, with the backend holding every query of the new period, the list and the
    summaries still answer (the previous period's statuses, which their ``evaluated_at``
    says), while at most ``max_concurrency`` refreshes run; once the backend answers, the
    board holds the new period, queried once per SLO."""
    backend = HeldPrometheus()
    with (
        backend.serve() as url,
        api(url, tmp_path / "db", MANY, open_reads=True, query_timeout=60, max_concurrency=4) as c,
    ):
        service = c.app.state.sloplane.service  # type: ignore[attr-defined]
        first = c.get("/api/v1/services")
        assert first.status_code == 200, first.text
        before = {s["id"]: s["evaluated_at"] for g in first.json() for s in g["statuses"]}
        assert len(before) == 40 and len(set(before.values())) == 1
        settle_queries = backend.queries
        # the next period, and a backend that holds every query
        later = service.eval_time(None) + service.client.cache_ttl
        service.eval_time = lambda at: later if at is None else at
        backend.release.clear()
        listed = Call(lambda: c.get("/api/v1/slos")).answer(within=20)
        assert listed.status_code == 200, listed.text
        assert {s["status"] for s in listed.json()} == {"no_data"}  # not "unknown"
        # kept 2 s at most while a refresh runs
        assert listed.headers["cache-control"] == "max-age=2"
        services = Call(lambda: c.get("/api/v1/services")).answer(within=20)
        stale = {s["id"]: s["evaluated_at"] for g in services.json() for s in g["statuses"]}
        assert stale == before  # the last value, marked with when it was true
        wait_for(lambda: backend.holding == 4)
        assert backend.most_held == 4  # the refresh is bounded by max_concurrency
        backend.release.set()
        wait_for(lambda: service.board.refreshing() == 0, within=60)
        # (another query string: not the answer the response cache kept for 2 s)
        fresh = c.get("/api/v1/services", params={"again": 1}).json()
        assert {s["evaluated_at"] for g in fresh for s in g["statuses"]} == {later}
        # one query per SLO for the new period ("now" has no recorded data: after the
        # first period every SLO goes straight to its source query)
        assert backend.queries - settle_queries == 40
