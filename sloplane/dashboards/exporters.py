"""Dashboards for the servers sloplane's exporters watch (PostgreSQL, PgBouncer, Redis,
RabbitMQ, HTTP probes), one per kind.

Each dashboard answers the questions an operator asks, one row each: is it up, is it
saturated, is it replicating, is it slow. Panels are titled in words, read the stack
rules' recorded ratios where there is one, and carry the right unit (a start time is a
timestamp, a fragmentation ratio a plain ratio). A ``target`` variable picks servers and
every legend starts with ``{{target}}``: on the exporter's ``/metrics`` that label names
the configured target (``instance`` is the exporter itself), and the documented ``/probe``
relabelling sets it too. The metric names are the community exporters', so the panels
also work on their series (RabbitMQ: on the broker's plugin; node panels name the node
from ``rabbitmq_node`` or, on the plugin, from ``instance``).

Every metric a panel names is one the exporters expose (or, for RabbitMQ, the plugin's,
listed in ``PLUGIN_SERIES``); ``sloplane check`` and the tests hold them to it.
Tolerates the exporters package being absent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from sloplane.dashboards.panels import GREEN, ORANGE, RED, Layout, stat, steps, target, timeseries
from sloplane.dashboards.render import dashboard, datasource_variable, query_variable

TITLES = {
    "postgres": "PostgreSQL",
    "pgbouncer": "PgBouncer",
    "redis": "Redis",
    "rabbitmq": "RabbitMQ",
    "http": "HTTP probes",
}

#: Selector matching the dashboard's ``target`` variable (also series without the label,
#: like the RabbitMQ plugin's, when "All" is picked).
T = 'target=~"$target"'
WHO = "{{target}}"


def exporter_uid(kind: str) -> str:
    return f"sloplane-exporter-{kind}"


def _catalog() -> Any | None:
    try:
        return importlib.import_module("sloplane.exporters.metrics_catalog")
    except ImportError:
        return None


def known_metrics() -> dict[str, list[str]]:
    """Series names by kind: the exporters' ``KNOWN_METRICS``, the plugin series the
    dashboards and stack rules read, and the stack rules' recorded series (``sloplane
    generate`` always writes those rules). Empty if the exporters package is absent."""
    module = _catalog()
    if module is None:
        return {}
    known = {kind: list(names) for kind, names in getattr(module, "KNOWN_METRICS", {}).items()}
    for kind, names in getattr(module, "PLUGIN_SERIES", {}).items():
        known.setdefault(kind, []).extend(names)
    rules = importlib.import_module("sloplane.exporters.rules")
    for stack in rules.stacks():
        known.setdefault(stack.kind, []).extend(r.record for r in stack.records if r.record)
    return known


@dataclass(frozen=True)
class Panel:
    """A time series panel: title in words, ``(expr, legend)`` queries, unit, why it matters."""

    title: str
    queries: list[tuple[str, str]]
    unit: str = "short"
    description: str = ""
    thresholds: dict[str, Any] | None = None


@dataclass(frozen=True)
class Stat:
    title: str
    expr: str
    legend: str = WHO
    unit: str = "short"
    thresholds: dict[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class Section:
    question: str
    panels: list[Panel | Stat] = field(default_factory=list)


UP = steps(RED, (1.0, GREEN))
DOWN_IS_BAD = steps(GREEN, (1.0, RED))


def _ratio_steps(warn: float, bad: float) -> dict[str, Any]:
    return steps(GREEN, (warn, ORANGE), (bad, RED))


def _started(name: str) -> Stat:
    return Stat(
        "Started",
        f"{name}{{{T}}} * 1000",
        unit="dateTimeFromNow",
        description="When the server started: a restart shows as a recent time.",
    )


def _postgres() -> list[Section]:
    return [
        Section(
            "Is it up?",
            [
                Stat("Answering the exporter", f"pg_up{{{T}}}", thresholds=UP),
                _started("pg_postmaster_start_time_seconds"),
                Stat("Replica?", f"pg_replication_is_replica{{{T}}}", description="1: a replica."),
            ],
        ),
        Section(
            "Is it saturated?",
            [
                Panel(
                    "Connections used (of max_connections)",
                    [(f"instance:pg_connections_used:ratio{{{T}}}", WHO)],
                    "percentunit",
                    thresholds=_ratio_steps(0.8, 0.95),
                ),
                Panel(
                    "Connections by state",
                    [
                        (
                            f"sum by (target, state) (pg_stat_activity_count{{{T}}})",
                            f"{WHO} {{{{state}}}}",
                        )
                    ],
                ),
                Panel(
                    "Oldest open transaction",
                    [(f"max by (target) (pg_stat_activity_max_tx_duration{{{T}}})", WHO)],
                    "s",
                    "Long transactions hold locks and stop vacuum.",
                ),
                Panel(
                    "Locks waited for",
                    [
                        (
                            f"sum by (target, mode) (pg_locks_waiting{{{T}}}) > 0",
                            f"{WHO} {{{{mode}}}}",
                        )
                    ],
                ),
                Panel(
                    "Transaction ID age (wraparound at 2^31)",
                    [
                        (
                            f"max by (target, datname) (pg_database_wraparound_age_datfrozenxid_seconds{{{T}}})",
                            f"{WHO} {{{{datname}}}}",
                        )
                    ],
                    "short",
                    "Transactions since the oldest unfrozen ID; PostgreSQL stops writes at 2^31.",
                    steps(GREEN, (2.0**30, ORANGE), (1.8e9, RED)),
                ),
                Panel(
                    "Dead rows (top 10 tables)",
                    [
                        (
                            f"topk(10, pg_stat_user_tables_n_dead_tup{{{T}}})",
                            f"{WHO} {{{{schemaname}}}}.{{{{relname}}}}",
                        )
                    ],
                ),
                Panel(
                    "Database size",
                    [(f"pg_database_size_bytes{{{T}}}", f"{WHO} {{{{datname}}}}")],
                    "bytes",
                ),
            ],
        ),
        Section(
            "Is it replicating?",
            [
                Panel(
                    "Replica lag (replica side)",
                    [(f"pg_replication_lag_seconds{{{T}}}", WHO)],
                    "s",
                    "Age of the last replayed transaction while WAL waits to be replayed.",
                    steps(GREEN, (30.0, RED)),
                ),
                Panel(
                    "Replica lag (primary side)",
                    [
                        (
                            f"pg_stat_replication_pg_wal_lsn_diff{{{T}}}",
                            f"{WHO} → {{{{application_name}}}}",
                        )
                    ],
                    "bytes",
                    "WAL each connected replica has not replayed yet.",
                ),
                Panel(
                    "Replicas streaming",
                    [
                        (f"pg_replication_connected_replicas{{{T}}}", f"{WHO} replicas"),
                        (f"pg_replication_wal_receiver_streaming{{{T}}}", f"{WHO} receiving"),
                    ],
                ),
                Panel(
                    "WAL kept by replication slots",
                    [
                        (
                            f"pg_replication_slots_retained_wal_bytes{{{T}}}",
                            f"{WHO} {{{{slot_name}}}}",
                        )
                    ],
                    "bytes",
                    "An inactive slot keeps every WAL file since its consumer left.",
                ),
                Panel(
                    "WAL archiving",
                    [
                        (f"pg_stat_archiver_last_archive_age{{{T}}}", f"{WHO} since last archived"),
                    ],
                    "s",
                ),
                Panel(
                    "Archive failures",
                    [(f"rate(pg_stat_archiver_failed_count{{{T}}}[$__rate_interval])", WHO)],
                    "ops",
                ),
            ],
        ),
        Section(
            "Is it slow?",
            [
                Panel(
                    "Cache hit ratio",
                    [(f"instance:pg_cache_hit:ratio_rate5m{{{T}}}", WHO)],
                    "percentunit",
                ),
                Panel(
                    "Transactions",
                    [(f"instance:pg_transactions:rate5m{{{T}}}", WHO)],
                    "ops",
                ),
                Panel(
                    "Rollbacks and deadlocks",
                    [
                        (
                            f"sum by (target) (rate(pg_stat_database_xact_rollback{{{T}}}[$__rate_interval]))",
                            f"{WHO} rollbacks",
                        ),
                        (
                            f"sum by (target) (rate(pg_stat_database_deadlocks{{{T}}}[$__rate_interval]))",
                            f"{WHO} deadlocks",
                        ),
                    ],
                    "ops",
                ),
                Panel(
                    "Time spent in statements (top 10)",
                    [
                        (
                            f"topk(10, rate(pg_stat_statements_seconds_total{{{T}}}[$__rate_interval]))",
                            f"{WHO} {{{{datname}}}} {{{{queryid}}}}",
                        )
                    ],
                    "s",
                    "Seconds of execution per second, by statement (pg_stat_statements).",
                ),
                Panel(
                    "Temporary files written",
                    [
                        (
                            f"sum by (target) (rate(pg_stat_database_temp_bytes{{{T}}}[$__rate_interval]))",
                            WHO,
                        )
                    ],
                    "Bps",
                ),
                Panel(
                    "Requested checkpoints",
                    [
                        (
                            f"rate(pg_stat_bgwriter_checkpoints_req_total{{{T}}}[$__rate_interval])",
                            WHO,
                        )
                    ],
                    "ops",
                    "Checkpoints forced by WAL volume rather than by the timer.",
                ),
            ],
        ),
    ]


def _pgbouncer() -> list[Section]:
    pool = f"{WHO} {{{{database}}}}"
    return [
        Section(
            "Is it up?", [Stat("Answering the exporter", f"pgbouncer_up{{{T}}}", thresholds=UP)]
        ),
        Section(
            "Is it saturated?",
            [
                Panel(
                    "Clients waiting for a server connection",
                    [
                        (
                            f"sum by (target, database) (pgbouncer_pools_client_waiting_connections{{{T}}})",
                            pool,
                        )
                    ],
                    thresholds=steps(GREEN, (1.0, RED)),
                ),
                Panel(
                    "Longest wait",
                    [
                        (
                            f"max by (target, database) (pgbouncer_pools_client_maxwait_seconds{{{T}}})",
                            pool,
                        )
                    ],
                    "s",
                ),
                Panel(
                    "Server connections in use (of pool size)",
                    [
                        (
                            f"sum by (target, database) (pgbouncer_pools_server_active_connections{{{T}}})",
                            f"{pool} active",
                        ),
                        (
                            f"sum by (target, database) (pgbouncer_databases_pool_size{{{T}}})",
                            f"{pool} pool size",
                        ),
                    ],
                ),
                Panel(
                    "Client connections (of max_client_conn)",
                    [
                        (
                            f"sum by (target) (pgbouncer_pools_client_active_connections{{{T}}}"
                            f" + pgbouncer_pools_client_waiting_connections{{{T}}})"
                            f" / on(target) pgbouncer_config_max_client_connections{{{T}}}",
                            WHO,
                        )
                    ],
                    "percentunit",
                ),
            ],
        ),
        Section(
            "Is it slow?",
            [
                Panel(
                    "Queries",
                    [
                        (
                            f"sum by (target, database) (rate(pgbouncer_stats_queries_pooled_total{{{T}}}[$__rate_interval]))",
                            pool,
                        )
                    ],
                    "ops",
                ),
                Panel(
                    "Average query time",
                    [
                        (
                            f"rate(pgbouncer_stats_queries_duration_seconds_total{{{T}}}[$__rate_interval])"
                            f" / rate(pgbouncer_stats_queries_pooled_total{{{T}}}[$__rate_interval])",
                            pool,
                        )
                    ],
                    "s",
                ),
                Panel(
                    "Time clients spent waiting",
                    [
                        (
                            f"rate(pgbouncer_stats_client_wait_seconds_total{{{T}}}[$__rate_interval])",
                            pool,
                        )
                    ],
                    "s",
                    "Seconds of client waiting per second.",
                ),
            ],
        ),
    ]


def _redis() -> list[Section]:
    return [
        Section(
            "Is it up?",
            [
                Stat("Answering the exporter", f"redis_up{{{T}}}", thresholds=UP),
                _started("redis_start_time_seconds"),
                Stat(
                    "Role",
                    f"redis_instance_info{{{T}}}",
                    legend=f"{WHO} {{{{role}}}} {{{{redis_mode}}}}",
                ),
            ],
        ),
        Section(
            "Is it saturated?",
            [
                Panel(
                    "Memory used (of maxmemory)",
                    [(f"instance:redis_memory_used:ratio{{{T}}}", WHO)],
                    "percentunit",
                    thresholds=_ratio_steps(0.8, 0.9),
                ),
                Panel("Memory used", [(f"redis_memory_used_bytes{{{T}}}", WHO)], "bytes"),
                Panel(
                    "Fragmentation (RSS / used)",
                    [(f"redis_mem_fragmentation_ratio{{{T}}}", WHO)],
                    "none",
                    "A plain ratio: 1 is ideal, above 1.5 memory is wasted.",
                ),
                Panel(
                    "Clients (of maxclients)",
                    [
                        (
                            f"redis_connected_clients{{{T}}} / redis_config_maxclients{{{T}}}",
                            WHO,
                        )
                    ],
                    "percentunit",
                ),
                Panel(
                    "Evicted keys",
                    [(f"rate(redis_evicted_keys_total{{{T}}}[$__rate_interval])", WHO)],
                    "ops",
                ),
                Panel(
                    "CPU",
                    [
                        (
                            f"rate(redis_cpu_user_seconds_total{{{T}}}[$__rate_interval])"
                            f" + rate(redis_cpu_sys_seconds_total{{{T}}}[$__rate_interval])",
                            WHO,
                        )
                    ],
                    "percentunit",
                    "CPU seconds per second: 100% is one core (Redis runs commands on one).",
                ),
            ],
        ),
        Section(
            "Is it replicating?",
            [
                Panel(
                    "Link to master (replicas)",
                    [
                        (
                            f"redis_master_link_up{{{T}}}",
                            f"{WHO} → {{{{master_host}}}}:{{{{master_port}}}}",
                        )
                    ],
                    thresholds=UP,
                ),
                Panel("Replicas connected (masters)", [(f"redis_connected_slaves{{{T}}}", WHO)]),
                Panel(
                    "Replica offset lag",
                    [
                        (
                            f"redis_connected_slave_offset_lag_bytes{{{T}}}",
                            f"{WHO} → {{{{slave_ip}}}}:{{{{slave_port}}}}",
                        )
                    ],
                    "bytes",
                ),
                Panel(
                    "Sentinel: master state and quorum",
                    [
                        (
                            f"redis_sentinel_master_status{{{T}}}",
                            f"{WHO} {{{{master_name}}}} {{{{master_status}}}}",
                        ),
                        (
                            f"redis_sentinel_master_ckquorum_status{{{T}}}",
                            f"{WHO} {{{{master_name}}}} quorum",
                        ),
                    ],
                ),
                Panel(
                    "Sentinel: healthy peers",
                    [
                        (
                            f"redis_sentinel_master_ok_slaves{{{T}}}",
                            f"{WHO} {{{{master_name}}}} replicas ok",
                        ),
                        (
                            f"redis_sentinel_master_ok_sentinels{{{T}}}",
                            f"{WHO} {{{{master_name}}}} sentinels ok",
                        ),
                    ],
                ),
                Panel(
                    "Persistence",
                    [
                        (f"redis_rdb_last_bgsave_status{{{T}}}", f"{WHO} last RDB save ok"),
                        (f"redis_aof_last_write_status{{{T}}}", f"{WHO} last AOF write ok"),
                    ],
                    thresholds=UP,
                ),
                Panel(
                    "Since the last RDB snapshot",
                    [(f"time() - redis_rdb_last_save_timestamp_seconds{{{T}}}", WHO)],
                    "s",
                ),
            ],
        ),
        Section(
            "Is it slow?",
            [
                Panel(
                    "Keyspace hit ratio",
                    [(f"instance:redis_keyspace_hit:ratio_rate5m{{{T}}}", WHO)],
                    "percentunit",
                ),
                Panel(
                    "Commands",
                    [(f"rate(redis_commands_processed_total{{{T}}}[$__rate_interval])", WHO)],
                    "ops",
                ),
                Panel(
                    "Command latency p99 (top 10)",
                    [
                        (
                            f'topk(10, redis_command_latency_seconds{{{T},percentile="99"}})',
                            f"{WHO} {{{{cmd}}}}",
                        )
                    ],
                    "s",
                ),
                Panel("Slow log entries", [(f"redis_slowlog_length{{{T}}}", WHO)]),
            ],
        ),
    ]


def _node(name: str) -> str:
    """A per-node series named by ``rabbitmq_node`` on ours, by ``instance`` on the plugin."""
    return (
        f'(label_replace({name}{{{T},rabbitmq_node=""}}, "rabbitmq_node", "$1", "instance", "(.*)")'
        f' or {name}{{{T},rabbitmq_node!=""}})'
    )


def _rabbitmq() -> list[Section]:
    node = f"{WHO} {{{{rabbitmq_node}}}}"
    queue = f"{WHO} {{{{vhost}}}} {{{{queue}}}}"
    return [
        Section(
            "Is it up?",
            [
                Stat("Answering the exporter", f"rabbitmq_up{{{T}}}", thresholds=UP),
                Panel(
                    "Cluster nodes running",
                    [
                        (f"rabbitmq_cluster_nodes_running{{{T}}}", f"{WHO} running"),
                        (f"rabbitmq_cluster_nodes{{{T}}}", f"{WHO} members"),
                        (
                            f"count by (target, rabbitmq_cluster) (rabbitmq_identity_info{{{T}}})",
                            f"{WHO} {{{{rabbitmq_cluster}}}} reporting",
                        ),
                    ],
                    description="Ours counts members and running nodes; on the plugin,"
                    " count the nodes reporting their identity.",
                ),
                Panel(
                    "Network partitions",
                    [(f"rabbitmq_node_partitions{{{T}}}", node)],
                    thresholds=DOWN_IS_BAD,
                    description="Nodes each node cannot reach while they run (the exporter only).",
                ),
            ],
        ),
        Section(
            "Is it saturated?",
            [
                Panel(
                    "Memory used (of the high watermark)",
                    [
                        (
                            _node("rabbitmq_process_resident_memory_bytes")
                            + " / "
                            + _node("rabbitmq_resident_memory_limit_bytes"),
                            node,
                        )
                    ],
                    "percentunit",
                    thresholds=_ratio_steps(0.8, 1.0),
                ),
                Panel(
                    "Free disk",
                    [(_node("rabbitmq_disk_space_available_bytes"), node)],
                    "bytes",
                ),
                Panel(
                    "Alarms (publishers blocked)",
                    [
                        (_node("rabbitmq_alarms_memory_used_watermark"), f"{node} memory"),
                        (_node("rabbitmq_alarms_free_disk_space_watermark"), f"{node} disk"),
                    ],
                    thresholds=DOWN_IS_BAD,
                ),
                Panel(
                    "File descriptors used (of max)",
                    [
                        (
                            _node("rabbitmq_process_open_fds")
                            + " / "
                            + _node("rabbitmq_process_max_fds"),
                            node,
                        )
                    ],
                    "percentunit",
                ),
                Panel(
                    "Messages ready (top 10 queues)",
                    [(f"topk(10, rabbitmq_queue_messages_ready{{{T}}})", queue)],
                ),
                Panel(
                    "Oldest message ready (top 10 queues)",
                    [
                        (
                            f"topk(10, time() - rabbitmq_queue_head_message_timestamp{{{T}}})",
                            queue,
                        )
                    ],
                    "s",
                    "From the publisher's timestamp property; queues without one are absent.",
                ),
                Panel(
                    "Queues not reported (queue_limit)",
                    [(f"rabbitmq_exporter_queues_omitted{{{T}}}", WHO)],
                ),
            ],
        ),
        Section(
            "Is it replicating?",
            [
                Panel(
                    "Queue replicas online (of members)",
                    [
                        (
                            f"rabbitmq_queue_members_online{{{T}}} / rabbitmq_queue_members{{{T}}}",
                            queue,
                        )
                    ],
                    "percentunit",
                ),
                Panel(
                    "Queue leaders by node",
                    [(f"count by (target, rabbitmq_node) (rabbitmq_queue_leader{{{T}}})", node)],
                ),
                Panel(
                    "Nodes running",
                    [(f"rabbitmq_node_running{{{T}}}", node)],
                    thresholds=UP,
                ),
            ],
        ),
        Section(
            "Is it slow?",
            [
                Panel(
                    "Messages published and delivered",
                    [
                        (
                            f"sum by (target) (rate(rabbitmq_global_messages_received_total{{{T}}}[$__rate_interval]))",
                            f"{WHO} published",
                        ),
                        (
                            f"sum by (target) (rate(rabbitmq_global_messages_delivered_total{{{T}}}[$__rate_interval]))",
                            f"{WHO} delivered",
                        ),
                        (
                            f"sum by (target) (rate(rabbitmq_global_messages_redelivered_total{{{T}}}[$__rate_interval]))",
                            f"{WHO} redelivered",
                        ),
                    ],
                    "ops",
                ),
                Panel(
                    "Delivered per queue (top 10)",
                    [
                        (
                            f"topk(10, queue:rabbitmq_queue_messages_delivered:rate5m{{{T}}})",
                            queue,
                        )
                    ],
                    "ops",
                ),
                Panel(
                    "Unacknowledged messages (top 10 queues)",
                    [(f"topk(10, rabbitmq_queue_messages_unacked{{{T}}})", queue)],
                ),
            ],
        ),
    ]


def _http() -> list[Section]:
    return [
        Section(
            "Is it up?",
            [
                Panel("Probe succeeds", [(f"http_probe_success{{{T}}}", WHO)], thresholds=UP),
                Panel("Status code", [(f"http_probe_status_code{{{T}}}", WHO)], "none"),
            ],
        ),
        Section(
            "Is it slow?",
            [
                Panel(
                    "Time per phase",
                    [(f"http_probe_duration_seconds{{{T}}}", f"{WHO} {{{{phase}}}}")],
                    "s",
                ),
                Panel(
                    "Total time",
                    [(f"instance:http_probe_duration_seconds:sum{{{T}}}", WHO)],
                    "s",
                ),
            ],
        ),
        Section(
            "Will it break?",
            [
                Stat(
                    "Certificate expires",
                    f"http_probe_tls_cert_expiry_timestamp_seconds{{{T}}} * 1000",
                    unit="dateTimeFromNow",
                ),
                Panel(
                    "Body matches",
                    [(f"http_probe_body_match{{{T}}}", WHO)],
                    thresholds=UP,
                ),
            ],
        ),
    ]


SECTIONS = {
    "postgres": _postgres,
    "pgbouncer": _pgbouncer,
    "redis": _redis,
    "rabbitmq": _rabbitmq,
    "http": _http,
}


def _add(layout: Layout, item: Panel | Stat) -> None:
    if isinstance(item, Stat):
        panel = stat(item.title, item.expr, item.unit, item.thresholds, item.description)
        panel.targets = [target(item.expr, item.legend, instant=True)]
        layout.add(panel, 6, 4)
        return
    layout.add(
        timeseries(item.title, item.queries, item.unit, item.thresholds, item.description),
        12,
        7,
    )


def _target_variable(prefix: str) -> dict[str, Any]:
    """Targets by name; "All" also matches series without the label (the RabbitMQ plugin's)."""
    variable = query_variable("target", "Target", f"label_values({prefix}_up, target)")
    variable["allValue"] = ".*"
    return variable


def exporter_dashboard(kind: str) -> dict[str, Any] | None:
    module = _catalog()
    if module is None or kind not in SECTIONS:
        return None
    prefix = module.PREFIXES.get(kind, kind)
    layout = Layout()
    for section in SECTIONS[kind]():
        layout.add_row(section.question)
        for item in section.panels:
            _add(layout, item)
    title = TITLES.get(kind, kind)
    return dashboard(
        uid=exporter_uid(kind),
        title=f"Exporters / {title}",
        description=f"{title} servers seen by sloplane's exporter, by question",
        panels=layout.panels,
        variables=[datasource_variable(), _target_variable(prefix)],
        tags=["exporter", kind],
        time_from="now-3h",
    )


def exporter_dashboards() -> dict[str, dict[str, Any]]:
    """uid -> dashboard for every exporter kind."""
    out: dict[str, dict[str, Any]] = {}
    for kind in TITLES:
        built = exporter_dashboard(kind)
        if built is not None:
            out[exporter_uid(kind)] = built
    return out
