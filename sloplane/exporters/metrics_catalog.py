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
    #: A counter exposed (untyped) under its bare name, as the community exporter does.
    bare: bool = False

    def series_names(self) -> list[str]:
        if self.type == "counter" and not self.bare:
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


def _g(name: str, help: str, *labels: str) -> FamilySpec:
    return FamilySpec(name, "gauge", help, labels)


def _c(name: str, help: str, *labels: str) -> FamilySpec:
    return FamilySpec(name, "counter", help, labels)


def _bare(name: str, help: str, *labels: str) -> FamilySpec:
    """A counter under a community name that has no ``_total`` (postgres_exporter's).

    Exposed untyped: promtool's lint rejects a counter without ``_total``, and the
    community dashboards and alerts query exactly this name.
    """
    return FamilySpec(name, "counter", help, labels, bare=True)


_DB = ("datname",)
_PGB_DATABASE = ("name", "host", "port", "database", "force_user", "pool_mode")
_REPLICA = ("application_name", "client_addr", "state", "slot_name")
_SLOT = ("slot_name", "database")
_TABLE = ("datname", "schemaname", "relname")
_STATEMENT = ("user", "datname", "queryid")

#: pg_settings read by the PostgreSQL collector: setting -> suffix of its family name
#: (postgres_exporter's names: memory in bytes, times in seconds).
PG_SETTINGS: dict[str, str] = {
    "max_connections": "",
    "superuser_reserved_connections": "",
    "max_locks_per_transaction": "",
    "max_worker_processes": "",
    "max_parallel_workers": "",
    "max_wal_senders": "",
    "max_replication_slots": "",
    "autovacuum_freeze_max_age": "",
    "autovacuum_vacuum_scale_factor": "",
    "autovacuum_vacuum_threshold": "",
    "shared_buffers": "_bytes",
    "effective_cache_size": "_bytes",
    "work_mem": "_bytes",
    "maintenance_work_mem": "_bytes",
    "max_wal_size": "_bytes",
    "min_wal_size": "_bytes",
    "random_page_cost": "",
    "seq_page_cost": "",
    "checkpoint_timeout": "_seconds",
}

#: Statements reported from pg_stat_statements: the top N by total execution time.
PG_STATEMENTS_TOP = 50
#: Tables reported from pg_stat_user_tables: the top N by dead tuples.
PG_TABLES_TOP = 100

