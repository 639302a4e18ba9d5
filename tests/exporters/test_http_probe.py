"""HTTP probe against local plain and TLS servers (a self-signed certificate made by the test)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sloplane.exporters.config import HttpModule, parse_address
from sloplane.exporters.families import Families
from sloplane.exporters.http_probe import HttpProbeBackend
from sloplane.exporters.target import ScrapeError, Target
from tests.exporters.conftest import assert_promtool_clean, closed_port, exposition, parse, value
from tests.support.slow_http import Mode, slow_http

pytestmark = pytest.mark.integration

CERT_DAYS = 10


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/go?loc="):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.removeprefix("/go?loc=")))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/headers":
            sent = f"auth={'Authorization' in self.headers} x-api={'X-Api' in self.headers}"
            body = sent.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = {
            "/health": (200, b'{"status": "ok", "sealed": false}'),
            "/down": (503, b'{"status": "unavailable"}'),
            "/auth": (200 if self.headers.get("Authorization") else 401, b"auth"),
        }.get(self.path, (404, b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(context: ssl.SSLContext | None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    yield from _serve(None)


@pytest.fixture(scope="module")
def other_server() -> Iterator[str]:
    """A second origin (another port) to redirect to."""
    yield from _serve(None)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dt.datetime]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(days=CERT_DAYS)).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    base = tmp_path_factory.mktemp("tls")
    cert_file, key_file = base / "cert.pem", base / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, not_after


@pytest.fixture(scope="module")
def tls_server(cert: tuple[Path, Path, dt.datetime]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert[0], cert[1])
    yield from _serve(context)


def probe(url: str, **module: object) -> dict:
    backend = HttpProbeBackend(
        HttpModule(kind="http", timeout_seconds=3, **module),
        parse_address("http", url),
    )
    target = Target(url, backend, 3)
    text = exposition(target.scrape())
    assert_promtool_clean(text)
    return parse(text)


def test_healthy_endpoint_succeeds_with_phases(plain_server: str) -> None:
    samples = probe(plain_server + "/health", fail_if_body_not_matches_regexp=['"status": "ok"'])
    assert value(samples, "http_probe_up") == 1
    assert value(samples, "http_probe_success") == 1
    assert value(samples, "http_probe_status_code") == 200
    assert value(samples, "http_probe_body_match") == 1
    assert value(samples, "http_probe_is_tls") == 0
    for phase in ("dns", "connect", "processing", "transfer"):
        assert (value(samples, "http_probe_duration_seconds", phase=phase) or -1) >= 0
    assert value(samples, "http_probe_duration_seconds", phase="tls") == 0


def test_bad_status_fails_but_is_up(plain_server: str) -> None:
    samples = probe(plain_server + "/down")
    assert value(samples, "http_probe_up") == 1
    assert value(samples, "http_probe_success") == 0
    assert value(samples, "http_probe_status_code") == 503
    accepted = probe(plain_server + "/down", valid_status_codes=[503])
    assert value(accepted, "http_probe_success") == 1


def test_body_regex_checks(plain_server: str) -> None:
    assert (
        value(
            probe(plain_server + "/health", fail_if_body_matches_regexp=['"sealed": false']),
            "http_probe_success",
        )
        == 0
    )
    assert (
        value(
            probe(plain_server + "/health", fail_if_body_not_matches_regexp=["nomatch"]),
            "http_probe_body_match",
        )
        == 0
    )


def test_redirects_are_followed_and_counted(plain_server: str) -> None:
    samples = probe(plain_server + "/redirect")
    assert value(samples, "http_probe_status_code") == 200
    assert value(samples, "http_probe_redirects") == 1
    unfollowed = probe(plain_server + "/redirect", follow_redirects=False)
    assert value(unfollowed, "http_probe_status_code") == 302
    assert value(unfollowed, "http_probe_success") == 0


def test_basic_auth_from_the_module(plain_server: str, tmp_path: Path) -> None:
    assert value(probe(plain_server + "/auth"), "http_probe_status_code") == 401
    secret = tmp_path / "pw"
    secret.write_text("pw\n")
    samples = probe(plain_server + "/auth", basic_auth={"username": "u", "password_file": secret})
    assert value(samples, "http_probe_status_code") == 200


def test_tls_endpoint_reports_certificate_expiry(
    tls_server: str, cert: tuple[Path, Path, dt.datetime]
) -> None:
    samples = probe(tls_server + "/health", ca_file=cert[0], fail_if_not_tls=True)
    assert value(samples, "http_probe_success") == 1
    assert value(samples, "http_probe_is_tls") == 1
    assert value(samples, "http_probe_tls_cert_expiry_timestamp_seconds") == cert[2].timestamp()
    assert (value(samples, "http_probe_duration_seconds", phase="tls") or 0) > 0
    assert value(samples, "http_probe_tls_version_info", version="TLSv1.3") == 1


def test_untrusted_certificate_is_a_failure_unless_verification_is_off(tls_server: str) -> None:
    untrusted = probe(tls_server + "/health")
    assert value(untrusted, "http_probe_up") == 0
    assert value(untrusted, "http_probe_success") == 0
    unverified = probe(tls_server + "/health", tls_verify=False)
    assert value(unverified, "http_probe_success") == 1


def test_refused_endpoint_is_down_and_failing() -> None:
    samples = probe(f"http://127.0.0.1:{closed_port()}/health")
    assert value(samples, "http_probe_up") == 0
    assert value(samples, "http_probe_success") == 0
    assert value(samples, "http_probe_scrape_errors_total", reason="connection") == 1


def _go(server: str, location: str) -> str:
    return f"{server}/go?loc={quote(location, safe='')}"


_CREDENTIALED = {"basic_auth": {"username": "u", "password": "pw"}, "headers": {"X-Api": "v"}}


def test_credentials_follow_a_redirect_within_the_origin(plain_server: str) -> None:
    samples = probe(
        _go(plain_server, "/headers"),
        fail_if_body_not_matches_regexp=["^auth=True x-api=True$"],
        **_CREDENTIALED,
    )
    assert value(samples, "http_probe_redirects") == 1
    assert value(samples, "http_probe_success") == 1


def test_credentials_are_dropped_on_a_redirect_to_another_host_port(
    plain_server: str, other_server: str
) -> None:
    samples = probe(
        _go(plain_server, other_server + "/headers"),
        fail_if_body_not_matches_regexp=["^auth=False x-api=False$"],
        **_CREDENTIALED,
    )
    assert value(samples, "http_probe_redirects") == 1
    assert value(samples, "http_probe_success") == 1
    # Back to the first origin later in the chain: still not sent.
    back = probe(
        _go(plain_server, _go(other_server, plain_server + "/headers")),
        fail_if_body_not_matches_regexp=["^auth=False x-api=False$"],
        **_CREDENTIALED,
    )
    assert value(back, "http_probe_redirects") == 2
    assert value(back, "http_probe_success") == 1


def test_a_redirect_from_https_to_http_is_refused(
    tls_server: str,
    plain_server: str,
    cert: tuple[Path, Path, dt.datetime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = probe(_go(tls_server, plain_server + "/health"), ca_file=cert[0], **_CREDENTIALED)
    assert value(samples, "http_probe_up") == 1
    assert value(samples, "http_probe_success") == 0
    assert value(samples, "http_probe_status_code") == 302
    assert value(samples, "http_probe_redirects") == 0
    assert value(samples, "http_probe_is_tls") == 1
    assert any("redirect from https to http refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["body", "headers", "silent", "tls"])
def test_the_deadline_covers_headers_and_body_of_a_byte_a_second_answer(mode: Mode) -> None:
    """Each byte arrives well within a socket timeout; only a deadline over the whole
    exchange ends the probe. Without one, the 100 kB body takes hours."""
    with slow_http(mode, interval=0.05) as server:
        url = server.url.replace("http://", "https://") if mode == "tls" else server.url
        backend = HttpProbeBackend(
            HttpModule(kind="http", timeout_seconds=1), parse_address("http", url + "/")
        )
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                backend.collect(Families("http", {}))
            except BaseException as exc:  # the probe's own error is what we look at
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=20)  # a bound on the test, not a timing assertion
        assert not worker.is_alive(), "the probe read past its deadline"
    [error] = outcome
    assert isinstance(error, ScrapeError)
    assert error.reason == "timeout"
