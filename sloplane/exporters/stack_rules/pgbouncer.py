"""Stack rules for PgBouncer: down, and a pool too small for its clients.

The metric names are pgbouncer_exporter's, so these rules also run on its series.
"""

from __future__ import annotations

from sloplane.exporters.stack_rules import (
    PAGE,
    TICKET,
    WHO,
    AlertTest,
    RecordTest,
    Stack,
    alert_rule,
    recording_rule,
)

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
        alert_rule(
            "PgBouncerDown",
            "pgbouncer_up == 0",
            "1m",
            PAGE,
            f"PgBouncer {WHO} does not answer the exporter",
            "pgbouncer_up has been 0 for a minute: the pooler is down, unreachable, or refuses"
            " the exporter's user (it must be in stats_users or admin_users).",
        ),
        alert_rule(
            "PgBouncerPoolSaturated",
            "pgbouncer_pools_client_waiting_connections > 0"
            " and pgbouncer_pools_client_maxwait_seconds > 1",
            "2m",
            PAGE,
            f"Pool {{{{ $labels.database }}}}/{{{{ $labels.user }}}} on {WHO} is saturated",
            "Clients have waited over a second for a server connection for 2 minutes: every"
            " server connection of the pool is busy. Raise default_pool_size (if PostgreSQL"
            " has room) or find the slow transactions.",
        ),
        alert_rule(
            "PgBouncerClientConnectionsNearLimit",
            "sum without (database, user) (pgbouncer_pools_client_active_connections"
            " + pgbouncer_pools_client_waiting_connections)\n"
            "> 0.8 * pgbouncer_config_max_client_connections",
            "5m",
            TICKET,
            f"PgBouncer {WHO} has over 80% of max_client_conn clients",
            "New clients will be refused when max_client_conn is reached.",
        ),
    ],
    alert_tests=[
        AlertTest({f"pgbouncer_up{_B}": "0x10"}, "5m", "PgBouncerDown", [{}]),
        AlertTest({f"pgbouncer_up{_B}": "1x10"}, "5m", "PgBouncerDown"),
        AlertTest(
            {
                f"pgbouncer_pools_client_waiting_connections{_P}": "5x10",
                f"pgbouncer_pools_client_maxwait_seconds{_P}": "3x10",
            },
            "10m",
            "PgBouncerPoolSaturated",
            [{}],
        ),
        AlertTest(
            {
                f"pgbouncer_pools_client_waiting_connections{_P}": "1x10",
                f"pgbouncer_pools_client_maxwait_seconds{_P}": "0.01x10",
            },
            "10m",
            "PgBouncerPoolSaturated",
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
