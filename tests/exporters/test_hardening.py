"""Issue 12, exporter part: a hostile neighbour cannot stall the exporter or make targets look down.

Against real PostgreSQL and Redis, and the byte-a-second stand-in of
``tests/support/slow_http.py`` for the one fault no real server shows.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from sloplane.exporters.config import load_config
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.server import ExporterServer
from tests.exporters.conftest import parse, value, wait_until
from tests.support.processes import free_port, outward_ip
from tests.support.slow_http import slow_http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_once_against_a_byte_a_second_target_exits(tmp_path: Path) -> None:
    with slow_http("body", interval=0.1) as slow:
        config = _write(
            tmp_path / "exporters.yaml",
            {
                "modules": {"web": {"kind": "http", "timeout_seconds": 1}},
                "targets": [{"name": "slow", "module": "web", "address": slow.url + "/"}],
            },
        )
        proc = subprocess.run(
            [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(config), "--once"],
            capture_output=True,
            text=True,
            timeout=60,  # a bound on the test: without a deadline it takes hours
            cwd=ROOT,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    samples = parse(proc.stdout)
    assert value(samples, "http_probe_up", target="slow") == 0
    assert value(samples, "http_probe_scrape_errors_total", target="slow", reason="timeout") == 1


@pytest.fixture
def stack_config(
    tmp_path: Path, postgres_server: str, redis_server: str, rabbitmq_server: str
) -> dict:
    """Configured PostgreSQL, Redis and RabbitMQ targets, and a module hostile callers aim at."""
    return {
        "probe": {"enabled": True},
        "modules": {
            "mq": {"kind": "rabbitmq", "management": "off"},
            "web": {"kind": "http", "timeout_seconds": 10, "allowed_targets": ["127.0.0.1"]},
        },
        "targets": [
            {"name": "db", "module": "postgres", "address": postgres_server},
            {"name": "cache", "module": "redis", "address": redis_server},
            {"name": "broker", "module": "mq", "address": rabbitmq_server},
        ],
    }


@contextmanager
def _serving(config: dict, tmp_path: Path) -> Iterator[ExporterServer]:
    exporter = Exporter(load_config(_write(tmp_path / "exporters.yaml", config)))
    srv = ExporterServer(("127.0.0.1", 0), exporter)
    srv.serve_in_thread()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        exporter.close()


def test_40_hostile_probes_do_not_fail_the_configured_targets(
    stack_config: dict, tmp_path: Path
) -> None:
    with slow_http("body", interval=0.2) as slow, _serving(stack_config, tmp_path) as srv:
        assert value(parse(httpx.get(srv.url + "/metrics", timeout=30).text), "pg_up") == 1

        def hostile(i: int) -> int:
            params = {"module": "web", "target": f"{slow.url}/{i}"}
            return httpx.get(srv.url + "/probe", params=params, timeout=60).status_code

        with ThreadPoolExecutor(40) as pool:
            probes = [pool.submit(hostile, i) for i in range(40)]
            # Every probe is either talking to the slow server or already refused as busy.
            wait_until(
                lambda: slow.accepted + sum(p.done() for p in probes) >= 32,
                30,
                what="hostile probes under way",
            )
            samples = parse(httpx.get(srv.url + "/metrics", timeout=60).text)
            statuses = {p.result() for p in probes}
    assert value(samples, "pg_up", target="db") == 1
    assert value(samples, "redis_up", target="cache") == 1
    assert value(samples, "rabbitmq_up", target="broker") == 1
    for prefix, name in [("pg", "db"), ("redis", "cache"), ("rabbitmq", "broker")]:
        errors = value(samples, f"{prefix}_scrape_errors_total", target=name, reason="timeout")
        assert errors == 0, (prefix, errors)
    # Every hostile probe got an answer: its own timeout, or "busy" once the pool was full.
    assert statuses <= {200, 503}, statuses


def test_50_connections_at_once_are_all_accepted(tmp_path: Path) -> None:
    """The listen backlog holds a burst of scrapers while the server is busy accepting.

    The server is not serving yet, so every connection waits in the kernel's accept
    queue; with socketserver's default backlog of 5, the 7th SYN is dropped.
    """
    exporter = Exporter(load_config(_write(tmp_path / "exporters.yaml", {})))
    srv = ExporterServer(("127.0.0.1", 0), exporter)
    clients = [socket.socket() for _ in range(50)]
    try:
        for client in clients:
            client.setblocking(False)
            client.connect_ex(srv.server_address[:2])
        _, writable, _ = select.select([], clients, [], 5)
        pending = [c for c in clients if c not in writable]
        # A SYN dropped at a full queue is retried after a second: wait once more for it.
        if pending:
            _, late, _ = select.select([], pending, [], 2)
            pending = [c for c in pending if c not in late]
        assert not pending, f"{len(pending)} of 50 connections were not accepted"
    finally:
        for client in clients:
            client.close()
        srv.server_close()
        exporter.close()


def _get(srv: ExporterServer, module: str, target: str) -> httpx.Response:
    params = {"module": module, "target": target}
    return httpx.get(srv.url + "/probe", params=params, timeout=30)


@contextmanager
def _trap(host: str = "127.0.0.1") -> Iterator[tuple[socket.socket, int]]:
    """A listener nobody should connect to: ``accept`` raising BlockingIOError proves it."""
    trap = socket.create_server((host, 0))
    trap.setblocking(False)
    try:
        yield trap, trap.getsockname()[1]
    finally:
        trap.close()


def test_probe_is_off_unless_enabled(postgres_server: str, tmp_path: Path) -> None:
    with _serving({}, tmp_path) as srv:
        resp = _get(srv, "postgres", postgres_server)
    assert resp.status_code == 403
    assert "probe.enabled" in resp.text
    assert "pg_" not in resp.text  # before: every database of the trust-auth server


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("postgres", "127.0.0.1:{port}"),
        ("redis", "[::1]:{port}"),
        ("rabbitmq", "localhost:{port}"),
        ("http", "http://127.0.0.1:{port}/"),
        ("http", "http://127.1.2.3:{port}/"),
        ("http", "http://0.0.0.0:{port}/"),
        ("http", "http://[::ffff:127.0.0.1]:{port}/"),
        ("http", "http://169.254.169.254:{port}/latest/meta-data/"),
        ("http", "http://localhost:{port}/"),
        ("http", "http://2130706433:{port}/"),  # 127.0.0.1 as one number
        ("http", "http://[::1]:{port}/"),
        ("open", "http://127.0.0.1:{port}/"),  # a wide allowed_targets does not open loopback
    ],
)
def test_loopback_and_link_local_are_refused_without_connecting(
    module: str, target: str, tmp_path: Path
) -> None:
    config = {
        "probe": {"enabled": True},
        "modules": {"open": {"kind": "http", "allowed_targets": ["0.0.0.0/0", "*"]}},
    }
    with _trap() as (trap, port), _serving(config, tmp_path) as srv:
        resp = _get(srv, module, target.format(port=port))
        assert resp.status_code == 403, resp.text
        assert "refuses loopback and link-local" in resp.text
        with pytest.raises(BlockingIOError):
            trap.accept()


def test_a_refusal_is_the_same_for_an_open_and_a_closed_port(tmp_path: Path) -> None:
    """Refused before any connection: nothing in the answer depends on the port's state."""
    config = {"probe": {"enabled": True}}
    with _trap() as (_, open_port), _serving(config, tmp_path) as srv:
        closed_port = free_port()
        answers = [
            _get(srv, "http", f"http://127.0.0.1:{port}/") for port in (open_port, closed_port)
        ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].text.replace(str(open_port), "P") == answers[1].text.replace(
        str(closed_port), "P"
    )
    assert all("duration" not in a.text for a in answers)