POSTGRES: list[FamilySpec] = [
    *_common("pg", "PostgreSQL server"),
    _g("pg_static", "PostgreSQL version (1 per server).", "version", "short_version"),
    _g("pg_postmaster_start_time_seconds", "Unix time the postmaster started."),
    _g("pg_stat_activity_count", "Client backends by database and state.", "datname", "state"),
    _g(
        "pg_stat_activity_max_tx_duration",
        "Age in seconds of the oldest open transaction, by database and state (0 when none).",
        "datname",
        "state",
    ),
    *(
        _g(f"pg_settings_{name}{suffix}", f"The {name} setting (pg_settings).")
        for name, suffix in PG_SETTINGS.items()
    ),
    _g("pg_stat_database_numbackends", "Backends connected to the database.", *_DB),
    _bare("pg_stat_database_xact_commit", "Transactions committed.", *_DB),
    _bare("pg_stat_database_xact_rollback", "Transactions rolled back.", *_DB),
    _bare("pg_stat_database_blks_read", "Disk blocks read (cache misses).", *_DB),
    _bare("pg_stat_database_blks_hit", "Disk blocks found in shared buffers (cache hits).", *_DB),
    _bare("pg_stat_database_tup_returned", "Rows returned by queries.", *_DB),
    _bare("pg_stat_database_tup_fetched", "Rows fetched by queries.", *_DB),
    _bare("pg_stat_database_tup_inserted", "Rows inserted.", *_DB),
    _bare("pg_stat_database_tup_updated", "Rows updated.", *_DB),
    _bare("pg_stat_database_tup_deleted", "Rows deleted.", *_DB),
    _bare("pg_stat_database_deadlocks", "Deadlocks detected.", *_DB),
    _bare("pg_stat_database_conflicts", "Queries cancelled by recovery conflicts.", *_DB),
    _bare("pg_stat_database_temp_files", "Temporary files created.", *_DB),
    _bare("pg_stat_database_temp_bytes", "Bytes written to temporary files.", *_DB),
    _bare("pg_stat_database_blk_read_time", "Milliseconds spent reading blocks.", *_DB),
    _bare("pg_stat_database_blk_write_time", "Milliseconds spent writing blocks.", *_DB),
    _g(
        "pg_database_size_bytes",
        "Disk space used by the database (refreshed every size_cache_seconds).",
        *_DB,
    ),
    _g(
        "pg_database_wraparound_age_datfrozenxid_seconds",
        "Transactions (not seconds: the name is postgres_exporter's) since the database's"
        " oldest unfrozen transaction ID; wraparound stops writes at 2^31.",
        *_DB,
    ),
    _g(
        "pg_database_wraparound_age_datminmxid_seconds",
        "Multixacts (not seconds: the name is postgres_exporter's) since the database's"
        " oldest multixact ID.",
        *_DB,
    ),
    _g("pg_locks_count", "Locks held or awaited, by database and mode.", "datname", "mode"),
    _g("pg_locks_waiting", "Locks awaited (not granted), by database and mode.", *_DB, "mode"),
    _g("pg_replication_is_replica", "1 if the server is in recovery (a replica)."),
    _g(
        "pg_xlog_position_bytes",
        "WAL position in bytes: written on a primary, replayed on a replica (the mixin's"
        " lag-in-bytes alert subtracts one from the other).",
    ),
    _g(
        "pg_replication_lag_seconds",
        "On a replica: seconds since the last replayed transaction when WAL is waiting to be"
        " replayed; 0 when caught up and on a primary.",
    ),
    _g(
        "pg_replication_lag_bytes",
        "On a replica: WAL bytes received but not replayed yet (absent on a primary).",
    ),
    _g(
        "pg_replication_wal_receiver_streaming",
        "On a replica: 1 if its WAL receiver streams from the primary, 0 if not (absent on"
        " a primary).",
    ),
    _g(
        "pg_replication_connected_replicas",
        "On a primary: replicas streaming from it now (pg_stat_replication rows).",
    ),
    _g(
        "pg_stat_replication_pg_current_wal_lsn_bytes",
        "On a primary: its current WAL position, in bytes, beside each connected replica.",
        *_REPLICA,
    ),
    _g(
        "pg_stat_replication_pg_wal_lsn_diff",
        "On a primary: WAL bytes each connected replica has not replayed yet.",
        *_REPLICA,
    ),
    _g(
        "pg_stat_replication_replay_lag_seconds",
        "On a primary: replay lag each connected replica reports (0 when idle).",
        *_REPLICA,
    ),
    _g("pg_replication_slots_active", "1 if a consumer uses the replication slot now.", *_SLOT),
    _g(
        "pg_replication_slots_xmin_age",
        "Transactions since the oldest xmin the slot holds back vacuum for (absent when none).",
        *_SLOT,
    ),
    _g(
        "pg_replication_slots_pg_wal_lsn_diff",
        "Logical slots: WAL bytes past the slot's confirmed flush position.",
        *_SLOT,
    ),
    _g(
        "pg_replication_slots_retained_wal_bytes",
        "WAL the slot keeps on the primary's disk (current position minus restart_lsn).",
        *_SLOT,
    ),
    _c(
        "pg_stat_statements_calls",
        f"Calls of the statement (top {PG_STATEMENTS_TOP} by total time).",
        *_STATEMENT,
    ),
    _c(
        "pg_stat_statements_seconds",
        f"Execution time of the statement (top {PG_STATEMENTS_TOP} by total time).",
        *_STATEMENT,
    ),
    _c("pg_stat_statements_rows", "Rows retrieved or affected by the statement.", *_STATEMENT),
    _c(
        "pg_stat_statements_block_read_seconds",
        "Time the statement spent reading blocks (track_io_timing).",
        *_STATEMENT,
    ),
    _c(
        "pg_stat_statements_block_write_seconds",
        "Time the statement spent writing blocks (track_io_timing).",
        *_STATEMENT,
    ),
    _g(
        "pg_stat_statements_tracked",
        "Statements pg_stat_statements tracks; those beyond the top N are not reported.",
    ),
    _g("pg_stat_user_tables_n_live_tup", "Estimated live rows.", *_TABLE),
    _g(
        "pg_stat_user_tables_n_dead_tup",
        f"Estimated dead rows (top {PG_TABLES_TOP} tables by dead rows).",
        *_TABLE,
    ),
    _g(
        "pg_stat_user_tables_last_vacuum",
        "Unix time of the last manual vacuum (0: never).",
        *_TABLE,
    ),
    _g(
        "pg_stat_user_tables_last_autovacuum",
        "Unix time of the last autovacuum (0: never).",
        *_TABLE,
    ),
    _g(
        "pg_stat_user_tables_last_analyze",
        "Unix time of the last manual analyze (0: never).",
        *_TABLE,
    ),
    _g(
        "pg_stat_user_tables_last_autoanalyze",
        "Unix time of the last autoanalyze (0: never).",
        *_TABLE,
    ),
    _bare("pg_stat_archiver_archived_count", "WAL files archived."),
    _bare("pg_stat_archiver_failed_count", "Failed attempts to archive a WAL file."),
    _g(
        "pg_stat_archiver_last_archive_age",
        "Seconds since the last WAL file was archived (absent when none ever was).",
    ),
    _c("pg_stat_bgwriter_checkpoints_timed", "Scheduled checkpoints performed."),
    _c("pg_stat_bgwriter_checkpoints_req", "Requested checkpoints performed."),
    _c(
        "pg_stat_bgwriter_checkpoint_write_time",
        "Milliseconds spent writing files during checkpoints.",
    ),
    _c(
        "pg_stat_bgwriter_checkpoint_sync_time",
        "Milliseconds spent syncing files during checkpoints.",
    ),
    _c("pg_stat_bgwriter_buffers_checkpoint", "Buffers written by checkpoints."),
    _c("pg_stat_bgwriter_buffers_clean", "Buffers written by the background writer."),
    _c("pg_stat_bgwriter_buffers_alloc", "Buffers allocated."),
    _c(
        "pg_stat_bgwriter_buffers_backend",
        "Buffers written by backends themselves (absent from PostgreSQL 17: pg_stat_io).",
    ),
    _c(
        "pg_stat_bgwriter_buffers_backend_fsync",
        "fsync calls backends had to make themselves (absent from PostgreSQL 17).",
    ),
]

