"""Every metric family the exporters and the ASGI middleware expose.

This is the single source of truth: the collectors build their families from
these specs (so a family cannot be emitted without being listed here), and
dashboards and ``sloplane check`` read :data:`KNOWN_METRICS` to know which
series exist without running an exporter.

Names follow the Prometheus conventions: base units (seconds, bytes), counters
end in ``_total`` in PromQL, no colons. :data:`KNOWN_METRICS` lists the names as
they are written in PromQL: counters with ``_total``, histograms as their
``_bucket``/``_count``/``_sum`` series (prometheus_client also exposes a
``_created`` series beside counters and histograms of the ASGI middleware unless
``disable_created_metrics()`` is called; those are not listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram", "info"]


@dataclass(frozen=True)
class FamilySpec:
    """One metric family: its exposition name (counters without ``_total``), type, help, labels."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()

    def series_names(self) -> list[str]:
        if self.type == "counter":
            return [self.name + "_total"]
        if self.type == "histogram":
            return [self.name + "_bucket", self.name + "_count", self.name + "_sum"]
        if self.type == "info":
            return [self.name + "_info"]
        return [self.name]


def _common(prefix: str, what: str) -> list[FamilySpec]:
    """The families every target reports, whatever happened during the scrape."""
    return [
        FamilySpec(f"{prefix}_up", "gauge", f"1 if the {what} answered this scrape, 0 if not."),
        FamilySpec(
            f"{prefix}_scrape_duration_seconds",
            "gauge",
            f"Time spent collecting from the {what} in this scrape.",
        ),
        FamilySpec(
            f"{prefix}_last_scrape_error",
            "gauge",
            "1 if the last scrape of this target failed, 0 if it succeeded.",
        ),
        FamilySpec(
            f"{prefix}_scrape_errors",
            "counter",
            "Failed scrapes of this target since the exporter started, by reason.",
            ("reason",),
        ),
    ]


POSTGRES: list[FamilySpec] = [
    *_common("pg", "PostgreSQL server"),
    FamilySpec("pg_server", "info", "PostgreSQL server version.", ("version",)),
    FamilySpec("pg_postmaster_start_time_seconds", "gauge", "Unix time the postmaster started."),
    FamilySpec(
        "pg_connections",
        "gauge",
        "Client backends by database and state (pg_stat_activity).",
        ("datname", "state"),
    ),
    FamilySpec("pg_max_connections", "gauge", "The max_connections setting."),
    FamilySpec(
        "pg_superuser_reserved_connections",
        "gauge",
        "The superuser_reserved_connections setting.",
    ),
    FamilySpec(
        "pg_longest_transaction_seconds",
        "gauge",
        "Age of the oldest open transaction of any client backend (0 when none).",
    ),
    FamilySpec("pg_stat_database_xact_commit", "counter", "Transactions committed.", ("datname",)),
    FamilySpec(
        "pg_stat_database_xact_rollback", "counter", "Transactions rolled back.", ("datname",)
    ),
    FamilySpec(
        "pg_stat_database_blks_read",
        "counter",
        "Disk blocks read (cache misses).",
        ("datname",),
    ),
    FamilySpec(
        "pg_stat_database_blks_hit",
        "counter",
        "Disk blocks found in shared buffers (cache hits).",
        ("datname",),
    ),
    FamilySpec(
        "pg_stat_database_tup_returned", "counter", "Rows returned by queries.", ("datname",)
    ),
    FamilySpec("pg_stat_database_tup_fetched", "counter", "Rows fetched by queries.", ("datname",)),
    FamilySpec("pg_stat_database_tup_inserted", "counter", "Rows inserted.", ("datname",)),
    FamilySpec("pg_stat_database_tup_updated", "counter", "Rows updated.", ("datname",)),
    FamilySpec("pg_stat_database_tup_deleted", "counter", "Rows deleted.", ("datname",)),
    FamilySpec("pg_stat_database_deadlocks", "counter", "Deadlocks detected.", ("datname",)),
    FamilySpec(
        "pg_stat_database_conflicts",
        "counter",
        "Queries cancelled by recovery conflicts.",
        ("datname",),
    ),
    FamilySpec("pg_stat_database_temp_files", "counter", "Temporary files created.", ("datname",)),
    FamilySpec(
        "pg_stat_database_temp_bytes",
        "counter",
        "Bytes written to temporary files.",
        ("datname",),
    ),
    FamilySpec(
        "pg_database_size_bytes",
        "gauge",
        "Disk space used by the database (refreshed every size_cache_seconds).",
        ("datname",),
    ),
    FamilySpec(
        "pg_locks",
        "gauge",
        "Locks held or awaited, by database, mode and whether granted.",
        ("datname", "mode", "granted"),
    ),
    FamilySpec("pg_replication_is_replica", "gauge", "1 if the server is in recovery (a replica)."),
    FamilySpec(
        "pg_replication_lag_seconds",
        "gauge",
        "On a replica: time since the last replayed transaction; 0 on a primary.",
    ),
    FamilySpec(
        "pg_replication_replica_lag_bytes",
        "gauge",
        "On a primary: WAL bytes each connected replica has not replayed yet.",
        ("application_name", "client_addr"),
    ),
    FamilySpec(
        "pg_replication_replica_replay_lag_seconds",
        "gauge",
        "On a primary: replay lag reported by each connected replica.",
        ("application_name", "client_addr"),
    ),
    FamilySpec("pg_checkpoints_timed", "counter", "Scheduled checkpoints performed."),
    FamilySpec("pg_checkpoints_requested", "counter", "Requested checkpoints performed."),
    FamilySpec(
        "pg_checkpoint_write_time_seconds",
        "counter",
        "Time spent writing files during checkpoints.",
    ),
    FamilySpec(
        "pg_checkpoint_sync_time_seconds",
        "counter",
        "Time spent syncing files during checkpoints.",
    ),
    FamilySpec("pg_checkpoint_buffers_written", "counter", "Buffers written by checkpoints."),
]

