"""RabbitMQ collector: the management HTTP API when it answers, AMQP passive declares otherwise.

The target is the broker's AMQP address (``host[:port]``, port 5672); the management API
is asked on the same host at the module's ``management_port``. Every scrape also checks
the AMQP connection (one, kept open), so ``rabbitmq_up`` says the address named answers
AMQP and accepts the credentials, whichever source the metrics come from.

With the management plugin (``rabbitmq_management``) every queue of every vhost
the user can see is reported, with message counters and node memory/disk
alarms. Without it (``management: off``, or ``auto`` when the API does not
answer) the collector passively declares the module's configured ``queues``
over one AMQP connection: only ``messages_ready``, ``consumers`` and
``rabbitmq_queue_exists`` are then available, plus ``rabbitmq_connection_blocked``
(the broker blocks publishers during a memory or disk alarm). Unacked counts,
publish/deliver/ack counters, object totals and node metrics need the API.
In ``auto`` mode a failed API attempt is not retried for five minutes.

The management API's requests (overview, nodes, queues) are sent at once, each on its
own keep-alive connection: the broker answers them in parallel, so a scrape waits for the
slowest, not for the sum (issue 15: 50 ms in turn against the built-in plugin's 28 ms).
They go through the standard library's ``http.client``, which the serving process has
loaded anyway; httpx would add its own stack, and, when click is installed, click.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import pika.exceptions

from sloplane.exporters.families import Families
from sloplane.exporters.settings import Address, RabbitMQModule
from sloplane.exporters.target import Backend, ScrapeError

_RETRY_MANAGEMENT_AFTER = 300.0
# Asking only for the fields we read halves the management API's work per scrape.
_OVERVIEW_COLUMNS = ",".join(
    [
        "cluster_name",
        "rabbitmq_version",
        "erlang_version",
        "message_stats.publish",
        "message_stats.deliver_get",
        "message_stats.ack",
        "message_stats.redeliver",
        "object_totals",
    ]
)
_NODE_COLUMNS = ",".join(
    [
        "name",
        "running",
        "mem_used",
        "mem_limit",
        "mem_alarm",
        "disk_free",
        "disk_free_limit",
        "disk_free_alarm",
        "fd_used",
        "fd_total",
        "partitions",
    ]
)
_QUEUE_COLUMNS = ",".join(
    [
        "name",
        "vhost",
        "type",
        "node",
        "leader",
        "members",
        "online",
        "slave_nodes",
        "messages",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "head_message_timestamp",
        "message_stats.publish",
        "message_stats.deliver_get",
        "message_stats.ack",
        "message_stats.redeliver",
    ]
)
# beside_plugin: only what the rabbitmq_prometheus plugin lacks.
_CLUSTER_NODE_COLUMNS = "name,running,partitions"
_PLACEMENT_COLUMNS = ",".join(
    [
        "name",
        "vhost",
        "type",
        "node",
        "leader",
        "members",
        "online",
        "slave_nodes",
        "messages_ready",
    ]
)
# Management API field -> family, per node.
_NODE_FIELDS = {
    "mem_used": "rabbitmq_process_resident_memory_bytes",
    "mem_limit": "rabbitmq_resident_memory_limit_bytes",
    "disk_free": "rabbitmq_disk_space_available_bytes",
    "disk_free_limit": "rabbitmq_disk_space_available_limit_bytes",
    "fd_used": "rabbitmq_process_open_fds",
    "fd_total": "rabbitmq_process_max_fds",
    "mem_alarm": "rabbitmq_alarms_memory_used_watermark",
    "disk_free_alarm": "rabbitmq_alarms_free_disk_space_watermark",
}
# Management API message_stats field -> family suffix, per queue and cluster-wide.
_QUEUE_STATS = {
    "publish": "published",
    "deliver_get": "delivered",
    "ack": "acked",
    "redeliver": "redelivered",
}
_GLOBAL_STATS = {
    "publish": "rabbitmq_global_messages_received",
    "deliver_get": "rabbitmq_global_messages_delivered",
    "ack": "rabbitmq_global_messages_acknowledged",
    "redeliver": "rabbitmq_global_messages_redelivered",
}


class _ManagementUnavailable(Exception):
    """The management API is not there (refused, 404): fall back to AMQP in ``auto`` mode."""


class RabbitMQBackend(Backend):
    kind = "rabbitmq"

    def __init__(self, module: RabbitMQModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._http: _Management | None = None
        self._amqp: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._blocked = False
        self._management_failed_at: float | None = None

    # -- Backend ---------------------------------------------------------------------------

    def collect(self, out: Families) -> None:
        mode = self.module.management
        if mode != "off" and self._management_worth_trying():
            # The target names the AMQP port, and _up is about that address: the API on the
            # same host (management_port) answering says nothing about it. The one AMQP
            # connection is kept open and reused, as in AMQP mode.
            self._connection()
            try:
                self._collect_management(out)
                self._management_failed_at = None
                out.add("rabbitmq_scrape_source", 1, source="management")
                return
            except _ManagementUnavailable as exc:
                if mode == "on":
                    raise ScrapeError("connection", f"management API: {exc}") from exc
                self._management_failed_at = time.monotonic()
        self._collect_amqp(out)
        out.add("rabbitmq_scrape_source", 1, source="amqp")

    def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.close()
        self._drop_amqp()

    def classify(self, exc: Exception) -> ScrapeError:
        message = str(exc).strip() or type(exc).__name__
        if isinstance(exc, pika.exceptions.AMQPConnectionError) and exc.args and not str(exc):
            # pika wraps the socket error: "AMQPConnectorSocketConnectError: ConnectionRefused..."
            message = repr(exc.args[0])
        if isinstance(
            exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.AuthenticationError
        ):
            return ScrapeError("auth", f"AMQP login refused: {message}")
        if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
            return ScrapeError("auth", f"AMQP access denied: {message}")
        if isinstance(exc, TimeoutError):
            return ScrapeError("timeout", message)
        if isinstance(exc, http.client.HTTPException | pika.exceptions.AMQPError | OSError):
            return ScrapeError("connection", f"{type(exc).__name__}: {message}")
        return super().classify(exc)

    # -- management API ------------------------------------------------------------------------

    def _management_worth_trying(self) -> bool:
        failed = self._management_failed_at
        return failed is None or time.monotonic() - failed > _RETRY_MANAGEMENT_AFTER

    def _management(self) -> _Management:
        if self._http is None:
            self._http = _Management(
                self.address.host,
                self.module.management_port,
                tls=self.module.management_tls,
                user=self.module.username,
                password=self.module.secret_or_default(),
                timeout=self.module.timeout_seconds,
            )
        return self._http

    def _collect_management(self, out: Families) -> None:
        api = self._management()
        if self.module.beside_plugin:
            # The plugin has the totals, node resources and queue counts: only the cluster
            # view it lacks, from two lighter requests.
            nodes, queues = api.get(
                f"/api/nodes?columns={_CLUSTER_NODE_COLUMNS}",
                f"/api/queues?columns={_PLACEMENT_COLUMNS}",
            )
            _emit_cluster(out, nodes)
            _emit_queues(out, queues, self.module.queue_limit, counts=False)
            return
        overview, nodes, queues = api.get(
            f"/api/overview?columns={_OVERVIEW_COLUMNS}",
            f"/api/nodes?columns={_NODE_COLUMNS}",
            f"/api/queues?columns={_QUEUE_COLUMNS}",
        )
        _emit_overview(out, overview)
        _emit_nodes(out, nodes, str(overview.get("cluster_name") or ""))
        _emit_queues(out, queues, self.module.queue_limit)

    # -- AMQP fallback ----------------------------------------------------------------------------

    def _connection(self) -> pika.BlockingConnection:
        conn = self._amqp
        if conn is not None and conn.is_open:
            try:
                conn.process_data_events(time_limit=0)  # heartbeats, blocked notices, closes
            except pika.exceptions.AMQPError:
                self._drop_amqp()
        if self._amqp is None or not self._amqp.is_open:
            self._drop_amqp()
            timeout = self.module.timeout_seconds
            params = pika.ConnectionParameters(
                host=self.address.host,
                port=self.address.port,
                virtual_host=self.module.vhost,
                credentials=pika.PlainCredentials(
                    self.module.username, self.module.secret_or_default()
                ),
                connection_attempts=1,
                socket_timeout=timeout,
                stack_timeout=timeout,
                blocked_connection_timeout=None,
                heartbeat=60,
                client_properties={"connection_name": "sloplane-exporter"},
            )
            conn = pika.BlockingConnection(params)
            conn.add_on_connection_blocked_callback(self._on_blocked)
            conn.add_on_connection_unblocked_callback(self._on_unblocked)
            self._amqp = conn
            self._blocked = False
        assert self._amqp is not None
        return self._amqp

    def _on_blocked(self, *_: Any) -> None:
        self._blocked = True

    def _on_unblocked(self, *_: Any) -> None:
        self._blocked = False

    def _channel_open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection().channel()
        return self._channel

    def _collect_amqp(self, out: Families) -> None:
        conn = self._connection()
        vhost = self.module.vhost
        for queue in self.module.queues:
            labels = {"vhost": vhost, "queue": queue}
            try:
                declared = self._channel_open().queue_declare(queue=queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise
                self._channel = None  # the broker closed it; open a fresh one for the next queue
                out.add("rabbitmq_queue_exists", 0, **labels)
                continue
            except pika.exceptions.AMQPError:
                self._drop_amqp()
                raise
            out.add("rabbitmq_queue_exists", 1, **labels)
            out.add("rabbitmq_queue_messages_ready", declared.method.message_count, **labels)
            out.add("rabbitmq_queue_consumers", declared.method.consumer_count, **labels)
        out.add("rabbitmq_connection_blocked", self._blocked if conn.is_open else None)

    def _drop_amqp(self) -> None:
        conn, self._amqp, self._channel = self._amqp, None, None
        if conn is not None and conn.is_open:
            with contextlib.suppress(Exception):
                conn.close()


class _Management:
    """The management API: concurrent GETs, one keep-alive connection per request slot."""

    def __init__(
        self, host: str, port: int, *, tls: bool, user: str, password: str, timeout: float
    ) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self._connections: list[http.client.HTTPConnection | None] = []
        self._pool: ThreadPoolExecutor | None = None

    def get(self, *paths: str) -> list[Any]:
        """Each path's decoded JSON, the requests sent at the same time."""
        while len(self._connections) < len(paths):
            self._connections.append(None)
        if len(paths) == 1:
            return [self._get(0, paths[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(paths), thread_name_prefix="sloplane-rabbitmq")
        futures = [self._pool.submit(self._get, i, path) for i, path in enumerate(paths)]
        return [future.result() for future in futures]  # the first failure is raised

    def close(self) -> None:
        for i, conn in enumerate(self._connections):
            if conn is not None:
                conn.close()
            self._connections[i] = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _connection(self, slot: int) -> http.client.HTTPConnection:
        conn = self._connections[slot]
        if conn is None:
            if self.tls:
                import ssl  # only TLS management endpoints pay for it

                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._connections[slot] = conn
        return conn

    def _get(self, slot: int, path: str) -> Any:
        for attempt in (1, 2):
            conn = self._connection(slot)
            reused = conn.sock is not None
            try:
                conn.request("GET", path, headers=self._headers)
                response = conn.getresponse()
                body = response.read()
            except (ConnectionRefusedError, socket.gaierror) as exc:
                self._drop(slot)
                raise _ManagementUnavailable(f"{self.host}:{self.port}: {exc}") from exc
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(slot)
                if reused and attempt == 1:
                    continue  # the broker closed an idle keep-alive connection: once more
                raise
            except BaseException:
                self._drop(slot)
                raise
            if response.will_close:
                self._drop(slot)
            break
        if response.status == 401:
            raise ScrapeError("auth", "management API refused the credentials (401)")
        if response.status == 404:
            raise _ManagementUnavailable(f"{path.split('?')[0]}: 404")
        if response.status != 200:
            raise ScrapeError(
                "query", f"management API {path.split('?')[0]}: HTTP {response.status}"
            )
        return json.loads(body)

    def _drop(self, slot: int) -> None:
        conn, self._connections[slot] = self._connections[slot], None
        if conn is not None:
            conn.close()


def _emit_overview(out: Families, overview: dict[str, Any]) -> None:
    out.add(
        "rabbitmq_build_info",
        1,
        rabbitmq_version=str(overview.get("rabbitmq_version", "")),
        erlang_version=str(overview.get("erlang_version", "")),
    )
    stats = overview.get("message_stats") or {}
    for field, family in _GLOBAL_STATS.items():
        out.add(family, stats.get(field, 0))
    totals = overview.get("object_totals") or {}
    for field in ("connections", "channels", "queues", "consumers"):
        out.add(f"rabbitmq_{field}", totals.get(field))


def _emit_nodes(out: Families, nodes: list[dict[str, Any]], cluster: str) -> None:
    """Per node, under the plugin's names with a ``rabbitmq_node`` label; stopped nodes too."""
    _emit_cluster(out, nodes)
    for node in sorted(nodes, key=lambda n: str(n.get("name"))):
        name = str(node.get("name", ""))
        out.add("rabbitmq_identity_info", 1, rabbitmq_node=name, rabbitmq_cluster=cluster)
        if not node.get("running"):
            continue  # a stopped node's figures are its last ones, not now's
        for field, family in _NODE_FIELDS.items():
            out.add(family, node.get(field), rabbitmq_node=name)


def _emit_cluster(out: Families, nodes: list[dict[str, Any]]) -> None:
    """The cluster's members: running or not, and the partitions each running node sees."""
    out.add("rabbitmq_cluster_nodes", len(nodes))
    out.add("rabbitmq_cluster_nodes_running", sum(bool(n.get("running")) for n in nodes))
    for node in sorted(nodes, key=lambda n: str(n.get("name"))):
        name = str(node.get("name", ""))
        running = bool(node.get("running"))
        out.add("rabbitmq_node_running", running, rabbitmq_node=name)
        if running:
            partitions = len(node.get("partitions") or [])
            out.add("rabbitmq_node_partitions", partitions, rabbitmq_node=name)


def _emit_queues(
    out: Families, queues: list[dict[str, Any]], limit: int, counts: bool = True
) -> None:
    """The ``limit`` queues with most messages ready, and how many were left out.

    Without ``counts`` (beside the plugin, whose per-object endpoint has them) only the
    placement is reported.
    """
    ranked = sorted(
        queues,
        key=lambda q: (-(q.get("messages_ready") or 0), str(q.get("vhost")), str(q.get("name"))),
    )
    out.add("rabbitmq_exporter_queues_omitted", max(0, len(ranked) - limit))
    for queue in sorted(ranked[:limit], key=lambda q: (str(q.get("vhost")), str(q.get("name")))):
        labels = {"vhost": str(queue.get("vhost", "")), "queue": str(queue.get("name", ""))}
        if counts:
            _emit_queue_counts(out, queue, labels)
        _emit_placement(out, queue, labels)


def _emit_queue_counts(out: Families, queue: dict[str, Any], labels: dict[str, str]) -> None:
    qstats = queue.get("message_stats") or {}
    out.add("rabbitmq_queue_messages_ready", queue.get("messages_ready", 0), **labels)
    out.add("rabbitmq_queue_messages_unacked", queue.get("messages_unacknowledged", 0), **labels)
    out.add("rabbitmq_queue_messages", queue.get("messages", 0), **labels)
    out.add("rabbitmq_queue_consumers", queue.get("consumers", 0), **labels)
    for field, suffix in _QUEUE_STATS.items():
        out.add(f"rabbitmq_queue_messages_{suffix}", qstats.get(field, 0), **labels)
    stamp = queue.get("head_message_timestamp")
    out.add("rabbitmq_queue_head_message_timestamp", stamp if stamp else None, **labels)


def _emit_placement(out: Families, queue: dict[str, Any], labels: dict[str, str]) -> None:
    """Leader and replicas: quorum/stream queues list members; classic ones a home node."""
    kind = str(queue.get("type") or "classic")
    leader = queue.get("leader") or queue.get("node")
    if leader:
        out.add("rabbitmq_queue_leader", 1, **labels, type=kind, rabbitmq_node=str(leader))
    members = queue.get("members")
    if isinstance(members, list):
        out.add("rabbitmq_queue_members", len(members), **labels)
        online = queue.get("online")
        if isinstance(online, list):
            out.add("rabbitmq_queue_members_online", len(online), **labels)
    else:
        mirrors = queue.get("slave_nodes")
        out.add(
            "rabbitmq_queue_members",
            1 + (len(mirrors) if isinstance(mirrors, list) else 0),
            **labels,
        )