PGBOUNCER: list[FamilySpec] = [
    *_common("pgbouncer", "PgBouncer"),
    _g("pgbouncer_version_info", "PgBouncer version.", "version"),
    _g("pgbouncer_config_max_client_connections", "The max_client_conn setting."),
    _g("pgbouncer_config_max_user_connections", "The max_user_connections setting."),
    *(
        _g(f"pgbouncer_pools_{name}", help, "database", "user")
        for name, help in [
            ("client_active_connections", "Clients linked to a server connection or idle."),
            ("client_waiting_connections", "Clients waiting for a server connection."),
            ("server_active_connections", "Server connections linked to a client."),
            ("server_idle_connections", "Server connections idle and ready for a client."),
            ("server_used_connections", "Server connections idle for over server_check_delay."),
            ("server_testing_connections", "Server connections running a check query."),
            ("server_login_connections", "Server connections logging in."),
            ("client_maxwait_seconds", "How long the oldest waiting client has waited."),
        ]
    ),
    *(
        _g(f"pgbouncer_databases_{name}", help, *_PGB_DATABASE)
        for name, help in [
            ("pool_size", "Maximum server connections of the database's pool."),
            ("current_connections", "Server connections open for the database now."),
            ("max_connections", "Maximum server connections for the database (0: no limit)."),
            ("reserve_pool", "Extra server connections allowed when clients wait."),
            ("paused", "1 if the database is paused."),
            ("disabled", "1 if the database is disabled."),
        ]
    ),
    *(
        _c(f"pgbouncer_stats_{name}", help, "database")
        for name, help in [
            ("sql_transactions_pooled", "SQL transactions pooled."),
            ("queries_pooled", "SQL queries pooled."),
            ("received_bytes", "Bytes received from clients."),
            ("sent_bytes", "Bytes sent to clients."),
            ("server_in_transaction_seconds", "Time server connections spent in transactions."),
            ("queries_duration_seconds", "Time server connections spent running queries."),
            ("client_wait_seconds", "Time clients spent waiting for a server connection."),
        ]
    ),
]

