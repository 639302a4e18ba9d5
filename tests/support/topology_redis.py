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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.processes import free_port, stop_process
from tests.support.servers import private_dir, stop_all, wait_for


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
        wait_for(
            lambda: bool(self.client().ping()),
            timeout,
            f"redis {self.name}",
            self.proc,
            self.log,
            errors=(redis.RedisError,),
        )

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
    master_name = f"sloptest-{uuid.uuid4().hex[:8]}"
    with private_dir("sloplane-redis-") as base:
        nodes = _nodes(base, down_after_ms, quorum, master_name)
        try:
            for node in nodes:
                node.start()
            master, replica, sentinel = nodes
            wait_link_up(replica)
            yield RedisTopology(master, replica, sentinel, master_name)
        finally:
            stop_all(nodes)


def _nodes(base: Path, down_after_ms: int, quorum: int, master_name: str) -> list[RedisNode]:
    """Master, replica and Sentinel, configured and not started."""
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
    return [master, replica, sentinel]


def wait_link_up(replica: RedisNode, timeout: float = 30) -> None:
    wait_for(
        lambda: replica.client().info("replication").get("master_link_status") == "up",
        timeout,
        "the replica's link to its master",
        errors=(redis.RedisError,),
    )
