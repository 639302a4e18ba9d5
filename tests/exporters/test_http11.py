"""The exporter's HTTP/1.1 (:mod:`sloplane.exporters.http11`): what scrapers send, and what they should not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloplane.exporters.config import parse_config
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.server import ExporterServer


@contextmanager
def _server() -> Iterator[ExporterServer]:
    exporter = Exporter(parse_config({}))
    srv = ExporterServer(("127.0.0.1", 0), exporter)
    srv.serve_in_thread()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        exporter.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ExporterServer]:
    with _server() as srv:
        yield srv


def _exchange(srv: ExporterServer, raw: bytes) -> bytes:
    with socket.create_connection(srv.server_address[:2], timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_serves_requests_in_turn(server: ExporterServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(3):
            assert client.get("/-/healthy").text == "OK\n"
        metrics = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert metrics.status_code == 200 and "sloplane_exporter_build_info" in metrics.text
        assert client.get("/nowhere").status_code == 404


def test_pipelined_requests_are_answered_in_order(server: ExporterServer) -> None:
    raw = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = _exchange(server, raw)
    assert answer.index(b"200 OK") < answer.index(b"404 Not Found")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", b"413"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"501"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", b"405"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
    ],
)
def test_malformed_requests_get_their_4xx_or_5xx(
    server: ExporterServer, raw: bytes, status: bytes
) -> None:
    assert _exchange(server, raw).startswith(b"HTTP/1.1 " + status)


def test_head_has_headers_and_no_body(server: ExporterServer) -> None:
    answer = _exchange(server, b"HEAD /-/healthy HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 3" in answer
    assert answer.endswith(b"\r\n\r\n")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_any_bytes_get_an_answer_or_a_close_and_the_server_lives_on(
    server: ExporterServer, raw: bytes
) -> None:
    answer = _exchange(server, raw)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    assert httpx.get(server.url + "/-/healthy", timeout=10).status_code == 200
