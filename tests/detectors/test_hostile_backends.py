"""Issue 12, detector side: broken backends, a slow AlertManager, replayed webhooks, odd ids.

Prometheus answers that a real server never sends (garbage, samples from the future)
and an AlertManager that takes its time come from ``tests/support/standins.py``; the
service reads them through the same clients it uses in production.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from sloplane.detect import signing
from sloplane.detect.config import parse_config
from sloplane.detect.routes import ApiAuth, create_app
from sloplane.detect.service import Service
from tests.detectors.fakes import FixedProm, series
from tests.support.standins import Answer, Request, ScriptedServer, scripted_server

STEP = 10.0
TEN_YEARS = 10 * 365 * 86400.0


def _matrix(points: list[tuple[float, Any]], labels: dict[str, str] | None = None) -> bytes:
    result = [{"metric": labels or {"instance": "a"}, "values": [[t, v] for t, v in points]}]
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}}
    ).encode()


def _grid(now: float, n: int = 5, value: Any = "1.5") -> list[tuple[float, Any]]:
    last = math.floor(now / STEP) * STEP
    return [(last - STEP * i, value) for i in range(n - 1, -1, -1)]


def _config(tmp_path: Path, prom_url: str, am_url: str | None = None) -> dict[str, Any]:
    return {
        "prometheus": {"url": prom_url, "timeout": "3s"},
        "alertmanager": {"url": am_url},
        "database": f"sqlite:///{tmp_path / 'd.db'}",
        "api": {"read_only": True},
        "watches": [{"name": "w", "query": "up", "step": "10s", "detector": "ewma"}],
    }


@pytest.fixture()
def prometheus() -> Iterator[ScriptedServer]:
    with scripted_server(lambda _req: Answer(body=_matrix(_grid(time.time())))) as server:
        yield server


def _health(svc: Service) -> dict[str, Any]:
    client = TestClient(create_app(svc, ApiAuth(None, read_only=True)))
    body: dict[str, Any] = client.get("/healthz").json()
    return body


def _metric(svc: Service, text: str) -> bool:
    return text in generate_latest(svc.registry).decode()


# --- malformed Prometheus answers ---------------------------------------------------------

MALFORMED = {
    "value abc": _matrix([(1_700_000_000.0, "abc")]),
    "a list": b"[1,2,3]",
    "null": b"null",
    "no data": b'{"status": "success"}',
    "values not pairs": b'{"status":"success","data":{"resultType":"matrix",'
    b'"result":[{"metric":{},"values":[[1]]}]}}',
    "not json": b"<html>proxy error</html>",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_is_a_counted_poll_error_not_a_traceback(
    tmp_path: Path, prometheus: ScriptedServer, body: bytes
) -> None:
    svc = Service(parse_config(_config(tmp_path, prometheus.url)))
    try:
        prometheus.handler = lambda _req: Answer(body=body)
        svc.tick_watch("w")
        assert svc.counters[("poll_errors", "w")] == 1
        assert _metric(svc, 'sloplane_detector_up{watch="w"} 0.0')
        health = _health(svc)
        assert health["ok"] is True and health["status"] == "degraded"
        assert health["failing"] == ["w"] and prometheus.url in health["watches"]["w"]

        prometheus.handler = lambda _req: Answer(body=_matrix(_grid(time.time())))
        svc.tick_watch("w")  # a sane answer: healthy again, and the watch scores
        assert _health(svc)["status"] == "ok"
        assert _metric(svc, 'sloplane_detector_up{watch="w"} 1.0')
        assert svc.counters[("points", "w")] == 5
    finally:
        svc.stop()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["status", "data", "resultType", "result", "values", "metric", "x"]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_answer_is_either_data_or_a_counted_poll_error(
    tmp_path: Path, prometheus: ScriptedServer, body: object
) -> None:
    prometheus.handler = lambda _req: Answer(body=json.dumps(body).encode())
    cfg = _config(tmp_path, prometheus.url)
    cfg["database"] = "sqlite://"
    svc = Service(parse_config(cfg))
    try:
        svc.tick_watch("w")  # must not raise
        ws = svc.watches["w"]
        assert (ws.error is not None) == (svc.counters[("poll_errors", "w")] == 1)
    finally:
        svc.stop()


# --- samples from the future ---------------------------------------------------------------


def test_a_future_sample_through_the_client_is_refused_and_the_watch_keeps_scoring(
    tmp_path: Path, prometheus: ScriptedServer
) -> None:
    svc = Service(parse_config(_config(tmp_path, prometheus.url)))
    try:
        now = time.time()
        prometheus.handler = lambda _req: Answer(
            body=_matrix([*_grid(now), (now + TEN_YEARS, "2")])
        )
        svc.tick_watch("w")
        assert svc.counters[("poll_errors", "w")] == 1
        assert "after the time asked for" in (svc.watches["w"].error or "")
        prometheus.handler = lambda _req: Answer(body=_matrix(_grid(time.time())))
        svc.tick_watch("w")
        assert svc.watches["w"].error is None and svc.counters[("points", "w")] == 5
    finally:
        svc.stop()


def test_a_future_point_from_any_reader_is_dropped_counted_and_scoring_goes_on(
    tmp_path: Path,
) -> None:
    """The poller's own guard: whatever the reader, a point ten years ahead never becomes
    the series' newest point (after which every real point was skipped as old)."""
    clock = [1_700_000_000.0]
    prom = FixedProm()
    svc = Service(
        parse_config(_config(tmp_path, "http://unused")), clock=lambda: clock[0], prom=prom
    )
    try:
        labels = {"instance": "a"}
        prom.series = [series(labels, [*_grid(clock[0], value=1.5), (clock[0] + TEN_YEARS, 9.0)])]
        svc.tick_watch("w")
        assert svc.counters[("future_samples", "w")] == 1
        assert svc.counters[("points", "w")] == 5 and svc.watches["w"].error is None
        for _ in range(3):
            clock[0] += STEP
            prom.series = [series(labels, _grid(clock[0], 1, 1.5))]
            svc.tick_watch("w")
        assert svc.counters[("points", "w")] == 8  # every later point was scored
        (st_,) = svc.watches["w"].series.values()
        assert st_.last_t == math.floor(clock[0] / STEP) * STEP
    finally:
        svc.stop()


