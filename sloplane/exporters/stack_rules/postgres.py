"""Stack rules for PostgreSQL: down, connections, long transactions, and the replication
topology (lag seen from either side, a replica gone, a slot hoarding WAL, wraparound).

The metric names are postgres_exporter's, so these rules also run on its series.
"""

from __future__ import annotations

from sloplane.exporters.stack_rules import WHO, Stack, down_alert, recording_rule, ticket
from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest, fires_and_not

#: Retained WAL that makes a slot worth a ticket (10 GiB).
SLOT_RETAINED_BYTES = 10 * 1024**3
#: Transaction-ID age worth a ticket: half of the 2^31 at which PostgreSQL stops writes.
WRAPAROUND_AGE = 2**30
#: WAL a connected replica may be behind before it is "lagging" (1 GiB).
REPLICA_LAG_BYTES = 1024**3

_L = '{instance="db:9187",job="sloplane-exporter"}'
# A configured target on the exporter's own /metrics: instance is the exporter, target the server.
_LT = '{instance="127.0.0.1:9465",job="sloplane-exporter",target="main-db"}'
_DB = '{instance="db:9187",job="sloplane-exporter",datname="app"}'
_SLOT = '{instance="db:9187",job="sloplane-exporter",slot_name="replica1"}'  # physical: database ""
_REP = (
    '{instance="db:9187",job="sloplane-exporter",application_name="replica1",'
    'client_addr="10.0.0.2",state="streaming",slot_name="replica1"}'
)


def _conn(datname: str, state: str) -> str:
    return (
        f'{{__name__="pg_stat_activity_count",instance="db:9187",job="sloplane-exporter",'
        f'datname="{datname}",state="{state}"}}'
    )


