"""HTTP(S) probe with per-phase timings, in the manner of blackbox_exporter's http prober.

Each phase is timed on its own socket operation: ``dns`` (getaddrinfo),
``connect`` (TCP), ``tls`` (handshake), ``processing`` (request sent until the
response headers are in) and ``transfer`` (reading the body); phases add up over
redirects. A probe opens a fresh connection every time, since connect and TLS
times are what it measures.

``http_probe_up`` says the endpoint answered with HTTP at all;
``http_probe_success`` says it answered and every check passed (status code,
body regexes, TLS when required). A refused or unresolvable endpoint gives
``up 0`` and ``success 0`` with the phases measured so far.
"""

from __future__ import annotations

import base64
import http.client
import io
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from cryptography import x509

from sloplane import __version__
from sloplane.exporters.allow import ip_of
from sloplane.exporters.families import Families
from sloplane.exporters.settings import Address, Guard, HttpModule, redact_url
from sloplane.exporters.target import Backend, ScrapeError

log = logging.getLogger("sloplane.exporters")

PHASES = ("dns", "connect", "tls", "processing", "transfer")
_REDIRECTS = {301, 302, 303, 307, 308}


class _Refused(Exception):
    """The guard refused the address a hop resolved to: nothing was sent there."""


@dataclass
class _Probe:
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    status: int | None = None
    redirects: int = 0
    body: bytes = b""
    tls: bool = False
    tls_version: str | None = None
    cert_expiry: float | None = None
    location: str | None = None
    #: Why a redirect was not followed (a downgrade to http, a non-HTTP scheme).
    refused: str | None = None