# --- a slow AlertManager -------------------------------------------------------------------


def _slow_alertmanager(delay: float) -> Any:
    def answer(req: Request) -> Answer:
        if req.method == "POST":
            time.sleep(delay)
        return Answer(body=b"")

    return answer


def _queue_alerts(svc: Service, n: int) -> None:
    for i in range(n):
        svc.store.enqueue([{"labels": {"instance": f"i{i}"}, "annotations": {}}], time.time())


def test_a_slow_alertmanager_gets_each_alert_once(tmp_path: Path) -> None:
    """Ten rows, two deliveries racing in one process and one in another: ten POSTs."""
    with scripted_server(_slow_alertmanager(0.2)) as am:
        raw = _config(tmp_path, "http://127.0.0.1:1", am.url)
        svc, other = Service(parse_config(raw)), Service(parse_config(raw))
        try:
            _queue_alerts(svc, 10)
            threads = [threading.Thread(target=s.deliver_outbox) for s in (svc, svc, other, other)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            for _ in range(3):  # later scheduled deliveries find the rest, and nothing twice
                svc.deliver_outbox()
                other.deliver_outbox()
            posts = [r for r in am.requests if r.method == "POST"]
            instances = [json.loads(r.body)[0]["labels"]["instance"] for r in posts]
            assert sorted(instances) == sorted(f"i{i}" for i in range(10))
            assert svc.store.pending() == []
        finally:
            svc.stop()
            other.stop()


# --- signed webhooks -----------------------------------------------------------------------


def test_a_webhook_receiver_can_refuse_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    with scripted_server(lambda _req: Answer(body=b"{}")) as receiver:
        raw = _config(tmp_path, "http://127.0.0.1:1")
        raw["guards"] = {"dry_run": False}
        raw["actions"] = [
            {
                "name": "rollback",
                "hook": {"kind": "webhook", "url": receiver.url, "secret_env": "HOOK_SECRET"},
            }
        ]
        svc = Service(parse_config(raw), prom=FixedProm())
        try:
            from sloplane.detect.guards import Evidence

            outcome = svc.request_action(
                svc.config.action("rollback"),
                trigger="t",
                evidence=Evidence(breaches=1),
                context={},
            )
            assert outcome == "executed"
        finally:
            svc.stop()
    (call,) = receiver.requests
    header, key = call.headers[signing.HEADER], call.headers["Idempotency-Key"]
    sent_at = signing.verify(b"s3cret", header, key, call.body, now=time.time())
    assert abs(sent_at - time.time()) < 60
    later = sent_at + signing.TOLERANCE + 1  # the same call captured and replayed later
    with pytest.raises(signing.SignatureError, match="a replay or a wrong clock"):
        signing.verify(b"s3cret", header, key, call.body, now=later)
    with pytest.raises(signing.SignatureError, match="no v1 signature matches"):
        signing.verify(b"s3cret", header, key + "-2", call.body, now=sent_at)
    with pytest.raises(signing.SignatureError, match="no v1 signature matches"):
        signing.verify(b"s3cret", header, key, call.body + b" ", now=sent_at)


@given(
    secret=st.binary(min_size=1, max_size=64),
    key=st.text(min_size=1, max_size=40).filter(lambda k: "," not in k),
    body=st.binary(max_size=200),
    stamp=st.integers(min_value=0, max_value=2**40),
    skew=st.floats(min_value=-1e6, max_value=1e6),
)
def test_signatures_verify_only_inside_the_window(
    secret: bytes, key: str, body: bytes, stamp: int, skew: float
) -> None:
    header = signing.sign(secret, stamp, key, body)
    if abs(skew) <= signing.TOLERANCE:
        assert signing.verify(secret, header, key, body, now=stamp + skew) == stamp
    else:
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, header, key, body, now=stamp + skew)


