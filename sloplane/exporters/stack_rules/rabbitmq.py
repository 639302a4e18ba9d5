"""Stack rules for RabbitMQ: down, backlogs, consumers, and the cluster (alarms, a node
down, a network partition).

They read the names of RabbitMQ's built-in ``rabbitmq_prometheus`` plugin, so the same
rules run on the plugin's series (scraped from each node, ``/metrics/per-object`` for
per-queue series) and on sloplane's exporter. Where the two differ the expression asks
both: a node down is ``rabbitmq_node_running == 0`` on ours, and on the plugin a
cluster reporting fewer ``rabbitmq_identity_info`` nodes than in the last hour. Only
ours sees partitions (the plugin has no such series).
"""

from __future__ import annotations

from sloplane.exporters.stack_rules import WHO, Stack, down_alert, page, recording_rule, ticket
from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest, fires_and_not

_Q = '{instance="mq:9419",job="sloplane-exporter",vhost="/",queue="orders"}'
_N = '{instance="mq:9419",job="sloplane-exporter",rabbitmq_node="rabbit@mq-2"}'
# The plugin, scraped on each node: instance is the node, no rabbitmq_node label.
_P1 = '{instance="mq-1:15692",job="rabbitmq"}'


def _identity(node: str) -> str:
    return (
        f'rabbitmq_identity_info{{instance="mq-{node}:15692",job="rabbitmq",'
        f'rabbitmq_node="rabbit@mq-{node}",rabbitmq_cluster="prod"}}'
    )


STACK = Stack(
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
        down_alert(
            "RabbitMQDown",
            "rabbitmq_up",
            "RabbitMQ",
            "the broker is down, unreachable, or refuses the exporter's credentials.",
        ),
        ticket(
            "RabbitMQQueueBacklogGrowing",
            "rabbitmq_queue_messages_ready > 100 and deriv(rabbitmq_queue_messages_ready[10m]) > 0",
            "10m",
            f"Queue {{{{ $labels.queue }}}} on {WHO} keeps growing",
            "Over 100 ready messages and still growing for 10 minutes: consumers do not keep up.",
        ),
        ticket(
            "RabbitMQQueueWithoutConsumers",
            "rabbitmq_queue_consumers == 0 and rabbitmq_queue_messages_ready > 0",
            "10m",
            f"Queue {{{{ $labels.queue }}}} on {WHO} has messages and no consumer",
            "Messages are waiting in a queue nobody consumes.",
        ),
        page(
            "RabbitMQResourceAlarm",
            "rabbitmq_alarms_memory_used_watermark == 1"
            " or rabbitmq_alarms_free_disk_space_watermark == 1\n"
            "or rabbitmq_alarms_file_descriptor_limit == 1 or rabbitmq_connection_blocked == 1",
            "1m",
            f"RabbitMQ {WHO} raised a resource alarm",
            "A memory, disk or file descriptor alarm is in effect: publishers are blocked until"
            " it clears.",
        ),
        page(
            "RabbitMQNodeDown",
            "rabbitmq_node_running == 0\n"
            "or count by (job, rabbitmq_cluster) (rabbitmq_identity_info)\n"
            "< count by (job, rabbitmq_cluster) (max_over_time(rabbitmq_identity_info[1h]))",
            "1m",
            "A RabbitMQ node is down ({{ with $labels.rabbitmq_node }}{{ . }}"
            "{{ else }}cluster {{ $labels.rabbitmq_cluster }}{{ end }})",
            "A cluster node stopped running: its queue replicas are offline and classic"
            " queues homed on it are unavailable.",
        ),
        page(
            "RabbitMQNetworkPartition",
            "rabbitmq_node_partitions > 0",
            "1m",
            "RabbitMQ node {{ $labels.rabbitmq_node }} is partitioned from its cluster",
            "The node cannot reach running cluster members: the cluster is split, and each"
            " side may accept writes the other never sees. See the partition handling mode.",
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
        *fires_and_not(
            "RabbitMQQueueBacklogGrowing",
            "40m",
            {f"rabbitmq_queue_messages_ready{_Q}": "100+20x40"},
            {f"rabbitmq_queue_messages_ready{_Q}": "500x40"},
            {"vhost": "/", "queue": "orders"},
        ),
        *fires_and_not(
            "RabbitMQQueueWithoutConsumers",
            "20m",
            {f"rabbitmq_queue_consumers{_Q}": "0x20", f"rabbitmq_queue_messages_ready{_Q}": "3x20"},
            {f"rabbitmq_queue_consumers{_Q}": "0x20", f"rabbitmq_queue_messages_ready{_Q}": "0x20"},
            {"vhost": "/", "queue": "orders"},
        ),
        AlertTest(
            {f"rabbitmq_alarms_memory_used_watermark{_N}": "1x10"},
            "5m",
            "RabbitMQResourceAlarm",
            [{}],
        ),
        AlertTest(
            {f"rabbitmq_alarms_free_disk_space_watermark{_P1}": "1x10"},
            "5m",
            "RabbitMQResourceAlarm",
            [{}],
        ),
        AlertTest(
            {f"rabbitmq_alarms_memory_used_watermark{_N}": "0x10"}, "5m", "RabbitMQResourceAlarm"
        ),
        *fires_and_not(
            "RabbitMQNodeDown",
            "5m",
            {f"rabbitmq_node_running{_N}": "1 0x10"},
            {f"rabbitmq_node_running{_N}": "1x10"},
        ),
        # The plugin: node 2 stops answering, its identity series ends.
        AlertTest(
            {_identity("1"): "1x12", _identity("2"): "1x1"},
            "10m",
            "RabbitMQNodeDown",
            [{"job": "rabbitmq", "rabbitmq_cluster": "prod"}],
        ),
        AlertTest({_identity("1"): "1x10", _identity("2"): "1x10"}, "8m", "RabbitMQNodeDown"),
        *fires_and_not(
            "RabbitMQNetworkPartition",
            "5m",
            {f"rabbitmq_node_partitions{_N}": "1x10"},
            {f"rabbitmq_node_partitions{_N}": "0x10"},
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
