"""PostgreSQL: the primary must be up, and transactions must commit.

No ``SLOS`` list here: every module-level SLO instance is loaded.
"""

from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI

postgres_up = SLO(
    service="postgres",
    name="up",
    description="The primary answers the exporter's scrape (time-based availability).",
    objective=99.95,
    window="28d",
    sli=AvailabilitySLI(gauge='pg_up{instance="pg-primary:5432"}'),
    team="data",
)

postgres_commits = SLO(
    service="postgres",
    name="transactions",
    description="Transactions that commit rather than roll back, per database.",
    objective=99.5,
    window="28d",
    sli=EventsSLI(
        errors='pg_stat_database_xact_rollback{datname!~"template.*"}',
        total=(
            'pg_stat_database_xact_commit{datname!~"template.*"}'
            ' + pg_stat_database_xact_rollback{datname!~"template.*"}'
        ),
    ),
    group_by=("datname",),
    team="data",
)