# --- approval ids --------------------------------------------------------------------------


@pytest.mark.parametrize("approval_id", ["99999999999999999999999", str(2**31), "0", "-1", "x"])
def test_an_impossible_approval_id_is_a_422_not_a_500(tmp_path: Path, approval_id: str) -> None:
    svc = Service(parse_config(_config(tmp_path, "http://127.0.0.1:1")), prom=FixedProm())
    try:
        client = TestClient(create_app(svc, ApiAuth("t")), raise_server_exceptions=False)
        auth = {"Authorization": "Bearer t"}
        for verb in ("approve", "reject"):
            r = client.post(f"/v1/detectors/approvals/{approval_id}/{verb}", headers=auth)
            assert r.status_code == 422, r.text
        r = client.post(f"/v1/detectors/approvals/{2**31 - 1}/approve", headers=auth)
        assert r.status_code == 404
    finally:
        svc.stop()


# --- a slow Prometheus ---------------------------------------------------------------------


def test_a_slow_prometheus_holds_up_its_watch_but_not_metrics(
    tmp_path: Path, prometheus: ScriptedServer
) -> None:
    release = threading.Event()

    def slow(_req: Request) -> Answer:
        release.wait(timeout=30)
        return Answer(body=_matrix(_grid(time.time())))

    cfg = _config(tmp_path, prometheus.url)
    cfg["prometheus"]["timeout"] = "30s"
    svc = Service(parse_config(cfg))
    try:
        prometheus.handler = slow
        poll = threading.Thread(target=svc.tick_watch, args=["w"], daemon=True)
        poll.start()
        while not prometheus.requests:  # the poll is waiting for Prometheus now
            time.sleep(0.01)
        scraped: list[bytes] = []
        scrape = threading.Thread(
            target=lambda: scraped.append(generate_latest(svc.registry)), daemon=True
        )
        scrape.start()
        scrape.join(timeout=20)
        assert scraped and b"sloplane_detector_up" in scraped[0]
        assert poll.is_alive()  # the scrape did not wait for the poll
        release.set()
        poll.join(timeout=30)
        assert svc.counters[("points", "w")] == 5
    finally:
        release.set()
        svc.stop()
