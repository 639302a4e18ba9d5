"""Alert and recording rules for the stack the exporters watch, with their promtool tests.

:func:`stack_rule_files` returns ``{relative path: file content}``: one rule file
and one ``promtool test rules`` file per kind, under ``stack/``. The content is
generated from the tables below, so the same input always gives the same bytes.
Thresholds are the usual starting points; the docs (docs/exporters.md) list them.

Expressions aggregate with ``without (...)`` so whatever labels a scrape adds
(``instance``, ``job``, and ``target`` on the exporter's own ``/metrics``) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sloplane.slo.rules.common import Rule
from sloplane.slo.rules.render import dump_yaml

CERT_EXPIRY_DAYS = 14

#: Who an alert is about: the configured target's name on the exporter's ``/metrics`` (where
#: ``instance`` is the exporter itself), else the probed address Prometheus put in ``instance``.
WHO = "{{ with $labels.target }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"

#: sloplane's AlertManager routing pages on ``page`` and opens tickets on ``ticket``.
PAGE = "page"
TICKET = "ticket"


def alert_rule(
    name: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> Rule:
    """An alerting rule of a stack; :func:`stack_rule_files` adds the ``sloplane_stack`` label."""
    return Rule(
        expr=expr,
        alert=name,
        for_=for_,
        labels={"severity": severity},
        annotations={"summary": summary, "description": description},
    )


def recording_rule(record: str, expr: str) -> Rule:
    return Rule(expr=expr, record=record)


@dataclass(frozen=True)
class AlertTest:
    """Series (``'metric{labels}': 'values'``), an eval time, and the alerts expected then."""

    series: dict[str, str]
    eval_time: str
    alert: str
    fires: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordTest:
    series: dict[str, str]
    eval_time: str
    expr: str
    expected: list[tuple[str, float]]


@dataclass(frozen=True)
class Stack:
    kind: str
    records: list[Rule]
    alerts: list[Rule]
    alert_tests: list[AlertTest]
    record_tests: list[RecordTest]


_L = '{instance="db:9187",job="sloplane-exporter"}'
# A configured target on the exporter's own /metrics: instance is the exporter, target the server.
_LT = '{instance="127.0.0.1:9465",job="sloplane-exporter",target="main-db"}'

POSTGRES = Stack(
    kind="postgres",
    records=[
        recording_rule(
            "instance:pg_connections_used:ratio",
            "sum without (datname, state) (pg_connections) / pg_max_connections",
        ),
        recording_rule(
            "instance:pg_cache_hit:ratio_rate5m",
            "sum without (datname) (rate(pg_stat_database_blks_hit_total[5m]))\n"
            "/\n"
            "(sum without (datname) (rate(pg_stat_database_blks_hit_total[5m]))"
            " + sum without (datname) (rate(pg_stat_database_blks_read_total[5m])) > 0)",
        ),
        recording_rule(
            "instance:pg_transactions:rate5m",
            "sum without (datname) (rate(pg_stat_database_xact_commit_total[5m])"
            " + rate(pg_stat_database_xact_rollback_total[5m]))",
        ),
    ],
    alerts=[
        alert_rule(
            "PostgresDown",
            "pg_up == 0",
            "1m",
            PAGE,
            f"PostgreSQL {WHO} does not answer the exporter",
            "pg_up has been 0 for a minute: the server is down, unreachable, or refuses"
            " the exporter's credentials (see the exporter's log and pg_scrape_errors_total).",
        ),
        alert_rule(
            "PostgresReplicationLag",
            "pg_replication_lag_seconds > 30",
            "5m",
            TICKET,
            f"PostgreSQL replica {WHO} lags its primary",
            "The replica has not replayed a transaction from its primary for over 30s.",
        ),
        alert_rule(
            "PostgresConnectionsNearLimit",
            "instance:pg_connections_used:ratio > 0.8",
            "5m",
            TICKET,
            f"PostgreSQL {WHO} uses over 80% of max_connections",
            "New clients will be refused when the limit is reached.",
        ),
        alert_rule(
            "PostgresLongTransaction",
            "pg_longest_transaction_seconds > 3600",
            "5m",
            TICKET,
            f"A transaction on PostgreSQL {WHO} has been open for over an hour",
            "Long transactions hold locks and stop vacuum from removing dead rows.",
        ),
    ],
    alert_tests=[
        AlertTest({f"pg_up{_L}": "1 0x10"}, "5m", "PostgresDown", [{}]),
        AlertTest({f"pg_up{_L}": "1x10"}, "5m", "PostgresDown"),
        AlertTest({f"pg_up{_LT}": "0x10"}, "5m", "PostgresDown", [{}]),
        AlertTest(
            {f"pg_replication_lag_seconds{_L}": "60x10"}, "10m", "PostgresReplicationLag", [{}]
        ),
        AlertTest({f"pg_replication_lag_seconds{_L}": "60x2 0x8"}, "10m", "PostgresReplicationLag"),
        AlertTest(
            {
                '{__name__="pg_connections",instance="db:9187",job="sloplane-exporter",datname="app",state="idle"}': "50x10",
                '{__name__="pg_connections",instance="db:9187",job="sloplane-exporter",datname="app",state="active"}': "40x10",
                f"pg_max_connections{_L}": "100x10",
            },
            "10m",
            "PostgresConnectionsNearLimit",
            [{}],
        ),
        AlertTest(
            {
                '{__name__="pg_connections",instance="db:9187",job="sloplane-exporter",datname="app",state="idle"}': "10x10",
                f"pg_max_connections{_L}": "100x10",
            },
            "10m",
            "PostgresConnectionsNearLimit",
        ),
        AlertTest(
            {f"pg_longest_transaction_seconds{_L}": "3000+60x20"},
            "20m",
            "PostgresLongTransaction",
            [{}],
        ),
    ],
    record_tests=[
        RecordTest(
            {
                'pg_stat_database_blks_hit_total{instance="db:9187",job="sloplane-exporter",datname="app"}': "0+3x10",
                'pg_stat_database_blks_read_total{instance="db:9187",job="sloplane-exporter",datname="app"}': "0+1x10",
            },
            "10m",
            "instance:pg_cache_hit:ratio_rate5m",
            [(_L, 0.75)],
        ),
    ],
)

_R = '{instance="cache:9121",job="sloplane-exporter"}'
_RT = '{instance="127.0.0.1:9465",job="sloplane-exporter",target="cache"}'

REDIS = Stack(
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
        alert_rule(
            "RedisDown",
            "redis_up == 0",
            "1m",
            PAGE,
            f"Redis {WHO} does not answer the exporter",
            "redis_up has been 0 for a minute: the server is down, unreachable, or refuses"
            " the exporter's credentials.",
        ),
        alert_rule(
            "RedisMemoryNearMax",
            "instance:redis_memory_used:ratio > 0.9",
            "5m",
            TICKET,
            f"Redis {WHO} uses over 90% of maxmemory",
            "At maxmemory Redis evicts keys or refuses writes, depending on maxmemory-policy.",
        ),
        alert_rule(
            "RedisEvictingKeys",
            "rate(redis_evicted_keys_total[5m]) > 0",
            "5m",
            TICKET,
            f"Redis {WHO} is evicting keys",
            "Keys are being evicted to stay under maxmemory: the cache is too small for its data.",
        ),
        alert_rule(
            "RedisReplicationLinkDown",
            "redis_master_link_up == 0",
            "2m",
            PAGE,
            f"Redis replica {WHO} lost its master",
            "The replica's link to its master is down; its data is getting stale.",
        ),
    ],
    alert_tests=[
        AlertTest({f"redis_up{_R}": "0x10"}, "5m", "RedisDown", [{}]),
        AlertTest({f"redis_up{_R}": "1x10"}, "5m", "RedisDown"),
        AlertTest({f"redis_up{_RT}": "0x10"}, "5m", "RedisDown", [{}]),
        AlertTest(
            {f"redis_memory_used_bytes{_R}": "95x10", f"redis_memory_max_bytes{_R}": "100x10"},
            "10m",
            "RedisMemoryNearMax",
            [{}],
        ),
        AlertTest(
            {f"redis_memory_used_bytes{_R}": "95x10", f"redis_memory_max_bytes{_R}": "0x10"},
            "10m",
            "RedisMemoryNearMax",
        ),
        AlertTest({f"redis_evicted_keys_total{_R}": "0+5x15"}, "15m", "RedisEvictingKeys", [{}]),
        AlertTest({f"redis_evicted_keys_total{_R}": "7x15"}, "15m", "RedisEvictingKeys"),
        AlertTest({f"redis_master_link_up{_R}": "0x10"}, "5m", "RedisReplicationLinkDown", [{}]),
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

_Q = '{instance="mq:9419",job="sloplane-exporter",vhost="/",queue="orders"}'

RABBITMQ = Stack(
    kind="rabbitmq",
    records=[
        recording_rule(
            "queue:rabbitmq_queue_messages_published:rate5m",
            "rate(rabbitmq_queue_messages_published_total[5m])",
        ),
        recording_rule(
            "queue:rabbitmq_queue_messages_delivered:rate5m",
            "rate(rabbitmq_queue_messages_delivered_total[5m])",
        ),
    ],
    alerts=[
        alert_rule(
            "RabbitMQDown",
            "rabbitmq_up == 0",
            "1m",
            PAGE,
            f"RabbitMQ {WHO} does not answer the exporter",
            "rabbitmq_up has been 0 for a minute: the broker is down, unreachable, or refuses"
            " the exporter's credentials.",
        ),
        alert_rule(
            "RabbitMQQueueBacklogGrowing",
            "rabbitmq_queue_messages_ready > 100 and deriv(rabbitmq_queue_messages_ready[10m]) > 0",
            "10m",
            TICKET,
            f"Queue {{{{ $labels.queue }}}} on {WHO} keeps growing",
            "Over 100 ready messages and still growing for 10 minutes: consumers do not keep up.",
        ),
        alert_rule(
            "RabbitMQQueueWithoutConsumers",
            "rabbitmq_queue_consumers == 0 and rabbitmq_queue_messages_ready > 0",
            "10m",
            TICKET,
            f"Queue {{{{ $labels.queue }}}} on {WHO} has messages and no consumer",
            "Messages are waiting in a queue nobody consumes.",
        ),
        alert_rule(
            "RabbitMQResourceAlarm",
            "rabbitmq_node_memory_alarm == 1 or rabbitmq_node_disk_free_alarm == 1"
            " or rabbitmq_connection_blocked == 1",
            "1m",
            PAGE,
            f"RabbitMQ {WHO} raised a memory or disk alarm",
            "Publishers are blocked until the alarm clears.",
        ),
    ],
    alert_tests=[
        AlertTest(
            {'rabbitmq_up{instance="mq:9419",job="sloplane-exporter"}': "0x10"},
            "5m",
            "RabbitMQDown",
            [{}],
        ),
        AlertTest(
            {
                'rabbitmq_up{instance="127.0.0.1:9465",job="sloplane-exporter",target="broker"}': "0x10"
            },
            "5m",
            "RabbitMQDown",
            [{}],
        ),
        AlertTest(
            {f"rabbitmq_queue_messages_ready{_Q}": "100+20x40"},
            "40m",
            "RabbitMQQueueBacklogGrowing",
            [{"vhost": "/", "queue": "orders"}],
        ),
        AlertTest(
            {f"rabbitmq_queue_messages_ready{_Q}": "500x40"}, "40m", "RabbitMQQueueBacklogGrowing"
        ),
        AlertTest(
            {f"rabbitmq_queue_consumers{_Q}": "0x20", f"rabbitmq_queue_messages_ready{_Q}": "3x20"},
            "20m",
            "RabbitMQQueueWithoutConsumers",
            [{"vhost": "/", "queue": "orders"}],
        ),
        AlertTest(
            {f"rabbitmq_queue_consumers{_Q}": "0x20", f"rabbitmq_queue_messages_ready{_Q}": "0x20"},
            "20m",
            "RabbitMQQueueWithoutConsumers",
        ),
        AlertTest(
            {
                'rabbitmq_node_memory_alarm{instance="mq:9419",job="sloplane-exporter",node="rabbit@mq"}': "1x10"
            },
            "5m",
            "RabbitMQResourceAlarm",
            [{"node": "rabbit@mq"}],
        ),
    ],
    record_tests=[
        RecordTest(
            {f"rabbitmq_queue_messages_published_total{_Q}": "0+60x10"},
            "10m",
            "queue:rabbitmq_queue_messages_published:rate5m",
            [(_Q, 1.0)],
        ),
    ],
)

_H = '{instance="https://vault:8200/v1/sys/health",job="sloplane-probe"}'

HTTP = Stack(
    kind="http",
    records=[
        recording_rule(
            "instance:http_probe_duration_seconds:sum",
            "sum without (phase) (http_probe_duration_seconds)",
        ),
    ],
    alerts=[
        alert_rule(
            "ProbeFailing",
            "http_probe_success == 0",
            "2m",
            PAGE,
            f"Probe of {WHO} is failing",
            "The endpoint does not answer, or answers with a status or body the probe does not"
            " accept (http_probe_status_code, http_probe_body_match).",
        ),
        alert_rule(
            "CertificateExpiringSoon",
            f"http_probe_tls_cert_expiry_timestamp_seconds - time() < {CERT_EXPIRY_DAYS} * 86400",
            "10m",
            TICKET,
            f"TLS certificate of {WHO} expires within {CERT_EXPIRY_DAYS} days",
            "Renew the certificate before clients start refusing the endpoint.",
        ),
    ],
    alert_tests=[
        AlertTest({f"http_probe_success{_H}": "0x10"}, "5m", "ProbeFailing", [{}]),
        AlertTest({f"http_probe_success{_H}": "1x10"}, "5m", "ProbeFailing"),
        AlertTest(
            {
                'http_probe_success{instance="127.0.0.1:9465",job="sloplane-exporter",target="vault"}': "0x10"
            },
            "5m",
            "ProbeFailing",
            [{}],
        ),
        # Test time starts at 0: an expiry 10 days after it fires, one 30 days after does not.
        AlertTest(
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "864000x30"},
            "20m",
            "CertificateExpiringSoon",
            [{}],
        ),
        AlertTest(
            {f"http_probe_tls_cert_expiry_timestamp_seconds{_H}": "2592000x30"},
            "20m",
            "CertificateExpiringSoon",
        ),
    ],
    record_tests=[
        RecordTest(
            {
                '{__name__="http_probe_duration_seconds",instance="https://vault:8200/v1/sys/health",job="sloplane-probe",phase="connect"}': "0.25x5",
                '{__name__="http_probe_duration_seconds",instance="https://vault:8200/v1/sys/health",job="sloplane-probe",phase="tls"}': "0.5x5",
            },
            "2m",
            "instance:http_probe_duration_seconds:sum",
            [(_H, 0.75)],
        ),
    ],
)

STACKS: list[Stack] = [POSTGRES, REDIS, RABBITMQ, HTTP]


def stack_rule_files() -> dict[str, str]:
    """Rule and test files for every kind, by path relative to the Prometheus build dir."""
    files: dict[str, str] = {}
    for stack in STACKS:
        rules = f"stack/{stack.kind}.rules.yml"
        files[rules] = dump_yaml(_rule_file(stack))
        files[f"stack/{stack.kind}.rules.test.yml"] = dump_yaml(_test_file(stack, rules))
    return files


def _rule_file(stack: Stack) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": f"sloplane-stack-{stack.kind}-records",
                "rules": [r.to_dict() for r in stack.records],
            },
            {
                "name": f"sloplane-stack-{stack.kind}-alerts",
                "rules": [_stack_alert(stack.kind, a).to_dict() for a in stack.alerts],
            },
        ]
    }


def _stack_alert(kind: str, alert: Rule) -> Rule:
    return replace(alert, labels={**alert.labels, "sloplane_stack": kind})


def _test_file(stack: Stack, rule_path: str) -> dict[str, Any]:
    alerts = {a.alert: a for a in stack.alerts}
    tests: list[dict[str, Any]] = []
    for case in stack.alert_tests:
        alert = alerts[case.alert]
        base = _series_labels(next(iter(case.series)))
        base.pop("__name__", None)
        # Keep the labels every input series shares: those survive the alert's expression.
        for series in case.series:
            shared = _series_labels(series)
            base = {k: v for k, v in base.items() if shared.get(k) == v}
        expected = []
        for extra in case.fires:
            labels = {**base, **extra, **alert.labels, "sloplane_stack": stack.kind}
            expected.append(
                {
                    "exp_labels": dict(sorted(labels.items())),
                    "exp_annotations": {
                        key: _render(text, labels) for key, text in alert.annotations.items()
                    },
                }
            )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        )
    for rcase in stack.record_tests:
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in rcase.series.items()],
                "promql_expr_test": [
                    {
                        "expr": rcase.expr,
                        "eval_time": rcase.eval_time,
                        "exp_samples": [
                            {"labels": rcase.expr + labels, "value": value}
                            for labels, value in rcase.expected
                        ],
                    }
                ],
            }
        )
    return {
        "rule_files": [rule_path.rsplit("/", 1)[-1]],
        "evaluation_interval": "1m",
        "tests": tests,
    }


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_TEMPLATE = re.compile(r"\{\{ \$labels\.(\w+) \}\}")
_WITH_ELSE = re.compile(
    r"\{\{ with \$labels\.(\w+) \}\}\{\{ \. \}\}\{\{ else \}\}(.*?)\{\{ end \}\}"
)


def _series_labels(series: str) -> dict[str, str]:
    name, _, rest = series.partition("{")
    labels = dict(_LABEL.findall(rest))
    if name:
        labels["__name__"] = name
    return labels


def _render(template: str, labels: dict[str, str]) -> str:
    """Render the constructs the annotations use, as Go's text/template would.

    ``{{ $labels.x }}``, and ``{{ with $labels.x }}{{ . }}{{ else }}...{{ end }}``
    (an absent or empty label takes the else branch).
    """

    def with_else(match: re.Match[str]) -> str:
        return labels.get(match.group(1)) or match.group(2)

    return _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), _WITH_ELSE.sub(with_else, template))