def test_loopback_named_exactly_is_allowed(redis_server: str, tmp_path: Path) -> None:
    config = {
        "probe": {"enabled": True},
        "modules": {"cache": {"kind": "redis", "allowed_targets": ["127.0.0.1:6379"]}},
    }
    with _serving(config, tmp_path) as srv:
        assert value(parse(_get(srv, "cache", redis_server).text), "redis_up") == 1
        # Named exactly with its port: another port on loopback stays refused.
        assert _get(srv, "cache", "127.0.0.1:6380").status_code == 403


def test_builtin_modules_can_be_disabled(redis_server: str, tmp_path: Path) -> None:
    config = {
        "probe": {"enabled": True, "builtin_modules": ["http"]},
        "modules": {"cache": {"kind": "redis", "allowed_targets": ["127.0.0.1"]}},
        "targets": [{"name": "r", "module": "redis", "address": redis_server}],
    }
    with _serving(config, tmp_path) as srv:
        off = _get(srv, "redis", redis_server)
        assert off.status_code == 400 and "probe.builtin_modules" in off.text
        assert value(parse(_get(srv, "cache", redis_server).text), "redis_up") == 1
        # Configured targets may still use a built-in module: it only leaves /probe.
        metrics = parse(httpx.get(srv.url + "/metrics", timeout=30).text)
        assert value(metrics, "redis_up", target="r") == 1


def test_a_redirect_to_loopback_is_not_followed(tmp_path: Path) -> None:
    outside = outward_ip()
    if outside is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    with _trap() as (trap, port):
        redirector = _redirect_server(outside, f"http://127.0.0.1:{port}/")
        try:
            config = {"probe": {"enabled": True}}
            with _serving(config, tmp_path) as srv:
                target = f"http://{outside}:{redirector.server_address[1]}/"
                samples = parse(_get(srv, "http", target).text)
        finally:
            redirector.shutdown()
            redirector.server_close()
        assert value(samples, "http_probe_success") == 0
        assert value(samples, "http_probe_status_code") == 302
        with pytest.raises(BlockingIOError):
            trap.accept()


def _redirect_server(host: str, location: str) -> ThreadingHTTPServer:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_scrape_answers_by_the_scrapers_own_timeout(tmp_path: Path) -> None:
    """Prometheus says how long it waits; a target slower than that is up 0 in time.

    The module allows 60 s; the client gives up after 20 s. Without the header's deadline
    the answer would come after the module's 60 s, and the client would have none.
    """
    with slow_http("silent") as slow:
        config = {
            "modules": {"web": {"kind": "http", "timeout_seconds": 60}},
            "targets": [{"name": "slow", "module": "web", "address": slow.url + "/"}],
        }
        with _serving(config, tmp_path) as srv:
            resp = httpx.get(
                srv.url + "/metrics",
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"},
                timeout=20,
            )
    samples = parse(resp.text)
    assert value(samples, "http_probe_up", target="slow") == 0
    assert value(samples, "http_probe_scrape_errors_total", target="slow", reason="timeout") == 1
