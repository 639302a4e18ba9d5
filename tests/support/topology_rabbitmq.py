"""A RabbitMQ cluster of private nodes on one machine, for tests and benchmarks.

Each node gets its own node name (unique per run, so other sessions' brokers and
clusters never meet ours), AMQP, distribution, management and Prometheus-plugin
ports chosen free on loopback, its own Mnesia and log directories, and a private
Erlang cookie under a private ``HOME``. Nodes run as the ``rabbitmq`` user (the
server refuses nothing as root, but the Debian layout expects it) and every step
has a bounded wait. :func:`rabbitmq_cluster` stops every node and removes the
directories whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import free_port
from tests.support.servers import give_to, private_dir, stop_all, wait_for

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
PLUGINS = "[rabbitmq_management,rabbitmq_prometheus]."


@dataclass
class RabbitNode:
    """One broker node; ``amqp``, ``management`` and ``prometheus`` are its loopback ports."""

    name: str
    home: Path
    amqp: int
    dist: int
    management: int
    prometheus: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.amqp}"

    @property
    def plugin_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus}/metrics"

    def start(self) -> None:
        log = (self.home / "server.out").open("ab")
        self.proc = subprocess.Popen(
            ["runuser", "-u", "rabbitmq", "--", str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,
        )

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "runuser",
                "-u",
                "rabbitmq",
                "--",
                str(RABBIT_BIN / "rabbitmqctl"),
                "-n",
                self.name,
                *list(args),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.home,
        )

    def wait_running(self, timeout: float = 120) -> None:
        """Wait until the node's app is up and the management API answers."""
        wait_for(
            self._management_answers,
            timeout,
            f"rabbitmq {self.name}",
            self.proc,
            self.log,
            interval=0.5,
            errors=(httpx.HTTPError,),
        )

    def _management_answers(self) -> bool:
        return (
            httpx.get(
                f"http://127.0.0.1:{self.management}/api/overview",
                auth=("guest", "guest"),
                timeout=2,
            ).status_code
            == 200
        )

    def stop(self, timeout: float = 60) -> None:
        """Stop the node (``rabbitmqctl stop``, then SIGKILL to its process group)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ctl("stop", timeout=timeout)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """Kill the node abruptly (SIGKILL to its process group), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def log(self) -> str:
        path = self.home / "server.out"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class RabbitCluster:
    nodes: list[RabbitNode]
    base: Path

    @property
    def cluster_name(self) -> str:
        return self.nodes[0].name.split("@")[0]


def _node(base: Path, tag: str, index: int, cookie: str) -> RabbitNode:
    name = f"sloptest-{tag}-{index}@localhost"
    home = base / f"node{index}"
    home.mkdir()
    node = RabbitNode(name, home, free_port(), free_port(), free_port(), free_port())
    (home / ".erlang.cookie").write_text(cookie)
    os.chmod(home / ".erlang.cookie", 0o400)
    (home / "rabbitmq.conf").write_text(
        "\n".join(
            [
                f"listeners.tcp.default = 127.0.0.1:{node.amqp}",
                f"management.tcp.port = {node.management}",
                "management.tcp.ip = 127.0.0.1",
                f"prometheus.tcp.port = {node.prometheus}",
                "prometheus.tcp.ip = 127.0.0.1",
                "loopback_users = none",
                "collect_statistics_interval = 1000",
                "",
            ]
        )
    )
    (home / "enabled_plugins").write_text(PLUGINS + "\n")
    (home / "env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
    node.env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(node.amqp),
        "RABBITMQ_DIST_PORT": str(node.dist),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "pid"),
        "RABBITMQ_LOGS": str(home / "log" / "node.log"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    return node


@contextlib.contextmanager
def rabbitmq_cluster(size: int = 2, timeout: float = 180) -> Iterator[RabbitCluster]:
    """``size`` clustered nodes, all running; every node stopped and removed on exit."""
    if not (RABBIT_BIN / "rabbitmq-server").exists() or shutil.which("runuser") is None:
        raise RuntimeError("rabbitmq-server or runuser is not installed")
    with private_dir("sloplane-rmq-") as base:
        tag = uuid.uuid4().hex[:8]
        cookie = secrets.token_hex(16).upper()
        nodes = [_node(base, tag, i, cookie) for i in range(size)]
        give_to(base, "rabbitmq")
        try:
            for node in nodes:
                node.start()
            for node in nodes:
                node.wait_running(timeout)
            first = nodes[0]
            for node in nodes[1:]:
                for step in (["stop_app"], ["join_cluster", first.name], ["start_app"]):
                    done = node.ctl(*step, timeout=timeout)
                    if done.returncode != 0:
                        raise RuntimeError(f"{node.name} {step}: {done.stdout}{done.stderr}")
                node.wait_running(timeout)
            yield RabbitCluster(nodes, base)
        finally:
            stop_all(_Halt(node) for node in nodes)


@dataclass
class _Halt:
    """Stops a node politely, then kills what is left of it."""

    node: RabbitNode

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.node.stop(timeout=30)
        self.node.kill()