STACK = Stack(
    kind="postgres",
    records=[
        recording_rule(
            "instance:pg_connections_used:ratio",
            "sum without (datname, state) (pg_stat_activity_count) / pg_settings_max_connections",
        ),
        recording_rule(
            "instance:pg_cache_hit:ratio_rate5m",
            "sum without (datname) (rate(pg_stat_database_blks_hit[5m]))\n"
            "/\n"
            "(sum without (datname) (rate(pg_stat_database_blks_hit[5m]))"
            " + sum without (datname) (rate(pg_stat_database_blks_read[5m])) > 0)",
        ),
        recording_rule(
            "instance:pg_transactions:rate5m",
            "sum without (datname) (rate(pg_stat_database_xact_commit[5m])"
            " + rate(pg_stat_database_xact_rollback[5m]))",
        ),
    ],
    alerts=[
        down_alert(
            "PostgresDown",
            "pg_up",
            "PostgreSQL",
            "the server is down, unreachable, or refuses the exporter's credentials (see the"
            " exporter's log and pg_scrape_errors_total).",
        ),
        ticket(
            "PostgresReplicationLag",
            "pg_replication_lag_seconds > 30",
            "5m",
            f"PostgreSQL replica {WHO} lags its primary",
            "The replica has WAL it has not replayed, and its last replayed transaction is"
            " over 30s old.",
        ),
        ticket(
            "PostgresReplicaBehindInBytes",
            f"pg_stat_replication_pg_wal_lsn_diff > {REPLICA_LAG_BYTES}",
            "5m",
            f"Replica {{{{ $labels.application_name }}}} of PostgreSQL {WHO} is over 1 GiB behind",
            "Seen from the primary: the replica has not replayed over 1 GiB of WAL for 5"
            " minutes. Reads from it are stale and a failover to it would lose time.",
        ),
        ticket(
            "PostgresReplicaMissing",
            "pg_replication_slots_active == 0\n"
            "or pg_replication_wal_receiver_streaming == 0\n"
            "or pg_replication_connected_replicas"
            " < max_over_time(pg_replication_connected_replicas[6h])",
            "2m",
            f"A replica of PostgreSQL {WHO} is not streaming",
            "A physical replication slot has no consumer, a replica's WAL receiver is not"
            " streaming, or the primary has fewer replicas than in the last 6 hours.",
        ),
        ticket(
            "PostgresReplicationSlotRetainingWAL",
            f"pg_replication_slots_retained_wal_bytes > {SLOT_RETAINED_BYTES}",
            "10m",
            f"Replication slot {{{{ $labels.slot_name }}}} on {WHO} keeps over 10 GiB of WAL",
            "The slot's consumer is gone or slow, so the primary keeps every WAL file since;"
            " the disk fills. Reconnect the consumer or drop the slot.",
        ),
        ticket(
            "PostgresWraparoundApproaching",
            f"pg_database_wraparound_age_datfrozenxid_seconds > {WRAPAROUND_AGE}",
            "10m",
            f"Database {{{{ $labels.datname }}}} on {WHO} is half way to transaction ID wraparound",
            "The oldest unfrozen transaction ID is over 2^30 transactions old; at 2^31"
            " PostgreSQL stops accepting writes. Check what blocks vacuum (long transactions,"
            " abandoned slots, prepared transactions).",
        ),
        ticket(
            "PostgresConnectionsNearLimit",
            "instance:pg_connections_used:ratio > 0.8",
            "5m",
            f"PostgreSQL {WHO} uses over 80% of max_connections",
            "New clients will be refused when the limit is reached.",
        ),
        ticket(
            "PostgresLongTransaction",
            "max without (datname, state) (pg_stat_activity_max_tx_duration) > 3600",
            "5m",
            f"A transaction on PostgreSQL {WHO} has been open for over an hour",
            "Long transactions hold locks and stop vacuum from removing dead rows.",
        ),
    ],
    alert_tests=[
        *fires_and_not("PostgresDown", "5m", {f"pg_up{_L}": "1 0x10"}, {f"pg_up{_L}": "1x10"}),
        AlertTest({f"pg_up{_LT}": "0x10"}, "5m", "PostgresDown", [{}]),
        *fires_and_not(
            "PostgresReplicationLag",
            "10m",
            {f"pg_replication_lag_seconds{_L}": "60x10"},
            {f"pg_replication_lag_seconds{_L}": "60x2 0x8"},
        ),
        *fires_and_not(
            "PostgresReplicaBehindInBytes",
            "10m",
            {f"pg_stat_replication_pg_wal_lsn_diff{_REP}": "2e9x10"},
            {f"pg_stat_replication_pg_wal_lsn_diff{_REP}": "1e6x10"},
        ),
        AlertTest(
            {f"pg_replication_slots_active{_SLOT}": "1x2 0x10"},
            "10m",
            "PostgresReplicaMissing",
            [{}],
        ),
        AlertTest(
            {f"pg_replication_wal_receiver_streaming{_L}": "0x10"},
            "10m",
            "PostgresReplicaMissing",
            [{}],
        ),
        AlertTest(
            {f"pg_replication_connected_replicas{_L}": "2x5 1x10"},
            "12m",
            "PostgresReplicaMissing",
            [{}],
        ),
        AlertTest(
            {
                f"pg_replication_connected_replicas{_L}": "2x10",
                f"pg_replication_slots_active{_SLOT}": "1x10",
                f"pg_replication_wal_receiver_streaming{_L}": "1x10",
            },
            "10m",
            "PostgresReplicaMissing",
        ),
        *fires_and_not(
            "PostgresReplicationSlotRetainingWAL",
            "20m",
            {f"pg_replication_slots_retained_wal_bytes{_SLOT}": "2e10x20"},
            {f"pg_replication_slots_retained_wal_bytes{_SLOT}": "1e6x20"},
        ),
        *fires_and_not(
            "PostgresWraparoundApproaching",
            "20m",
            {f"pg_database_wraparound_age_datfrozenxid_seconds{_DB}": "1.5e9x20"},
            {f"pg_database_wraparound_age_datfrozenxid_seconds{_DB}": "2e8x20"},
        ),
        *fires_and_not(
            "PostgresConnectionsNearLimit",
            "10m",
            {
                _conn("app", "idle"): "50x10",
                _conn("app", "active"): "40x10",
                f"pg_settings_max_connections{_L}": "100x10",
            },
            {_conn("app", "idle"): "10x10", f"pg_settings_max_connections{_L}": "100x10"},
        ),
        AlertTest(
            {
                '{__name__="pg_stat_activity_max_tx_duration",instance="db:9187",'
                'job="sloplane-exporter",datname="app",state="idle in transaction"}': "3000+60x20",
                '{__name__="pg_stat_activity_max_tx_duration",instance="db:9187",'
                'job="sloplane-exporter",datname="reports",state="active"}': "0x20",
            },
            "20m",
            "PostgresLongTransaction",
            [{}],
        ),
    ],
    record_tests=[
        RecordTest(
            {
                'pg_stat_database_blks_hit{instance="db:9187",job="sloplane-exporter",datname="app"}': "0+3x10",
                'pg_stat_database_blks_read{instance="db:9187",job="sloplane-exporter",datname="app"}': "0+1x10",
            },
            "10m",
            "instance:pg_cache_hit:ratio_rate5m",
            [(_L, 0.75)],
        ),
    ],
)
