"""Auth, single-flight, a backend that is down or hangs, PostgreSQL, and a schemathesis run."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from tests.api.conftest import ADMIN, api
from tests.api.dataset import CATALOG, W46_END
from tests.support.postgres import ensure_postgres, fresh_database
from tests.support.processes import Prometheus, prometheus_config, run_prometheus

pytestmark = pytest.mark.integration

STATUS = "/api/v1/slos/checkout-availability/status"


def test_tokens_scopes_and_closed_reads(prom: Prometheus, tmp_path: Path) -> None:
    with api(prom.url, tmp_path / "db.sqlite") as c:
        assert c.get(STATUS).status_code == 401
        assert c.get(STATUS, headers={"Authorization": "Bearer wrong"}).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN}"}
        created = c.post(
            "/api/v1/tokens", json={"name": "grafana", "scopes": ["read"]}, headers=admin
        )
        assert created.status_code == 201
        reader = {"Authorization": f"Bearer {created.json()['token']}"}
        assert c.get(STATUS, params={"at": W46_END}, headers=reader).status_code == 200
        # the response cache keys on the token: a cached 200 is not replayed to anonymous callers
        assert c.get(STATUS, params={"at": W46_END}).status_code == 401
        assert c.get("/api/v1/tokens", headers=reader).status_code == 403
        assert c.post("/api/v1/tokens", json={"name": "grafana"}, headers=admin).status_code == 409
        listed = c.get("/api/v1/tokens", headers=admin).json()
        assert [t["name"] for t in listed] == ["admin (SLOPLANE_ADMIN_TOKEN)", "grafana"]
    # only hashes are stored
    import sqlite3

    rows = (
        sqlite3.connect(tmp_path / "db.sqlite")
        .execute("SELECT token_hash FROM api_tokens")
        .fetchall()
    )
    assert all(len(h) == 64 and not h.startswith("slp_") for (h,) in rows)


def test_concurrent_identical_requests_share_one_query(prom: Prometheus, tmp_path: Path) -> None:
    settings_ = ApiSettings(
        prom.url, f"sqlite:///{tmp_path / 'db.sqlite'}", open_reads=True, schedule=None
    )
    app = create_app(CATALOG, settings_)

    async def run() -> tuple[list[int], int, int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                # "now" is pinned to one cache period: 50 requests straddling a real period
                # boundary would (rightly) evaluate twice and make the count depend on the clock
                service = app.state.sloplane.service
                now = service.eval_time(None)
                service.eval_time = lambda at: now if at is None else at
                # distinct query strings defeat the response cache: this is the query layer
                rs = await asyncio.gather(*(c.get(STATUS, params={"n": i}) for i in range(50)))
                first = app.state.sloplane.client.stats.backend_queries
                # the next cache period: the board serves the last status while one
                # background refresh evaluates at the new period's time
                later = now + service.client.cache_ttl
                service.eval_time = lambda at: later if at is None else at
                rs += await asyncio.gather(
                    *(c.get(STATUS, params={"n": i}) for i in range(50, 100))
                )
                await service.board.settled()
                rs.append(await c.get(STATUS, params={"n": 100}))
                assert rs[-1].json()["evaluated_at"] == later
            return (
                [r.status_code for r in rs],
                first,
                app.state.sloplane.client.stats.backend_queries,
            )

    codes, first, total = asyncio.run(run())
    assert codes == [200] * 101
    # "now" has no recorded data: one recorded-series query, one source-query fallback ...
    assert first == 2
    # ... and the next period goes straight to the source query: one query per SLO per period
    assert total == 3


@pytest.fixture()
def hanging_backend() -> Iterator[str]:
    """Accepts connections and never answers: a Prometheus stuck on a heavy query."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for s in held:
        s.close()
    server.close()


def test_hanging_backend_gives_503_after_the_timeout(hanging_backend: str, tmp_path: Path) -> None:
    with api(hanging_backend, tmp_path / "db.sqlite", open_reads=True, query_timeout=0.5) as c:
        r = c.get(STATUS)
    assert r.status_code == 503
    body = r.json()
    assert body["backend"] == hanging_backend and "timeout" in body["cause"]


def test_prometheus_stopped_mid_test(tmp_path: Path) -> None:
    with (
        run_prometheus(prometheus_config()) as p,
        api(p.url, tmp_path / "db.sqlite", open_reads=True, cache_ttl=0) as c,
    ):
        first = c.get(STATUS)
        assert first.status_code == 200 and first.json()["status"] == "no_data"
        p.stop()
        r = c.get(STATUS)
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["backend"] == p.url and r.json()["cause"]
        assert c.get("/api/v1/slos/checkout-availability/history").status_code == 503
        # the inventory still answers, each status unknown with the cause
        listed = c.get("/api/v1/slos")
        assert listed.status_code == 200, listed.text
        assert {s["status"] for s in listed.json()} == {"unknown"}
        assert all(p.url in s["status_cause"] for s in listed.json())
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["prometheus"].startswith(
            "unreachable"
        )
        assert c.get("/healthz").status_code == 200


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    problem = ensure_postgres()
    if problem:
        pytest.fail(problem)
    with fresh_database() as url:
        yield url


def test_postgres_storage_tokens_and_reports(prom: Prometheus, postgres_url: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    for _ in range(2):  # second start: migrations are idempotent, data survives
        with api(prom.url, postgres_url) as c:
            assert (
                c.post("/api/v1/reports/team:payments/2026-W46", headers=admin).status_code == 200
            )
            reports = c.get("/api/v1/reports", headers=admin).json()
            assert [(r["scope"], r["week"]) for r in reports] == [("team:payments", "2026-W46")]
            body = c.get("/api/v1/reports/team:payments/2026-W46", headers=admin).json()
            assert [s["id"] for s in body["slos"]] == ["checkout-availability"]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert conn.execute(
            "SELECT count(*) FROM report_runs WHERE status='succeeded'"
        ).fetchone() == (2,)


def test_schemathesis_finds_no_server_error(prom: Prometheus, tmp_path: Path) -> None:
    """Bounded: 10 generated cases per operation; any 5xx but the documented 503 fails."""
    settings_ = ApiSettings(
        prom.url,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        admin_token=ADMIN,
        schedule=None,
        query_timeout=2,
    )
    app = create_app(CATALOG, settings_)
    failures: list[str] = []
    calls: list[int] = []
    with TestClient(app):  # runs the lifespan
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for op in schema.get_all_operations():
            operation = op.ok()
            if operation.method.upper() == "POST" and "reports" in operation.path:
                continue  # report generation is covered by the report tests

            @settings(
                max_examples=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
                response = case.call()
                calls.append(response.status_code)
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                    )

            check()
    assert failures == []
    assert len(calls) > 50 and 200 in calls