class HttpProbeBackend(Backend):
    kind = "http"
    partial_on_error = True

    def __init__(self, module: HttpModule, address: Address, guard: Guard | None = None) -> None:
        self.module = module
        self.address = address
        self.guard = guard
        self._last_failure: str | None = None

    def collect(self, out: Families) -> None:
        probe = _Probe()
        deadline = time.monotonic() + self.module.timeout_seconds
        try:
            self._run(probe, deadline)
        except (OSError, http.client.HTTPException) as exc:
            _emit(out, probe, success=False, body_match=None)
            raise self.classify(exc) from exc
        body_ok = self._body_matches(probe.body)
        failure = self._check(probe, body_ok)
        _emit(
            out,
            probe,
            success=failure is None,
            body_match=None if body_ok is None else body_ok,
        )
        self._log_failure(failure)

    def close(self) -> None:
        """Nothing to release: every probe uses a fresh connection."""

    def classify(self, exc: Exception) -> ScrapeError:
        if isinstance(exc, TimeoutError | socket.timeout):
            return ScrapeError("timeout", f"{self.address.shown}: timed out")
        if isinstance(exc, socket.gaierror):
            return ScrapeError("connection", f"{self.address.shown}: cannot resolve: {exc}")
        if isinstance(exc, ssl.SSLError):
            return ScrapeError("connection", f"{self.address.shown}: TLS: {exc}")
        if isinstance(exc, OSError | http.client.HTTPException):
            return ScrapeError("connection", f"{self.address.shown}: {type(exc).__name__}: {exc}")
        return super().classify(exc)

    def _run(self, probe: _Probe, deadline: float) -> None:
        """Request the URL and follow redirects, trusting only the target's own origin.

        As Go's net/http does, ``Authorization`` and the module's headers go only to the
        scheme and host:port the target names: after a redirect elsewhere they are dropped
        (for the rest of the chain). A redirect from https to http is not followed at all.
        """
        url = self.address.url
        origin = _origin(url)
        trusted = True
        while True:
            try:
                self._request(probe, url, deadline, self._headers(trusted=trusted))
            except _Refused as exc:
                probe.refused = str(exc)
                return
            location = probe.location
            if not (
                self.module.follow_redirects
                and probe.status in _REDIRECTS
                and location
                and probe.redirects < self.module.max_redirects
            ):
                return
            following = urljoin(url, location)
            scheme = urlsplit(following).scheme
            if scheme not in ("http", "https") or not urlsplit(following).hostname:
                probe.refused = f"redirect to a non-HTTP URL refused: {redact_url(following)}"
                return
            if urlsplit(url).scheme == "https" and scheme == "http":
                probe.refused = f"redirect from https to http refused: {redact_url(following)}"
                return
            trusted = trusted and _origin(following) == origin
            probe.redirects += 1
            url = following

    def _request(self, probe: _Probe, url: str, deadline: float, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)

        started = time.perf_counter()
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        probe.phases["dns"] += time.perf_counter() - started
        family, socktype, proto, _, sockaddr = infos[0]
        if self.guard is not None:
            ip = ip_of(str(sockaddr[0]))
            refusal = self.guard(Address(host, port, url=url), [ip] if ip else [])
            if refusal is not None:
                raise _Refused(f"not connecting: {refusal}")

        sock: socket.socket = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(_remaining(deadline))
            started = time.perf_counter()
            sock.connect(sockaddr)
            probe.phases["connect"] += time.perf_counter() - started
            probe.tls = https
            if https:
                started = time.perf_counter()
                # The handshake as a whole is bounded by the socket timeout (CPython keeps
                # one deadline across its reads and writes), so re-arm it once here.
                sock.settimeout(_remaining(deadline))
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
                probe.phases["tls"] += time.perf_counter() - started
                assert isinstance(sock, ssl.SSLSocket)
                probe.tls_version = sock.version()
                der = sock.getpeercert(binary_form=True)
                if der:
                    cert = x509.load_der_x509_certificate(der)
                    probe.cert_expiry = cert.not_valid_after_utc.timestamp()

            conn = http.client.HTTPConnection(host, port, timeout=_remaining(deadline))
            # Every read and write re-arms the socket timeout with what is left of the
            # deadline, so a server answering a byte at a time cannot stretch the probe.
            conn.sock = _DeadlineSocket(sock, deadline)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            started = time.perf_counter()
            conn.request(
                self.module.method,
                target,
                body=self.module.body.encode() if self.module.body is not None else None,
                headers=headers,
            )
            response = conn.getresponse()
            probe.phases["processing"] += time.perf_counter() - started
            probe.status = response.status
            probe.location = response.getheader("Location")
            started = time.perf_counter()
            probe.body = response.read(self.module.max_body_bytes)
            probe.phases["transfer"] += time.perf_counter() - started
            response.close()
            conn.close()
        finally:
            sock.close()

    def _headers(self, *, trusted: bool = True) -> dict[str, str]:
        """Request headers; the module's own and its credentials only for the target's origin."""
        headers = {"User-Agent": f"sloplane-exporter/{__version__}", "Connection": "close"}
        if not trusted:
            return headers
        headers.update(self.module.headers)
        auth = self.module.basic_auth
        if auth is not None:
            token = base64.b64encode(f"{auth.username}:{auth.secret() or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        elif self.module.bearer_token_file is not None:
            token = self.module.bearer_token_file.read_text(encoding="utf-8").strip()
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(self.module.ca_file) if self.module.ca_file else None
        )
        if not self.module.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _body_matches(self, body: bytes) -> bool | None:
        must = self.module.fail_if_body_not_matches_regexp
        must_not = self.module.fail_if_body_matches_regexp
        if not must and not must_not:
            return None
        text = body.decode("utf-8", errors="replace")
        return all(re.search(p, text) for p in must) and not any(
            re.search(p, text) for p in must_not
        )

    def _check(self, probe: _Probe, body_ok: bool | None) -> str | None:
        if probe.refused is not None:
            return probe.refused
        if probe.status is None or not self.module.status_ok(probe.status):
            return f"status {probe.status} not accepted"
        if body_ok is False:
            return "body regex check failed"
        if self.module.fail_if_not_tls and not probe.tls:
            return "not TLS"
        return None

    def _log_failure(self, failure: str | None) -> None:
        if failure != self._last_failure:
            if failure is not None:
                log.warning("probe %s failed: %s", self.address.shown, failure)
            else:
                log.info("probe %s succeeds", self.address.shown)
        self._last_failure = failure


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a bad port in a Location: an origin nothing else has
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


class _DeadlineSocket:
    """The socket as :class:`http.client.HTTPConnection` uses it, bounded by one deadline.

    A socket timeout bounds each ``recv`` alone: a server sending a byte a second never
    trips it. Here every ``sendall`` and every ``recv_into`` behind ``makefile`` first sets
    the timeout to the time left, and raises :class:`TimeoutError` once none is left, so
    the request, the headers and the body together end at the deadline.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        # Since Python 3.5 the timeout bounds the whole sendall, not each chunk.
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """The probe closes the real socket itself, once, in :meth:`HttpProbeBackend._request`."""


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("probe deadline passed")
    return left


def _emit(out: Families, probe: _Probe, *, success: bool, body_match: bool | None) -> None:
    out.add("http_probe_success", success)
    out.add("http_probe_status_code", probe.status if probe.status is not None else 0)
    for phase in PHASES:
        out.add("http_probe_duration_seconds", probe.phases[phase], phase=phase)
    out.add("http_probe_redirects", probe.redirects)
    out.add("http_probe_body_size_bytes", len(probe.body))
    out.add("http_probe_body_match", body_match)
    out.add("http_probe_is_tls", probe.tls)
    out.add("http_probe_tls_cert_expiry_timestamp_seconds", probe.cert_expiry)
    if probe.tls_version:
        out.add("http_probe_tls_version", 1, version=probe.tls_version)