REDIS: list[FamilySpec] = [
    *_common("redis", "Redis server"),
    FamilySpec(
        "redis_server", "info", "Redis version, role and mode.", ("version", "role", "mode")
    ),
    FamilySpec("redis_uptime_seconds", "gauge", "Seconds since the server started."),
    FamilySpec("redis_connected_clients", "gauge", "Client connections (replicas excluded)."),
    FamilySpec("redis_blocked_clients", "gauge", "Clients blocked on a blocking call."),
    FamilySpec("redis_max_clients", "gauge", "The maxclients setting."),
    FamilySpec("redis_connections_received", "counter", "Connections accepted."),
    FamilySpec("redis_rejected_connections", "counter", "Connections rejected (maxclients)."),
    FamilySpec("redis_memory_used_bytes", "gauge", "Memory allocated by Redis."),
    FamilySpec("redis_memory_used_rss_bytes", "gauge", "Resident set size of the server."),
    FamilySpec("redis_memory_used_peak_bytes", "gauge", "Peak memory allocated by Redis."),
    FamilySpec("redis_memory_max_bytes", "gauge", "The maxmemory setting (0 means no limit)."),
    FamilySpec("redis_mem_fragmentation_ratio", "gauge", "RSS divided by used memory."),
    FamilySpec("redis_commands_processed", "counter", "Commands processed by the server."),
    FamilySpec("redis_commands", "counter", "Calls per command.", ("cmd",)),
    FamilySpec(
        "redis_commands_duration_seconds", "counter", "CPU time spent per command.", ("cmd",)
    ),
    FamilySpec(
        "redis_commands_rejected_calls",
        "counter",
        "Calls rejected before execution, per command.",
        ("cmd",),
    ),
    FamilySpec(
        "redis_commands_failed_calls", "counter", "Calls that failed during execution.", ("cmd",)
    ),
    FamilySpec(
        "redis_command_latency_seconds",
        "gauge",
        "Per-command latency percentiles the server tracks (Redis 7+ latencystats).",
        ("cmd", "percentile"),
    ),
    FamilySpec("redis_keyspace_hits", "counter", "Successful key lookups."),
    FamilySpec("redis_keyspace_misses", "counter", "Failed key lookups."),
    FamilySpec("redis_evicted_keys", "counter", "Keys evicted because of maxmemory."),
    FamilySpec("redis_expired_keys", "counter", "Keys expired."),
    FamilySpec("redis_db_keys", "gauge", "Keys per database.", ("db",)),
    FamilySpec("redis_db_keys_expiring", "gauge", "Keys with a TTL per database.", ("db",)),
    FamilySpec("redis_slowlog_length", "gauge", "Entries in the slow log."),
    FamilySpec("redis_net_input_bytes", "counter", "Bytes received from the network."),
    FamilySpec("redis_net_output_bytes", "counter", "Bytes sent to the network."),
    FamilySpec("redis_connected_replicas", "gauge", "Replicas connected to this server."),
    FamilySpec(
        "redis_master_link_up",
        "gauge",
        "On a replica: 1 if the link to the master is up (absent on a master).",
    ),
    FamilySpec(
        "redis_master_last_io_seconds",
        "gauge",
        "On a replica: seconds since the last interaction with the master.",
    ),
    FamilySpec("redis_replication_offset", "gauge", "Replication offset of this server."),
]

