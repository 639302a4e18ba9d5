"""Redis collector against the machine's Redis and a private, password-protected one."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from sloplane.exporters.config import RedisModule, parse_address
from sloplane.exporters.redis_collector import CLIENT_NAME, RedisBackend
from sloplane.exporters.target import Target
from tests.exporters.conftest import (
    PrivateRedis,
    assert_promtool_clean,
    closed_port,
    exposition,
    num,
    parse,
    value,
)

pytestmark = pytest.mark.integration  # real servers

TEST_DB = 9


def make_target(address: str, timeout: float = 5.0, **module: object) -> Target:
    backend = RedisBackend(
        RedisModule(kind="redis", timeout_seconds=timeout, **module),
        parse_address("redis", address),
    )
    return Target(address, backend, timeout)


def scrape(target: Target) -> dict:
    return parse(exposition(target.scrape()))


def exporter_clients(client: redis.Redis) -> int:
    return sum(1 for c in client.client_list() if c.get("name") == CLIENT_NAME)


@pytest.fixture
def target(redis_server: str) -> Iterator[Target]:
    t = make_target(redis_server)
    yield t
    t.close()


@pytest.fixture
def client(redis_server: str) -> Iterator[redis.Redis]:
    c = redis.Redis(host="127.0.0.1", port=6379, db=TEST_DB)
    c.flushdb()
    yield c
    c.flushdb()
    c.close()


def test_created_keys_hits_and_commands_show_up(target: Target, client: redis.Redis) -> None:
    before = scrape(target)
    for i in range(25):
        client.set(f"k{i}", "v")
    client.set("ttl", "v", ex=600)
    client.get("k1")
    client.get("missing")
    after = scrape(target)
    db = f"db{TEST_DB}"
    assert value(after, "redis_up") == 1
    assert value(after, "redis_db_keys", db=db) == 26
    assert value(after, "redis_db_keys_expiring", db=db) == 1
    assert (
        num(after, "redis_commands_total", cmd="set")
        - (value(before, "redis_commands_total", cmd="set") or 0)
        >= 26
    )
    assert num(after, "redis_keyspace_hits_total") > num(before, "redis_keyspace_hits_total")
    assert num(after, "redis_keyspace_misses_total") > num(before, "redis_keyspace_misses_total")
    assert (value(after, "redis_memory_used_bytes") or 0) > 0
    assert (value(after, "redis_memory_used_rss_bytes") or 0) > 0
    assert value(after, "redis_instance_info", role="master") == 1
    assert value(after, "redis_command_latency_seconds", cmd="set", percentile="99") is not None


def test_exposition_is_promtool_clean(target: Target) -> None:
    assert_promtool_clean(exposition(target.scrape()))


def test_connection_is_reused_over_1000_scrapes(target: Target, client: redis.Redis) -> None:
    target.scrape()
    before = exporter_clients(client)
    assert before >= 1
    for _ in range(1000):
        target.scrape()
    assert exporter_clients(client) == before


def test_unreachable_server_is_down_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    target = make_target(f"127.0.0.1:{closed_port()}", timeout=2)
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = scrape(target)
    assert value(samples, "redis_up") == 0
    assert value(samples, "redis_scrape_errors_total", reason="connection") == 1
    assert any("is down: connection" in r.getMessage() for r in caplog.records)


def test_private_server_maxmemory_slowlog_and_password(private_redis: PrivateRedis) -> None:
    target = make_target(private_redis.address, password=private_redis.password)
    private_redis.client().set("a", "b")
    samples = scrape(target)
    assert value(samples, "redis_up") == 1
    assert value(samples, "redis_memory_max_bytes") == 64 * 1024 * 1024
    assert (value(samples, "redis_slowlog_length") or 0) >= 1  # every command is "slow" here
    target.close()


@pytest.mark.parametrize("password", [None, "wrong"])
def test_missing_or_wrong_password_is_an_auth_error(
    private_redis: PrivateRedis, password: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_target(private_redis.address, password=password)
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = scrape(target)
    assert value(samples, "redis_up") == 0
    assert value(samples, "redis_scrape_errors_total", reason="auth") == 1
    assert any("is down: auth" in r.getMessage() for r in caplog.records)


def test_stopped_server_is_down_then_reconnects(private_redis: PrivateRedis) -> None:
    target = make_target(private_redis.address, password=private_redis.password, timeout=2)
    assert value(scrape(target), "redis_up") == 1
    private_redis.stop()
    try:
        assert value(scrape(target), "redis_up") == 0
    finally:
        private_redis.start()
    assert value(scrape(target), "redis_up") == 1
    assert exporter_clients(private_redis.client()) == 1
    target.close()
