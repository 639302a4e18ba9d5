"""Stack rules for PgBouncer: down, and a pool too small for its clients.

The metric names are pgbouncer_exporter's, so these rules also run on its series.
"""

from __future__ import annotations

from sloplane.exporters.stack_rules import WHO, Stack, down_alert, page, recording_rule, ticket
from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest, fires_and_not

_B = '{instance="pool:9127",job="sloplane-exporter"}'
_P = '{instance="pool:9127",job="sloplane-exporter",database="app",user="app"}'

STACK = Stack(
    kind="pgbouncer",
    records=[
        recording_rule(
            "instance:pgbouncer_clients_waiting:sum",
            "sum without (database, user) (pgbouncer_pools_client_waiting_connections)",
        ),
    ],
    alerts=[
        down_alert(
            "PgBouncerDown",
            "pgbouncer_up",
            "PgBouncer",
            "the pooler is down, unreachable, or refuses the exporter's user (it must be in"
            " stats_users or admin_users).",
        ),
        page(
            "PgBouncerPoolSaturated",
            "pgbouncer_pools_client_waiting_connections > 0"
            " and pgbouncer_pools_client_maxwait_seconds > 1",
            "2m",
            f"Pool {{{{ $labels.database }}}}/{{{{ $labels.user }}}} on {WHO} is saturated",
            "Clients have waited over a second for a server connection for 2 minutes: every"
            " server connection of the pool is busy. Raise default_pool_size (if PostgreSQL"
            " has room) or find the slow transactions.",
        ),
        ticket(
            "PgBouncerClientConnectionsNearLimit",
            "sum without (database, user) (pgbouncer_pools_client_active_connections"
            " + pgbouncer_pools_client_waiting_connections)\n"
            "> 0.8 * pgbouncer_config_max_client_connections",
            "5m",
            f"PgBouncer {WHO} has over 80% of max_client_conn clients",
            "New clients will be refused when max_client_conn is reached.",
        ),
    ],
    alert_tests=[
        *fires_and_not(
            "PgBouncerDown", "5m", {f"pgbouncer_up{_B}": "0x10"}, {f"pgbouncer_up{_B}": "1x10"}
        ),
        *fires_and_not(
            "PgBouncerPoolSaturated",
            "10m",
            {
                f"pgbouncer_pools_client_waiting_connections{_P}": "5x10",
                f"pgbouncer_pools_client_maxwait_seconds{_P}": "3x10",
            },
            {
                f"pgbouncer_pools_client_waiting_connections{_P}": "1x10",
                f"pgbouncer_pools_client_maxwait_seconds{_P}": "0.01x10",
            },
        ),
        AlertTest(
            {
                f"pgbouncer_pools_client_active_connections{_P}": "90x10",
                f"pgbouncer_pools_client_waiting_connections{_P}": "0x10",
                f"pgbouncer_config_max_client_connections{_B}": "100x10",
            },
            "10m",
            "PgBouncerClientConnectionsNearLimit",
            [{}],
        ),
    ],
    record_tests=[
        RecordTest(
            {
                f"pgbouncer_pools_client_waiting_connections{_P}": "2x5",
                'pgbouncer_pools_client_waiting_connections{instance="pool:9127",job="sloplane-exporter",database="app",user="report"}': "3x5",
            },
            "5m",
            "instance:pgbouncer_clients_waiting:sum",
            [(_B, 5.0)],
        ),
    ],
)
