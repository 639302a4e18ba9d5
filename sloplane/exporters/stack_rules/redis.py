"""Stack rules for Redis: down, memory, evictions, persistence, and the HA topology
(a replica's link to its master, a replica gone, a Sentinel that cannot fail over).

The metric names are redis_exporter's, so these rules also run on its series.
"""

from __future__ import annotations

from sloplane.exporters.stack_rules import WHO, Stack, down_alert, page, recording_rule, ticket
from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest, fires_and_not

_R = '{instance="cache:9121",job="sloplane-exporter"}'
_RT = '{instance="127.0.0.1:9465",job="sloplane-exporter",target="cache"}'
_LINK = (
    '{instance="cache-2:9121",job="sloplane-exporter",master_host="10.0.0.1",master_port="6379"}'
)
_S = '{instance="sentinel-1:9121",job="sloplane-exporter",master_name="cache",message="NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"}'

STACK = Stack(
    kind="redis",
    records=[
        recording_rule(
            "instance:redis_memory_used:ratio",
            "redis_memory_used_bytes / (redis_memory_max_bytes > 0)",
        ),
        recording_rule(
            "instance:redis_keyspace_hit:ratio_rate5m",
            "rate(redis_keyspace_hits_total[5m])\n"
            "/\n"
            "(rate(redis_keyspace_hits_total[5m]) + rate(redis_keyspace_misses_total[5m]) > 0)",
        ),
    ],
    alerts=[
        down_alert(
            "RedisDown",
            "redis_up",
            "Redis",
            "the server is down, unreachable, or refuses the exporter's credentials.",
        ),
        ticket(
            "RedisMemoryNearMax",
            "instance:redis_memory_used:ratio > 0.9",
            "5m",
            f"Redis {WHO} uses over 90% of maxmemory",
            "At maxmemory Redis evicts keys or refuses writes, depending on maxmemory-policy.",
        ),
        ticket(
            "RedisEvictingKeys",
            "rate(redis_evicted_keys_total[5m]) > 0",
            "5m",
            f"Redis {WHO} is evicting keys",
            "Keys are being evicted to stay under maxmemory: the cache is too small for its data.",
        ),
        page(
            "RedisReplicationLinkDown",
            "redis_master_link_up == 0",
            "2m",
            f"Redis replica {WHO} lost its master",
            "The replica's link to its master is down; its data is getting stale.",
        ),
        ticket(
            "RedisReplicaMissing",
            "redis_connected_slaves < max_over_time(redis_connected_slaves[6h])",
            "2m",
            f"Redis master {WHO} has fewer replicas than in the last 6 hours",
            "A replica disconnected from the master: one copy of the data less, and one"
            " failover candidate less.",
        ),
        page(
            "RedisSentinelNoQuorum",
            "redis_sentinel_master_ckquorum_status == 0",
            "1m",
            f"Sentinel {WHO} cannot reach quorum for master {{{{ $labels.master_name }}}}",
            "SENTINEL CKQUORUM fails: too few Sentinels are up to agree that the master is"
            " down or to authorize a failover, so a master failure would not be healed.",
        ),
        ticket(
            "RedisPersistenceFailing",
            "redis_rdb_last_bgsave_status == 0 or redis_aof_last_write_status == 0",
            "5m",
            f"Redis {WHO} cannot persist its data",
            "The last RDB snapshot or AOF write failed (disk full or read-only?): a restart"
            " would lose the writes since the last good save.",
        ),
    ],
    alert_tests=[
        *fires_and_not("RedisDown", "5m", {f"redis_up{_R}": "0x10"}, {f"redis_up{_R}": "1x10"}),
        AlertTest({f"redis_up{_RT}": "0x10"}, "5m", "RedisDown", [{}]),
        *fires_and_not(
            "RedisMemoryNearMax",
            "10m",
            {f"redis_memory_used_bytes{_R}": "95x10", f"redis_memory_max_bytes{_R}": "100x10"},
            {f"redis_memory_used_bytes{_R}": "95x10", f"redis_memory_max_bytes{_R}": "0x10"},
        ),
        *fires_and_not(
            "RedisEvictingKeys",
            "15m",
            {f"redis_evicted_keys_total{_R}": "0+5x15"},
            {f"redis_evicted_keys_total{_R}": "7x15"},
        ),
        *fires_and_not(
            "RedisReplicationLinkDown",
            "5m",
            {f"redis_master_link_up{_LINK}": "0x10"},
            {f"redis_master_link_up{_LINK}": "1x10"},
        ),
        *fires_and_not(
            "RedisReplicaMissing",
            "12m",
            {f"redis_connected_slaves{_R}": "2x5 1x10"},
            {f"redis_connected_slaves{_R}": "2x15"},
        ),
        *fires_and_not(
            "RedisSentinelNoQuorum",
            "5m",
            {f"redis_sentinel_master_ckquorum_status{_S}": "0x10"},
            {
                'redis_sentinel_master_ckquorum_status{instance="sentinel-1:9121",job="sloplane-exporter",master_name="cache",message="OK 3 usable Sentinels."}': "1x10"
            },
        ),
        *fires_and_not(
            "RedisPersistenceFailing",
            "10m",
            {f"redis_rdb_last_bgsave_status{_R}": "0x10"},
            {f"redis_rdb_last_bgsave_status{_R}": "1x10"},
        ),
    ],
    record_tests=[
        RecordTest(
            {
                f"redis_keyspace_hits_total{_R}": "0+3x10",
                f"redis_keyspace_misses_total{_R}": "0+1x10",
            },
            "10m",
            "instance:redis_keyspace_hit:ratio_rate5m",
            [(_R, 0.75)],
        ),
    ],
)
