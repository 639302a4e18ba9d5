"""RabbitMQ collector against the machine's broker: management API mode and AMQP fallback."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import httpx
import pika
import pytest

from sloplane.exporters.config import RabbitMQModule, parse_address
from sloplane.exporters.rabbitmq import RabbitMQBackend
from sloplane.exporters.target import Target
from tests.exporters.conftest import assert_promtool_clean, closed_port, exposition, parse, value

pytestmark = pytest.mark.integration  # real servers


def make_target(address: str, timeout: float = 5.0, **module: object) -> Target:
    backend = RabbitMQBackend(
        RabbitMQModule(kind="rabbitmq", timeout_seconds=timeout, **module),
        parse_address("rabbitmq", address),
    )
    return Target(address, backend, timeout)


def scrape(target: Target) -> dict:
    return parse(exposition(target.scrape()))


def amqp_connections() -> int:
    """Connections named by the exporter, from the management API."""
    conns = httpx.get(
        "http://127.0.0.1:15672/api/connections", auth=("guest", "guest"), timeout=10
    ).json()
    return sum(
        1
        for c in conns
        if (c.get("client_properties") or {}).get("connection_name") == "sloplane-exporter"
    )


@pytest.fixture
def queue(
    rabbitmq_server: str,
) -> Iterator[tuple[str, pika.adapters.blocking_connection.BlockingChannel]]:
    """A fresh queue holding 5 messages, one of them delivered and not acknowledged."""
    name = f"sloplane-test-{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = conn.channel()
    channel.queue_declare(name, auto_delete=False)
    for i in range(6):
        channel.basic_publish("", name, f"m{i}".encode())
    method, _, _ = channel.basic_get(name, auto_ack=False)  # leaves one unacked
    assert method is not None
    try:
        yield name, channel
    finally:
        channel.queue_delete(name)
        conn.close()


@pytest.mark.integration
def test_management_mode_reports_queued_and_unacked_messages(
    rabbitmq_management: str, queue: tuple[str, object]
) -> None:
    name, _ = queue
    target = make_target(rabbitmq_management, management="on")
    # The management API refreshes queue statistics every few seconds.
    deadline = time.monotonic() + 20
    while True:
        samples = scrape(target)
        ready = value(samples, "rabbitmq_queue_messages_ready", vhost="/", queue=name)
        unacked = value(samples, "rabbitmq_queue_messages_unacked", vhost="/", queue=name)
        if (ready, unacked) == (5, 1) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert value(samples, "rabbitmq_up") == 1
    assert value(samples, "rabbitmq_scrape_source_info", source="management") == 1
    assert (ready, unacked) == (5, 1)
    assert value(samples, "rabbitmq_queue_consumers", vhost="/", queue=name) == 0
    assert (
        value(samples, "rabbitmq_queue_messages_published_total", vhost="/", queue=name) is not None
    )
    assert (value(samples, "rabbitmq_process_resident_memory_bytes") or 0) > 0
    assert value(samples, "rabbitmq_alarms_memory_used_watermark") == 0
    assert value(samples, "rabbitmq_alarms_free_disk_space_watermark") == 0
    assert_promtool_clean(exposition(target.scrape()))
    target.close()


@pytest.mark.integration
def test_amqp_mode_uses_passive_declares_for_configured_queues(
    rabbitmq_server: str, queue: tuple[str, object]
) -> None:
    name, _ = queue
    target = make_target(rabbitmq_server, management="off", queues=[name, "sloplane-no-such-queue"])
    samples = scrape(target)
    assert value(samples, "rabbitmq_up") == 1
    assert value(samples, "rabbitmq_scrape_source_info", source="amqp") == 1
    assert value(samples, "rabbitmq_queue_messages_ready", vhost="/", queue=name) == 5
    assert value(samples, "rabbitmq_queue_consumers", vhost="/", queue=name) == 0
    assert value(samples, "rabbitmq_queue_exists", vhost="/", queue=name) == 1
    assert value(samples, "rabbitmq_queue_exists", vhost="/", queue="sloplane-no-such-queue") == 0
    assert value(samples, "rabbitmq_connection_blocked") == 0
    # Not available without the management API:
    assert value(samples, "rabbitmq_queue_messages_unacked", vhost="/", queue=name) is None
    assert value(samples, "rabbitmq_process_resident_memory_bytes") is None
    assert_promtool_clean(exposition(target.scrape()))
    target.close()


@pytest.mark.integration
def test_auto_mode_falls_back_to_amqp_when_the_api_does_not_answer(
    rabbitmq_server: str, queue: tuple[str, object]
) -> None:
    name, _ = queue
    target = make_target(
        rabbitmq_server, management="auto", management_port=closed_port(), queues=[name]
    )
    samples = scrape(target)
    assert value(samples, "rabbitmq_up") == 1
    assert value(samples, "rabbitmq_scrape_source_info", source="amqp") == 1
    assert value(samples, "rabbitmq_queue_messages_ready", vhost="/", queue=name) == 5
    target.close()


@pytest.mark.integration
def test_amqp_connection_is_reused_over_1000_scrapes(
    rabbitmq_management: str, queue: tuple[str, object]
) -> None:
    name, _ = queue
    target = make_target(rabbitmq_management, management="off", queues=[name])
    target.scrape()
    for _ in range(1000):
        target.scrape()
    # The management API lists connections with a delay; poll until it settles.
    deadline = time.monotonic() + 15
    while amqp_connections() != 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert amqp_connections() == 1
    target.close()


@pytest.mark.integration
@pytest.mark.parametrize("management", ["on", "off"])
def test_wrong_password_is_an_auth_error(
    rabbitmq_management: str, management: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_target(rabbitmq_management, management=management, password="wrong", queues=["x"])
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = scrape(target)
    assert value(samples, "rabbitmq_up") == 0
    assert value(samples, "rabbitmq_scrape_errors_total", reason="auth") == 1
    assert any("is down: auth" in r.getMessage() for r in caplog.records)
    target.close()


def test_unreachable_broker_is_down() -> None:
    target = make_target(
        f"127.0.0.1:{closed_port()}", timeout=2, management_port=closed_port(), queues=["x"]
    )
    samples = scrape(target)
    assert value(samples, "rabbitmq_up") == 0
    assert value(samples, "rabbitmq_scrape_errors_total", reason="connection") == 1
    target.close()


@pytest.mark.integration
@pytest.mark.parametrize("management", ["on", "auto"])
def test_management_mode_is_down_when_the_named_amqp_port_is(
    rabbitmq_management: str, management: str
) -> None:
    """The management API on the host answers, but the target's port does not: down."""
    target = make_target(f"127.0.0.1:{closed_port()}", timeout=2, management=management)
    samples = scrape(target)
    assert value(samples, "rabbitmq_up") == 0
    assert value(samples, "rabbitmq_scrape_errors_total", reason="connection") == 1
    target.close()
