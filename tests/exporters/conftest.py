"""Fixtures for the exporter tests: the machine's real servers, and private ones to stop.

The shared PostgreSQL, Redis and RabbitMQ are started when they do not answer.
Tests that stop a server, lock a catalog or require a password do it on a
private PostgreSQL cluster or Redis server on a free loopback port, so other
tests on this machine never see those servers go away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import free_port, promtool

PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").exists()
        else "15"
    )
    / "bin"
)


# -- helpers ---------------------------------------------------------------------------------


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check, timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the one sample named ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} samples")
    return found[0] if found else None


def num(samples: Samples, name: str, **labels: str) -> float:
    """Like :func:`value`, for a sample that must be there."""
    found = value(samples, name, **labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}


#: promtool's lint findings on names we keep because the community exporters use them
#: (postgres_exporter's gauges end in ``_count``; its dashboards and alerts query them).
COMMUNITY_NAME_LINTS = frozenset(
    f'{name} non-histogram and non-summary metrics should not have "_count" suffix'
    for name in ("pg_stat_activity_count", "pg_locks_count")
)


def assert_promtool_clean(text: str) -> None:
    """promtool check metrics finds nothing but the community names we keep on purpose."""
    proc = subprocess.run(
        [shutil.which("promtool") or "/usr/bin/promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = [
        line.strip()
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and line.strip() not in COMMUNITY_NAME_LINTS
    ]
    assert findings == [], proc.stdout + proc.stderr
    # promtool exits 3 on lint findings only; anything else is a parse error.
    assert proc.returncode == 0 or (proc.returncode == 3 and findings == []), proc.stderr


def exposition(metrics) -> str:
    from prometheus_client.exposition import generate_latest

    class _R:
        def collect(self):
            return metrics

    return generate_latest(_R()).decode()


__all__ = ["promtool"]


# -- the machine's shared servers -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not answers("127.0.0.1", 5432):
        versions = os.listdir("/etc/postgresql")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", sorted(versions)[-1], "main", "start"],
            check=False,
            timeout=60,
        )
        wait_until(lambda: answers("127.0.0.1", 5432), 30, what="PostgreSQL on 5432")
    return "127.0.0.1:5432"


@pytest.fixture(scope="session")
def redis_server() -> str:
    if not answers("127.0.0.1", 6379):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
            ],
            check=False,
            timeout=30,
        )
        wait_until(lambda: redis.Redis(port=6379).ping(), 30, what="Redis on 6379")
    return "127.0.0.1:6379"


@pytest.fixture(scope="session")
def rabbitmq_server() -> str:
    if not answers("127.0.0.1", 5672):
        subprocess.run(["rabbitmq-server", "-detached"], check=False, timeout=60)
        wait_until(lambda: answers("127.0.0.1", 5672), 90, interval=1, what="RabbitMQ on 5672")
    return "127.0.0.1:5672"


@pytest.fixture(scope="session")
def rabbitmq_management(rabbitmq_server: str) -> str:
    """The management API on 15672, enabling the plugin when it is off; skips if that fails."""

    def api_ok() -> bool:
        return (
            httpx.get(
                "http://127.0.0.1:15672/api/overview", auth=("guest", "guest"), timeout=2
            ).status_code
            == 200
        )

    with contextlib.suppress(httpx.HTTPError):
        if api_ok():
            return rabbitmq_server
    proc = subprocess.run(
        ["rabbitmq-plugins", "enable", "rabbitmq_management"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot enable rabbitmq_management: {proc.stderr.strip()}")
    wait_until(api_ok, 60, interval=0.5, what="RabbitMQ management API")
    return rabbitmq_server


# -- private servers -------------------------------------------------------------------------------


@dataclass
class PrivatePostgres:
    port: int
    data_dir: Path
    socket_dir: Path
    password: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "60",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        self._ctl(
            "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            str(self.data_dir / "server.log"),
            "start",
        )

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throwaway cluster with password (scram) authentication, owned by the postgres user."""
    if shutil.which("runuser") is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries or runuser are not installed")
    base = Path(tempfile.mkdtemp(prefix="sloplane-pg-"))
    os.chmod(base, 0o755)
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    pwfile = base / "pw"
    pwfile.write_text("s3cret\n")
    subprocess.run(["chown", "-R", "postgres:postgres", str(base)], check=True)
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(free_port(), data, sockets, "s3cret")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int
    password: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                self.password,
                "--maxmemory",
                "64mb",
                "--slowlog-log-slower-than",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.client().ping(), 20, what="private Redis")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), "hunter2")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
