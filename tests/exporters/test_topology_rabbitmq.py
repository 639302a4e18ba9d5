"""A two-node RabbitMQ cluster, built on loopback for these tests.

Nodes running, partitions, alarms, per-queue leader and members (a quorum queue on both
nodes), the queue limit and its count of what was cut, and the built-in plugin's series
under the same names; then a node is killed and the next scrape says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pika
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sloplane.exporters.config import RabbitMQModule, parse_address
from sloplane.exporters.rabbitmq import RabbitMQBackend
from sloplane.exporters.target import Target
from tests.exporters.conftest import (
    Samples,
    assert_promtool_clean,
    exposition,
    num,
    parse,
    value,
    wait_until,
)
from tests.support.topology_rabbitmq import RabbitCluster, rabbitmq_cluster

pytestmark = pytest.mark.integration

QUORUM, CLASSIC = "sloplane-quorum", "sloplane-classic"


def broker_target(cluster: RabbitCluster, **module: object) -> Target:
    node = cluster.nodes[0]
    config = RabbitMQModule(
        kind="rabbitmq", management="on", management_port=node.management, **module
    )
    return Target("broker", RabbitMQBackend(config, parse_address("rabbitmq", node.address)), 5)


def scrape(target: Target) -> Samples:
    return parse(exposition(target.scrape()))


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    try:
        with rabbitmq_cluster(2) as made:
            conn = pika.BlockingConnection(
                pika.ConnectionParameters(host="127.0.0.1", port=made.nodes[0].amqp)
            )
            channel = conn.channel()
            channel.confirm_delivery()
            channel.queue_declare(QUORUM, durable=True, arguments={"x-queue-type": "quorum"})
            channel.queue_declare(CLASSIC)
            stamp = pika.BasicProperties(timestamp=int(time.time()) - 60, delivery_mode=2)
            for _ in range(5):
                channel.basic_publish("", QUORUM, b"m", stamp)
            channel.basic_publish("", CLASSIC, b"m", stamp)
            conn.close()
            yield made
    except RuntimeError as exc:
        pytest.skip(f"cannot build a RabbitMQ cluster here: {exc}")


@pytest.fixture(scope="module")
def target(cluster: RabbitCluster) -> Iterator[Target]:
    made = broker_target(cluster)
    yield made
    made.close()


def test_cluster_view_nodes_alarms_and_queue_placement(
    cluster: RabbitCluster, target: Target
) -> None:
    quorum = {"vhost": "/", "queue": QUORUM}
    # Queue statistics reach the management API at the statistics interval (1s here).
    wait_until(
        lambda: value(scrape(target), "rabbitmq_queue_messages_ready", **quorum) == 5,
        30,
        what="the quorum queue's messages in the API",
    )
    samples = scrape(target)
    names = [node.name for node in cluster.nodes]
    assert num(samples, "rabbitmq_cluster_nodes") == 2
    assert num(samples, "rabbitmq_cluster_nodes_running") == 2
    for name in names:
        assert num(samples, "rabbitmq_node_running", rabbitmq_node=name) == 1
        assert num(samples, "rabbitmq_identity_info", rabbitmq_node=name) == 1
        assert num(samples, "rabbitmq_node_partitions", rabbitmq_node=name) == 0
    first = {"rabbitmq_node": names[0]}
    assert num(samples, "rabbitmq_alarms_memory_used_watermark", **first) == 0
    assert num(samples, "rabbitmq_alarms_free_disk_space_watermark", **first) == 0
    assert num(samples, "rabbitmq_process_max_fds", **first) > 0
    assert num(samples, "rabbitmq_queue_members", **quorum) == 2
    assert num(samples, "rabbitmq_queue_members_online", **quorum) == 2
    assert num(samples, "rabbitmq_queue_leader", **quorum, type="quorum") == 1
    classic = {"vhost": "/", "queue": CLASSIC}
    assert num(samples, "rabbitmq_queue_members", **classic) == 1
    assert num(samples, "rabbitmq_queue_leader", **classic, rabbitmq_node=names[0]) == 1
    head = num(samples, "rabbitmq_queue_head_message_timestamp", **classic)
    assert time.time() - 600 < head < time.time()  # the publisher's timestamp, a minute ago
    assert num(samples, "rabbitmq_exporter_queues_omitted") == 0
    assert_promtool_clean(exposition(target.scrape()))


def test_queue_limit_counts_what_it_cut(cluster: RabbitCluster) -> None:
    limited = broker_target(cluster, queue_limit=1)
    quorum = {"vhost": "/", "queue": QUORUM}
    wait_until(
        lambda: value(scrape(limited), "rabbitmq_queue_messages_ready", **quorum) == 5,
        30,
        what="the fullest queue kept",
    )
    samples = scrape(limited)
    assert num(samples, "rabbitmq_exporter_queues_omitted") == 1
    assert value(samples, "rabbitmq_queue_messages_ready", vhost="/", queue=CLASSIC) is None
    limited.close()


def test_the_plugin_uses_the_same_names_for_the_same_things(cluster: RabbitCluster) -> None:
    node = cluster.nodes[0]
    plugin = {
        (sample.name, frozenset(sample.labels.items()))
        for path in ("/metrics", "/metrics/per-object")
        for family in text_string_to_metric_families(
            httpx.get(node.plugin_url.replace("/metrics", path), timeout=10).text
        )
        for sample in family.samples
    }
    plugin_names = {name for name, _ in plugin}
    for name in (
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_consumers",
        "rabbitmq_identity_info",
        "rabbitmq_alarms_memory_used_watermark",
        "rabbitmq_process_resident_memory_bytes",
    ):
        assert name in plugin_names
    labels = {dict(ls).get("queue") for n, ls in plugin if n == "rabbitmq_queue_messages_ready"}
    assert CLASSIC in labels  # per-queue series carry vhost and queue, as ours do


def test_beside_the_plugin_only_what_it_lacks(cluster: RabbitCluster) -> None:
    """beside_plugin: true reports the cluster view and placement, nothing the plugin has."""
    node = cluster.nodes[0]
    plugin = {
        sample.name
        for path in ("/metrics", "/metrics/per-object")
        for family in text_string_to_metric_families(
            httpx.get(node.plugin_url.replace("/metrics", path), timeout=10).text
        )
        for sample in family.samples
    }
    beside = broker_target(cluster, beside_plugin=True)
    samples = scrape(beside)
    beside.close()
    ours = {name for name, _ in samples}
    assert ours & plugin == set()
    assert num(samples, "rabbitmq_cluster_nodes_running") == 2
    assert num(samples, "rabbitmq_queue_members", vhost="/", queue=QUORUM) == 2
    assert value(samples, "rabbitmq_queue_messages_ready", vhost="/", queue=QUORUM) is None
    assert num(samples, "rabbitmq_up") == 1


def test_killed_node_shows_at_once(cluster: RabbitCluster, target: Target) -> None:
    """Runs last: kills the second node."""
    down = cluster.nodes[1]
    down.kill()
    wait_until(
        lambda: value(scrape(target), "rabbitmq_node_running", rabbitmq_node=down.name) == 0,
        30,
        what="the cluster sees the node down",
    )
    samples = scrape(target)
    assert num(samples, "rabbitmq_up") == 1
    assert num(samples, "rabbitmq_cluster_nodes_running") == 1
    assert num(samples, "rabbitmq_identity_info", rabbitmq_node=down.name) == 1
    assert value(samples, "rabbitmq_process_open_fds", rabbitmq_node=down.name) is None
    wait_until(
        lambda: (
            value(scrape(target), "rabbitmq_queue_members_online", vhost="/", queue=QUORUM) == 1
        ),
        30,
        what="the quorum queue's replica offline",
    )
