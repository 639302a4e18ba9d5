"""The exporter process end to end: config, /metrics, /probe, concurrency and the CLI."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sloplane.errors import SpecError
from sloplane.exporters.config import load_config, parse_address
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.metrics_catalog import KNOWN_METRICS
from sloplane.exporters.postgres import APPLICATION_NAME
from sloplane.exporters.redis_collector import CLIENT_NAME
from sloplane.exporters.server import ExporterServer
from sloplane.listen import parse_listen
from tests.exporters.conftest import PrivateRedis, assert_promtool_clean, names, parse, value
from tests.support.processes import free_port, outward_ip

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "exporters" / "exporters.yaml"


@pytest.fixture
def config_file(
    tmp_path: Path, postgres_server: str, redis_server: str, rabbitmq_management: str
) -> Path:
    doc = {
        "listen": "127.0.0.1:9465",  # not bound: the tests serve on free ports
        # The servers are on loopback, which /probe refuses unless a module names it.
        "probe": {"enabled": True},
        "modules": {
            "pg": {"kind": "postgres", "user": "postgres", "allowed_targets": ["127.0.0.1"]},
            "pg_bad": {"kind": "postgres", "user": "sloplane_no_such_role"},
            "rabbit": {"kind": "rabbitmq", "management": "on"},
            "health": {
                "kind": "http",
                "fail_if_body_not_matches_regexp": ["OK"],
                "allowed_targets": ["127.0.0.1"],
            },
            # Replaces the built-in 'redis' module, adding loopback to what it may probe.
            "redis": {"kind": "redis", "allowed_targets": ["127.0.0.0/8"]},
        },
        "targets": [
            {"name": "main-db", "module": "pg", "address": postgres_server},
            {"name": "bad-db", "module": "pg_bad", "address": postgres_server},
            {"name": "cache", "module": "redis", "address": redis_server},
            {"name": "broker", "module": "rabbit", "address": rabbitmq_management},
        ],
    }
    path = tmp_path / "exporters.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def server(config_file: Path) -> Iterator[ExporterServer]:
    exporter = Exporter(load_config(config_file))
    srv = ExporterServer(("127.0.0.1", 0), exporter)
    srv.serve_in_thread()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        exporter.close()


@pytest.mark.integration
def test_metrics_endpoint_covers_every_target_and_is_clean(server: ExporterServer) -> None:
    resp = httpx.get(server.url + "/metrics", timeout=30)
    assert resp.status_code == 200
    assert_promtool_clean(resp.text)
    samples = parse(resp.text)
    assert value(samples, "pg_up", target="main-db") == 1
    assert value(samples, "pg_up", target="bad-db") == 0
    assert value(samples, "pg_scrape_errors_total", target="bad-db", reason="auth") == 1
    assert value(samples, "redis_up", target="cache") == 1
    assert value(samples, "rabbitmq_up", target="broker") == 1
    assert value(samples, "sloplane_exporter_build_info") == 1
    assert "process_resident_memory_bytes" in names(samples)


@pytest.mark.integration
def test_openmetrics_and_gzip_are_negotiated(server: ExporterServer) -> None:
    resp = httpx.get(
        server.url + "/metrics",
        headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip",
        },
        timeout=30,
    )
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.text.rstrip().endswith("# EOF")


@pytest.mark.integration
def test_probe_endpoint_multi_target(
    server: ExporterServer, postgres_server: str, redis_server: str
) -> None:
    pg = httpx.get(
        server.url + "/probe", params={"module": "pg", "target": postgres_server}, timeout=30
    )
    assert pg.status_code == 200
    assert_promtool_clean(pg.text)
    samples = parse(pg.text)
    assert value(samples, "pg_up") == 1
    assert all("target" not in dict(labels) for _, labels in samples)  # Prometheus sets instance
    # Modules named after the kinds replace the built-in ones.
    rd = httpx.get(
        server.url + "/probe", params={"module": "redis", "target": redis_server}, timeout=30
    )
    assert value(parse(rd.text), "redis_up") == 1
    http = httpx.get(
        server.url + "/probe",
        params={"module": "health", "target": server.url + "/-/healthy"},
        timeout=30,
    )
    assert value(parse(http.text), "http_probe_success") == 1


@pytest.mark.integration
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"module": "nope", "target": "127.0.0.1:5432"}, "unknown module"),
        ({"module": "pg", "target": "postgres:secret@127.0.0.1:5432"}, "credentials"),
        ({"module": "pg", "target": "127.0.0.1:5432?password=x"}, "credentials"),
        ({"module": "health", "target": "http://u:p@127.0.0.1/"}, "credentials"),
        ({"module": "pg"}, "required"),
        ({"module": "health", "target": "http://127.0.0.1/h?token=sekrit"}, "token"),
        ({"module": "health", "target": "http://127.0.0.1/h?a=1&API-Key=sekrit"}, "API-Key"),
        ({"module": "health", "target": "https://127.0.0.1/h?client_secret=sekrit"}, "secret"),
        ({"module": "health", "target": "http://127.0.0.1/h?Password=sekrit"}, "Password"),
        ({"module": "redis", "target": "redis://:sekrit@127.0.0.1:6379"}, "credentials"),
        ({"module": "redis", "target": "redis://127.0.0.1:6379?password=sekrit"}, "not a URL"),
    ],
)
def test_probe_rejects_bad_requests(server: ExporterServer, params: dict, message: str) -> None:
    resp = httpx.get(server.url + "/probe", params=params, timeout=30)
    assert resp.status_code == 400
    assert message in resp.text
    assert "sekrit" not in resp.text


@pytest.mark.integration
def test_probe_sends_credentials_only_to_allowed_targets(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    config = tmp_path / "exporters.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "probe": {"enabled": True},
                "modules": {
                    "cache": {
                        "kind": "redis",
                        "password": private_redis.password,
                        "allowed_targets": [private_redis.address],
                    },
                    "unlisted": {"kind": "redis", "password": private_redis.password},
                },
            }
        )
    )
    exporter = Exporter(load_config(config))
    srv = ExporterServer(("127.0.0.1", 0), exporter)
    srv.serve_in_thread()
    # A server the caller controls, to see whether the exporter would talk to it; on an
    # address that is not loopback, which /probe would refuse whatever the module.
    outside_ip = outward_ip()
    if outside_ip is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    trap = socket.create_server((outside_ip, 0))
    trap.setblocking(False)
    trap_address = f"{outside_ip}:{trap.getsockname()[1]}"
    try:
        ok = httpx.get(
            srv.url + "/probe",
            params={"module": "cache", "target": private_redis.address},
            timeout=30,
        )
        assert ok.status_code == 200
        assert value(parse(ok.text), "redis_up") == 1
        outside = httpx.get(
            srv.url + "/probe", params={"module": "cache", "target": trap_address}, timeout=30
        )
        assert outside.status_code == 403
        assert f"target '{trap_address}' is not in modules.cache.allowed_targets" in outside.text
        assert "redis_up" not in outside.text
        unlisted = httpx.get(
            srv.url + "/probe", params={"module": "unlisted", "target": trap_address}, timeout=30
        )
        assert unlisted.status_code == 403
        assert "carries credentials and has no allowed_targets" in unlisted.text
        assert private_redis.password not in outside.text + unlisted.text
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected: the password never left
        # A module without credentials probes anything (blackbox style).
        free = httpx.get(
            srv.url + "/probe", params={"module": "redis", "target": trap_address}, timeout=30
        )
        assert free.status_code == 200
    finally:
        trap.close()
        srv.shutdown()
        srv.server_close()
        exporter.close()


def test_bad_allowed_targets_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"modules": {"pg": {"kind": "postgres", "allowed_targets": ["h:99999"]}}})
    )
    with pytest.raises(SpecError) as info:
        load_config(bad)
    [problem] = info.value.problems
    assert (problem.obj, problem.field) == ("module 'pg'", "allowed_targets")


def test_config_errors_do_not_repeat_a_password(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "targets": [
                    {
                        "name": "a",
                        "module": "redis",
                        "address": "redis://:canary-pw@127.0.0.1:6379",
                    },
                    {"name": "b", "module": "http", "address": "http://h/x?apikey=canary-pw"},
                    {"name": "c", "module": "redis", "address": "x:canary-pw@h:1"},
                ]
            }
        )
    )
    with pytest.raises(SpecError) as info:
        load_config(bad)
    assert len(info.value.problems) >= 1
    assert "canary-pw" not in str(info.value)
    assert all("canary-pw" not in str(p) for p in info.value.problems)


@pytest.mark.integration
def test_probe_logs_never_show_a_query_string(
    server: ExporterServer, caplog: pytest.LogCaptureFixture
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/health?tenant=canary-q"
    with caplog.at_level(logging.DEBUG, logger="sloplane.exporters"):
        resp = httpx.get(
            server.url + "/probe", params={"module": "health", "target": refused}, timeout=30
        )
    assert value(parse(resp.text), "http_probe_up") == 0
    lines = [r.getMessage() for r in caplog.records]
    assert any("?<redacted>" in line and "is down" in line for line in lines), lines
    assert not any("canary-q" in line for line in lines), lines


@pytest.mark.integration
def test_50_concurrent_scrapes_are_answered_without_extra_connections(
    server: ExporterServer, postgres_server: str
) -> None:
    # Warm up: one connection for the configured target, one for the probed address.
    httpx.get(server.url + "/metrics", timeout=30)
    httpx.get(server.url + f"/probe?module=pg&target={postgres_server}", timeout=30)
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as admin:

        def pg_conns() -> int:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [APPLICATION_NAME],
            ).fetchone()
            return int(row[0]) if row else -1

        rclient = redis.Redis(host="127.0.0.1", port=6379)

        def redis_conns() -> int:
            return sum(1 for c in rclient.client_list() if c.get("name") == CLIENT_NAME)

        before = (pg_conns(), redis_conns())

        def fetch(i: int) -> tuple[int, float | None]:
            path = "/metrics" if i % 2 else f"/probe?module=pg&target={postgres_server}"
            resp = httpx.get(server.url + path, timeout=60)
            samples = parse(resp.text)
            return resp.status_code, value(
                samples, "pg_up", **({"target": "main-db"} if i % 2 else {})
            )

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(fetch, range(50)))
        assert results == [(200, 1.0)] * 50
        assert (pg_conns(), redis_conns()) == before
        rclient.close()


@pytest.mark.integration
def test_cli_once_prints_a_clean_exposition(config_file: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(config_file), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert_promtool_clean(proc.stdout)
    assert value(parse(proc.stdout), "pg_up", target="bad-db") == 0
    assert "is down: auth" in proc.stderr  # the log line for the unauthorised target


def test_a_failing_amqp_scrape_logs_one_warning_and_no_pika_traceback(tmp_path: Path) -> None:
    config = tmp_path / "mq.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "modules": {"mq": {"kind": "rabbitmq", "management": "off", "queues": ["q"]}},
                "targets": [
                    {"name": "gone", "module": "mq", "address": f"127.0.0.1:{free_port()}"}
                ],
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert value(parse(proc.stdout), "rabbitmq_up", target="gone") == 0
    assert "Traceback" not in proc.stderr
    assert " ERROR " not in proc.stderr and "pika" not in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "target gone (rabbitmq) is down" in warnings[0], proc.stderr


@pytest.mark.integration
def test_cli_serves_until_terminated(config_file: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloplane.cli",
            "exporter",
            "--config",
            str(config_file),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        from tests.support.processes import wait_http_ok

        wait_http_ok(f"http://127.0.0.1:{port}/-/healthy", timeout=60, proc=proc)
        assert "pg_up" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_config_errors_are_one_line_each(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "modules": {"pg": {"kind": "postgres", "pasword": "typo"}},
                "targets": [{"name": "x", "module": "missing", "address": "h:1"}],
            }
        )
    )
    with pytest.raises(SpecError) as info:
        load_config(bad)
    assert any("pasword" in str(p) for p in info.value.problems)
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(bad), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    modules = [config.module(t.module) for t in config.targets]
    kinds = {m.kind for m in modules if m is not None}
    assert kinds == {"postgres", "redis", "rabbitmq", "http"}


@pytest.mark.integration
def test_catalog_lists_exactly_what_a_full_scrape_exposes(server: ExporterServer) -> None:
    samples = parse(httpx.get(server.url + "/metrics", timeout=30).text)
    exposed = names(samples)
    for kind, prefix in [("postgres", "pg_"), ("redis", "redis_"), ("rabbitmq", "rabbitmq_")]:
        ours = {n for n in exposed if n.startswith(prefix)}
        assert ours <= set(KNOWN_METRICS[kind]), ours - set(KNOWN_METRICS[kind])


def test_listen_parsing() -> None:
    assert parse_listen("127.0.0.1:9465") == ("127.0.0.1", 9465)
    # one parser for every listener (issue 11): a bare :port binds loopback, never every interface
    assert parse_listen(":9465") == ("127.0.0.1", 9465)
    assert parse_listen("0.0.0.0:9465") == ("0.0.0.0", 9465)
    assert parse_listen("[::1]:9465") == ("::1", 9465)
    for bad in ["nohost", "127.0.0.1:99999", "127.0.0.1:0", "::1:9465", "[]:9465", "h:-1"]:
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_out_of_range_listen_port_is_a_config_error_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: 127.0.0.1:99999\n")
    with pytest.raises(SpecError) as info:
        load_config(bad)
    [problem] = info.value.problems
    assert problem.field == "listen"
    assert "1-65535" in problem.message
    proc = subprocess.run(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "listen" in proc.stderr, proc.stderr


def test_serves_on_ipv6_loopback(tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("listen: '[::1]:9465'\n")
    exporter = Exporter(load_config(config))
    srv = ExporterServer(parse_listen(f"[::1]:{free_port()}"), exporter)
    srv.serve_in_thread()
    try:
        assert srv.url.startswith("http://[::1]:")
        assert httpx.get(srv.url + "/-/healthy", timeout=10).text == "OK\n"
    finally:
        srv.shutdown()
        srv.server_close()
        exporter.close()


_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)


@given(
    host=_hosts, port=st.integers(1, 65535), kind=st.sampled_from(["postgres", "redis", "rabbitmq"])
)
def test_addresses_round_trip(host: str, port: int, kind: str) -> None:
    parsed = parse_address(kind, f"{host}:{port}")
    assert (parsed.host, parsed.port) == (host, port)


_secret_names = st.sampled_from(
    [
        "token",
        "access_token",
        "X-Auth-Token",
        "password",
        "passwd",
        "key",
        "apikey",
        "api_key",
        "secret",
        "client_secret",
        "sig",
        "AWSAccessKeyId",
    ]
)


@given(name=_secret_names, secret=st.from_regex(r"[A-Za-z0-9]{0,12}", fullmatch=True))
def test_secrets_in_http_query_strings_are_always_refused(name: str, secret: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_address("http", f"http://example/health?a=1&{name}=canary{secret}")
    assert "canary" not in str(info.value)


@given(name=st.sampled_from(["q", "page", "verbose", "region", "format"]))
def test_harmless_query_strings_are_accepted_and_redacted_when_shown(name: str) -> None:
    parsed = parse_address("http", f"http://example/health?{name}=1")
    assert parsed.url.endswith(f"?{name}=1")
    assert parsed.shown == "http://example/health?<redacted>"


@given(
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    password=st.from_regex(r"[A-Za-z0-9]{0,12}", fullmatch=True),
    kind=st.sampled_from(["postgres", "redis", "rabbitmq", "http"]),
)
def test_credentials_in_addresses_are_always_refused(user: str, password: str, kind: str) -> None:
    userinfo = f"{user}:{password}@" if password else f"{user}@"
    address = f"http://{userinfo}example:80/" if kind == "http" else f"{userinfo}example:80"
    with pytest.raises(ValueError):
        parse_address(kind, address)


@pytest.mark.integration
def test_passwords_never_appear_in_the_exposition(config_file: Path) -> None:
    doc = yaml.safe_load(config_file.read_text())
    doc["modules"]["pg"]["password"] = "sloplane-secret-canary"
    config_file.write_text(yaml.safe_dump(doc))
    exporter = Exporter(load_config(config_file))
    try:
        from prometheus_client.exposition import generate_latest

        assert b"sloplane-secret-canary" not in generate_latest(exporter.metrics())
    finally:
        exporter.close()