_SLAVE = ("slave_ip", "slave_port", "slave_state")
_SENTINEL_MASTER = ("master_name", "master_address")

REDIS: list[FamilySpec] = [
    *_common("redis", "Redis server"),
    FamilySpec(
        "redis_instance",
        "info",
        "Redis version, role and mode (standalone, sentinel, cluster).",
        ("redis_version", "role", "redis_mode", "os", "maxmemory_policy"),
    ),
    _g("redis_uptime_in_seconds", "Seconds since the server started."),
    _g("redis_start_time_seconds", "Unix time the server started."),
    _g("redis_connected_clients", "Client connections (replicas excluded)."),
    _g("redis_blocked_clients", "Clients blocked on a blocking call."),
    _g("redis_config_maxclients", "The maxclients setting."),
    _c("redis_connections_received", "Connections accepted."),
    _c("redis_rejected_connections", "Connections rejected (maxclients)."),
    _g("redis_memory_used_bytes", "Memory allocated by Redis."),
    _g("redis_memory_used_rss_bytes", "Resident set size of the server."),
    _g("redis_memory_used_peak_bytes", "Peak memory allocated by Redis."),
    _g("redis_memory_max_bytes", "The maxmemory setting (0 means no limit)."),
    _g("redis_total_system_memory_bytes", "Memory of the machine the server runs on."),
    _g("redis_mem_fragmentation_ratio", "RSS divided by used memory (a plain ratio, 1 is ideal)."),
    _c("redis_cpu_sys_seconds", "System CPU time of the server."),
    _c("redis_cpu_user_seconds", "User CPU time of the server."),
    _c("redis_cpu_sys_children_seconds", "System CPU time of background children (saves)."),
    _c("redis_cpu_user_children_seconds", "User CPU time of background children (saves)."),
    _c("redis_commands_processed", "Commands processed by the server."),
    _c("redis_commands", "Calls per command.", "cmd"),
    _c("redis_commands_duration_seconds", "CPU time spent per command.", "cmd"),
    _c("redis_commands_rejected_calls", "Calls rejected before execution, per command.", "cmd"),
    _c("redis_commands_failed_calls", "Calls that failed during execution.", "cmd"),
    _g(
        "redis_command_latency_seconds",
        "Per-command latency percentiles the server tracks (Redis 7+ latencystats).",
        "cmd",
        "percentile",
    ),
    _c("redis_keyspace_hits", "Successful key lookups."),
    _c("redis_keyspace_misses", "Failed key lookups."),
    _c("redis_evicted_keys", "Keys evicted because of maxmemory."),
    _c("redis_expired_keys", "Keys expired."),
    _g("redis_db_keys", "Keys per database.", "db"),
    _g("redis_db_keys_expiring", "Keys with a TTL per database.", "db"),
    _g("redis_slowlog_length", "Entries in the slow log."),
    _c("redis_net_input_bytes", "Bytes received from the network."),
    _c("redis_net_output_bytes", "Bytes sent to the network."),
    _g("redis_rdb_bgsave_in_progress", "1 while an RDB snapshot is being written."),
    _g("redis_rdb_changes_since_last_save", "Writes since the last RDB snapshot."),
    _g("redis_rdb_last_save_timestamp_seconds", "Unix time of the last successful RDB snapshot."),
    _g("redis_rdb_last_bgsave_status", "1 if the last RDB snapshot succeeded, 0 if it failed."),
    _g("redis_aof_enabled", "1 if the append-only file is on."),
    _g("redis_aof_rewrite_in_progress", "1 while the append-only file is being rewritten."),
    _g("redis_aof_last_bgrewrite_status", "1 if the last AOF rewrite succeeded, 0 if it failed."),
    _g("redis_aof_last_write_status", "1 if the last write to the AOF succeeded, 0 if it failed."),
    _g("redis_connected_slaves", "Replicas connected to this server."),
    _g("redis_master_repl_offset", "Replication offset of this server."),
    _g(
        "redis_connected_slave_offset_bytes",
        "On a master: replication offset each connected replica acknowledged.",
        *_SLAVE,
    ),
    _g(
        "redis_connected_slave_offset_lag_bytes",
        "On a master: bytes each connected replica is behind (master offset minus its offset).",
        *_SLAVE,
    ),
    _g(
        "redis_connected_slave_lag_seconds",
        "On a master: seconds since each connected replica last acknowledged.",
        *_SLAVE,
    ),
    _g(
        "redis_master_link_up",
        "On a replica: 1 if the link to its master is up, 0 if not (absent on a master).",
        "master_host",
        "master_port",
    ),
    _g(
        "redis_master_last_io_seconds_ago",
        "On a replica: seconds since the last interaction with the master.",
    ),
    _g(
        "redis_master_link_down_since_seconds",
        "On a replica whose link is down: seconds since it went down.",
    ),
    _g("redis_master_sync_in_progress", "On a replica: 1 while a full sync from the master runs."),
    _g("redis_slave_repl_offset", "On a replica: replication offset it has processed."),
    _g("redis_sentinel_masters", "Masters this Sentinel monitors."),
    _g("redis_sentinel_tilt", "1 if this Sentinel is in TILT mode (it then takes no action)."),
    _g(
        "redis_sentinel_master_status",
        "1 for each monitored master, with the Sentinel's view of it in master_status"
        " (ok, sdown, odown).",
        *_SENTINEL_MASTER,
        "master_status",
    ),
    _g(
        "redis_sentinel_master_slaves",
        "Replicas the Sentinel knows for the master.",
        *_SENTINEL_MASTER,
    ),
    _g(
        "redis_sentinel_master_ok_slaves",
        "Replicas of the master the Sentinel sees up.",
        *_SENTINEL_MASTER,
    ),
    _g(
        "redis_sentinel_master_sentinels",
        "Sentinels monitoring the master (this one included).",
        *_SENTINEL_MASTER,
    ),
    _g(
        "redis_sentinel_master_ok_sentinels",
        "Sentinels monitoring the master that this one sees up (itself included).",
        *_SENTINEL_MASTER,
    ),
    _g("redis_sentinel_master_quorum", "Configured quorum for the master.", *_SENTINEL_MASTER),
    _g(
        "redis_sentinel_master_ckquorum_status",
        "1 if SENTINEL CKQUORUM says quorum and failover authorization can be reached.",
        "master_name",
        "message",
    ),
]