RABBITMQ: list[FamilySpec] = [
    *_common("rabbitmq", "RabbitMQ broker"),
    FamilySpec(
        "rabbitmq_scrape_source",
        "info",
        "Where the metrics came from: 'management' (HTTP API) or 'amqp' (passive declares).",
        ("source",),
    ),
    FamilySpec(
        "rabbitmq_queue_messages_ready",
        "gauge",
        "Messages ready for delivery.",
        ("vhost", "queue"),
    ),
    FamilySpec(
        "rabbitmq_queue_messages_unacked",
        "gauge",
        "Messages delivered but not yet acknowledged (management API only).",
        ("vhost", "queue"),
    ),
    FamilySpec("rabbitmq_queue_consumers", "gauge", "Consumers of the queue.", ("vhost", "queue")),
    FamilySpec(
        "rabbitmq_queue_exists",
        "gauge",
        "AMQP mode: 1 if the configured queue exists, 0 if a passive declare found none.",
        ("vhost", "queue"),
    ),
    FamilySpec(
        "rabbitmq_queue_messages_published",
        "counter",
        "Messages published into the queue (management API only).",
        ("vhost", "queue"),
    ),
    FamilySpec(
        "rabbitmq_queue_messages_delivered",
        "counter",
        "Messages delivered to consumers or fetched (management API only).",
        ("vhost", "queue"),
    ),
    FamilySpec(
        "rabbitmq_queue_messages_acked",
        "counter",
        "Messages acknowledged by consumers (management API only).",
        ("vhost", "queue"),
    ),
    FamilySpec("rabbitmq_messages_published", "counter", "Messages published, all vhosts."),
    FamilySpec("rabbitmq_messages_delivered", "counter", "Messages delivered, all vhosts."),
    FamilySpec("rabbitmq_messages_acked", "counter", "Messages acknowledged, all vhosts."),
    FamilySpec("rabbitmq_connections", "gauge", "Client connections."),
    FamilySpec("rabbitmq_channels", "gauge", "Open channels."),
    FamilySpec("rabbitmq_queues", "gauge", "Declared queues."),
    FamilySpec("rabbitmq_consumers", "gauge", "Consumers, all queues."),
    FamilySpec("rabbitmq_node_running", "gauge", "1 if the node is running.", ("node",)),
    FamilySpec("rabbitmq_node_memory_used_bytes", "gauge", "Memory used by the node.", ("node",)),
    FamilySpec(
        "rabbitmq_node_memory_limit_bytes",
        "gauge",
        "Memory high watermark of the node.",
        ("node",),
    ),
    FamilySpec(
        "rabbitmq_node_memory_alarm", "gauge", "1 if the memory alarm is in effect.", ("node",)
    ),
    FamilySpec("rabbitmq_node_disk_free_bytes", "gauge", "Free disk space.", ("node",)),
    FamilySpec("rabbitmq_node_disk_free_limit_bytes", "gauge", "Free disk space limit.", ("node",)),
    FamilySpec(
        "rabbitmq_node_disk_free_alarm", "gauge", "1 if the disk alarm is in effect.", ("node",)
    ),
    FamilySpec("rabbitmq_node_fd_used", "gauge", "File descriptors in use.", ("node",)),
    FamilySpec(
        "rabbitmq_connection_blocked",
        "gauge",
        "AMQP mode: 1 if the broker blocked our connection (a memory or disk alarm).",
    ),
]

HTTP_PROBE: list[FamilySpec] = [
    *_common("http_probe", "HTTP endpoint"),
    FamilySpec(
        "http_probe_success",
        "gauge",
        "1 if the endpoint answered and every check (status, body regex, TLS) passed.",
    ),
    FamilySpec("http_probe_status_code", "gauge", "HTTP status code of the final response."),
    FamilySpec(
        "http_probe_duration_seconds",
        "gauge",
        "Time spent in each phase: dns, connect, tls, processing (to first byte), transfer.",
        ("phase",),
    ),
    FamilySpec("http_probe_redirects", "gauge", "Redirects followed."),
    FamilySpec("http_probe_body_size_bytes", "gauge", "Size of the response body read."),
    FamilySpec(
        "http_probe_body_match",
        "gauge",
        "1 if the body matched every configured regex and none of the forbidden ones.",
    ),
    FamilySpec("http_probe_is_tls", "gauge", "1 if the final request used TLS."),
    FamilySpec(
        "http_probe_tls_cert_expiry_timestamp_seconds",
        "gauge",
        "Unix time the server's leaf certificate expires.",
    ),
    FamilySpec("http_probe_tls_version", "info", "TLS version negotiated.", ("version",)),
]

ASGI: list[FamilySpec] = [
    FamilySpec(
        "http_requests",
        "counter",
        "HTTP requests handled, by method, route template and status code.",
        ("method", "route", "code"),
    ),
    FamilySpec(
        "http_request_duration_seconds",
        "histogram",
        "Time from request start to the end of the response body, by method and route.",
        ("method", "route"),
    ),
    FamilySpec("http_requests_in_progress", "gauge", "Requests being handled now.", ("method",)),
]

SPECS: dict[str, list[FamilySpec]] = {
    "postgres": POSTGRES,
    "redis": REDIS,
    "rabbitmq": RABBITMQ,
    "http": HTTP_PROBE,
    "asgi": ASGI,
}

#: Prefix of each target kind's families (``<prefix>_up`` and so on).
PREFIXES: dict[str, str] = {
    "postgres": "pg",
    "redis": "redis",
    "rabbitmq": "rabbitmq",
    "http": "http_probe",
}

#: Every series name each collector (and the ASGI middleware) can expose, by kind.
KNOWN_METRICS: dict[str, list[str]] = {
    kind: sorted(name for spec in specs for name in spec.series_names())
    for kind, specs in SPECS.items()
}


def spec_index(kind: str) -> dict[str, FamilySpec]:
    """The specs of one kind by family name."""
    return {spec.name: spec for spec in SPECS[kind]}
