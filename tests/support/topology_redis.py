"""A Redis master with a replica (``--replicaof``) and a Sentinel watching them, on loopback.

Each server runs on a free port from a private temporary directory, without
persistence to disk beyond what the test asks for. The Sentinel's master name is
unique per run, so a Sentinel of another session never adopts our servers.
:func:`redis_topology` stops every process and removes the directory on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.processes import free_port, stop_process


@dataclass
class RedisNode:
    name: str
    port: int
    args: list[str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "server.out").open("ab")
        self.proc = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not answering after {timeout}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=3, socket_connect_timeout=3)

    def log(self) -> str:
        path = self.workdir / "server.out"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class RedisTopology:
    master: RedisNode
    replica: RedisNode
    sentinel: RedisNode
    master_name: str


def _server(name: str, base: Path, *extra: str) -> RedisNode:
    port = free_port()
    workdir = base / name
    args = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *extra,
    ]
    return RedisNode(name, port, args, workdir)


@contextlib.contextmanager
def redis_topology(down_after_ms: int = 1000, quorum: int = 1) -> Iterator[RedisTopology]:
    """Master, replica and one Sentinel monitoring the master, all running.

    With ``quorum`` above 1 the lone Sentinel can never reach it (CKQUORUM fails).
    """
    base = Path(tempfile.mkdtemp(prefix="sloplane-redis-"))
    master_name = f"sloptest-{uuid.uuid4().hex[:8]}"
    master = _server("master", base)
    # Priority 0: the Sentinel never promotes it, so a stopped master stays down (odown) and
    # the replica's link stays down, instead of a failover racing the test's checks.
    replica = _server(
        "replica", base, "--replicaof", "127.0.0.1", str(master.port), "--replica-priority", "0"
    )
    sentinel_port = free_port()
    sentinel_dir = base / "sentinel"
    sentinel_dir.mkdir()
    conf = sentinel_dir / "sentinel.conf"
    conf.write_text(
        "\n".join(
            [
                f"port {sentinel_port}",
                "bind 127.0.0.1",
                f"dir {sentinel_dir}",
                f"sentinel monitor {master_name} 127.0.0.1 {master.port} {quorum}",
                f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
                f"sentinel failover-timeout {master_name} 60000",
                "",
            ]
        )
    )
    sentinel = RedisNode(
        "sentinel",
        sentinel_port,
        [shutil.which("redis-sentinel") or "redis-sentinel", str(conf)],
        sentinel_dir,
    )
    nodes = [master, replica, sentinel]
    try:
        for node in nodes:
            node.start()
        wait_link_up(replica)
        yield RedisTopology(master, replica, sentinel, master_name)
    finally:
        for node in reversed(nodes):
            with contextlib.suppress(Exception):
                node.stop()
        shutil.rmtree(base, ignore_errors=True)


def wait_link_up(replica: RedisNode, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if replica.client().info("replication").get("master_link_status") == "up":
                return
        time.sleep(0.1)
    raise TimeoutError(f"replica link not up after {timeout}s")