_Q = ("vhost", "queue")
_NODE = ("rabbitmq_node",)

RABBITMQ: list[FamilySpec] = [
    *_common("rabbitmq", "RabbitMQ broker"),
    FamilySpec(
        "rabbitmq_scrape_source",
        "info",
        "Where the metrics came from: 'management' (HTTP API) or 'amqp' (passive declares).",
        ("source",),
    ),
    _g(
        "rabbitmq_build_info",
        "1, with the broker's RabbitMQ and Erlang versions.",
        "rabbitmq_version",
        "erlang_version",
    ),
    _g(
        "rabbitmq_identity_info",
        "1 per cluster node, naming it and its cluster (the plugin's labels).",
        "rabbitmq_node",
        "rabbitmq_cluster",
    ),
    _g("rabbitmq_queue_messages_ready", "Messages ready for delivery.", *_Q),
    _g("rabbitmq_queue_messages_unacked", "Messages delivered, not acknowledged yet.", *_Q),
    _g("rabbitmq_queue_messages", "Messages in the queue (ready plus unacknowledged).", *_Q),
    _g("rabbitmq_queue_consumers", "Consumers of the queue.", *_Q),
    _g(
        "rabbitmq_queue_exists",
        "AMQP mode: 1 if the configured queue exists, 0 if a passive declare found none.",
        *_Q,
    ),
    _c("rabbitmq_queue_messages_published", "Messages published into the queue.", *_Q),
    _c("rabbitmq_queue_messages_delivered", "Messages delivered to consumers or fetched.", *_Q),
    _c("rabbitmq_queue_messages_acked", "Messages acknowledged by consumers.", *_Q),
    _c("rabbitmq_queue_messages_redelivered", "Messages delivered again (not acked before).", *_Q),
    _g(
        "rabbitmq_queue_head_message_timestamp",
        "Unix time in the timestamp property of the oldest message ready (absent when the"
        " queue is empty or publishers set no timestamp).",
        *_Q,
    ),
    _g(
        "rabbitmq_queue_leader",
        "1 on the node leading the queue (quorum and stream queues: its leader; classic: its"
        " home node).",
        *_Q,
        "type",
        "rabbitmq_node",
    ),
    _g(
        "rabbitmq_queue_members",
        "Nodes holding a replica of the queue (1 for a classic queue).",
        *_Q,
    ),
    _g(
        "rabbitmq_queue_members_online",
        "Replicas of the queue on nodes that are up (quorum and stream queues).",
        *_Q,
    ),
    _g(
        "rabbitmq_exporter_queues_omitted",
        "Queues not reported this scrape: beyond the module's queue_limit, those with the"
        " fewest messages ready.",
    ),
    _c("rabbitmq_global_messages_received", "Messages published, all vhosts, whole cluster."),
    _c("rabbitmq_global_messages_delivered", "Messages delivered, all vhosts, whole cluster."),
    _c(
        "rabbitmq_global_messages_acknowledged", "Messages acknowledged, all vhosts, whole cluster."
    ),
    _c("rabbitmq_global_messages_redelivered", "Messages redelivered, all vhosts, whole cluster."),
    _g("rabbitmq_connections", "Client connections."),
    _g("rabbitmq_channels", "Open channels."),
    _g("rabbitmq_queues", "Declared queues."),
    _g("rabbitmq_consumers", "Consumers, all queues."),
    _g("rabbitmq_cluster_nodes", "Disc and RAM nodes the cluster is made of."),
    _g("rabbitmq_cluster_nodes_running", "Cluster nodes running now."),
    _g("rabbitmq_node_running", "1 if the cluster node is running, 0 if not.", *_NODE),
    _g(
        "rabbitmq_node_partitions",
        "Cluster nodes this node cannot reach while they run (a network partition: 0 is healthy).",
        *_NODE,
    ),
    _g("rabbitmq_process_resident_memory_bytes", "Memory used by the node.", *_NODE),
    _g("rabbitmq_resident_memory_limit_bytes", "Memory high watermark of the node.", *_NODE),
    _g("rabbitmq_disk_space_available_bytes", "Free disk space of the node.", *_NODE),
    _g("rabbitmq_disk_space_available_limit_bytes", "Free disk space limit of the node.", *_NODE),
    _g("rabbitmq_process_open_fds", "File descriptors the node has open.", *_NODE),
    _g("rabbitmq_process_max_fds", "File descriptors the node may open.", *_NODE),
    _g(
        "rabbitmq_alarms_memory_used_watermark",
        "1 if the node's memory alarm is in effect (publishers blocked).",
        *_NODE,
    ),
    _g(
        "rabbitmq_alarms_free_disk_space_watermark",
        "1 if the node's disk alarm is in effect (publishers blocked).",
        *_NODE,
    ),
    _g(
        "rabbitmq_connection_blocked",
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
    "pgbouncer": PGBOUNCER,
    "redis": REDIS,
    "rabbitmq": RABBITMQ,
    "http": HTTP_PROBE,
    "asgi": ASGI,
}

#: Prefix of each target kind's families (``<prefix>_up`` and so on).
PREFIXES: dict[str, str] = {
    "postgres": "pg",
    "pgbouncer": "pgbouncer",
    "redis": "redis",
    "rabbitmq": "rabbitmq",
    "http": "http_probe",
}

#: Every series name each collector (and the ASGI middleware) can expose, by kind.
KNOWN_METRICS: dict[str, list[str]] = {
    kind: sorted(name for spec in specs for name in spec.series_names())
    for kind, specs in SPECS.items()
}


#: Series of RabbitMQ's built-in ``rabbitmq_prometheus`` plugin that the stack rules and
#: dashboards read besides ours (the plugin's and our names are the same elsewhere).
PLUGIN_SERIES: dict[str, list[str]] = {
    "rabbitmq": ["rabbitmq_alarms_file_descriptor_limit"],
}


def spec_index(kind: str) -> dict[str, FamilySpec]:
    """The specs of one kind by family name."""
    return {spec.name: spec for spec in SPECS[kind]}
