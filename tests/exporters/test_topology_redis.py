"""Redis master + replica + Sentinel, built on loopback for these tests.

Link status, offset lag, persistence and CPU on the servers; failover state and quorum on
the Sentinel; then the replica and the master are stopped and the next scrapes say so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sloplane.exporters.config import RedisModule, parse_address
from sloplane.exporters.redis_collector import RedisBackend
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
from tests.support.topology_redis import RedisTopology, redis_topology, wait_link_up

pytestmark = pytest.mark.integration


def redis_target(address: str) -> Target:
    module = RedisModule(kind="redis", timeout_seconds=3)
    return Target(address, RedisBackend(module, parse_address("redis", address)), 3)


def scrape(target: Target) -> Samples:
    return parse(exposition(target.scrape()))


@pytest.fixture(scope="module")
def topology() -> Iterator[RedisTopology]:
    with redis_topology() as topo:
        yield topo


@pytest.fixture(scope="module")
def targets(topology: RedisTopology) -> Iterator[dict[str, Target]]:
    made = {
        "master": redis_target(topology.master.address),
        "replica": redis_target(topology.replica.address),
        "sentinel": redis_target(topology.sentinel.address),
    }
    yield made
    for target in made.values():
        target.close()


def test_master_sees_its_replica_and_the_replica_its_master(
    topology: RedisTopology, targets: dict[str, Target]
) -> None:
    topology.master.client().set("sloplane:k", "v" * 1000)
    wait_until(
        lambda: topology.replica.client().get("sloplane:k") is not None, 10, what="replicated"
    )
    master, replica = scrape(targets["master"]), scrape(targets["replica"])
    assert num(master, "redis_instance_info", role="master", redis_mode="standalone") == 1
    assert num(master, "redis_connected_slaves") == 1
    slave = {"slave_ip": "127.0.0.1", "slave_port": str(topology.replica.port)}
    assert num(master, "redis_connected_slave_offset_bytes", **slave) > 0
    assert num(master, "redis_connected_slave_offset_lag_bytes", **slave) >= 0
    assert num(master, "redis_connected_slave_lag_seconds", **slave) >= 0
    assert num(master, "redis_master_repl_offset") > 0
    assert value(master, "redis_master_link_up") is None  # a master has no link
    link = {"master_host": "127.0.0.1", "master_port": str(topology.master.port)}
    assert num(replica, "redis_instance_info", role="slave") == 1
    assert num(replica, "redis_master_link_up", **link) == 1
    assert num(replica, "redis_slave_repl_offset") > 0
    assert num(replica, "redis_master_sync_in_progress") == 0
    for samples in (master, replica):
        assert num(samples, "redis_cpu_user_seconds_total") >= 0
        assert num(samples, "redis_start_time_seconds") > 1.6e9
        assert num(samples, "redis_total_system_memory_bytes") > 0
    assert_promtool_clean(exposition(targets["master"].scrape()))
    assert_promtool_clean(exposition(targets["replica"].scrape()))


def test_persistence_status_follows_a_snapshot(
    topology: RedisTopology, targets: dict[str, Target]
) -> None:
    client = topology.master.client()
    client.set("sloplane:dirty", "1")
    assert num(scrape(targets["master"]), "redis_rdb_changes_since_last_save") >= 1
    client.bgsave()
    wait_until(
        lambda: value(scrape(targets["master"]), "redis_rdb_changes_since_last_save") == 0,
        20,
        what="the snapshot written",
    )
    samples = scrape(targets["master"])
    assert num(samples, "redis_rdb_last_bgsave_status") == 1
    assert num(samples, "redis_rdb_last_save_timestamp_seconds") > 1.6e9
    assert num(samples, "redis_aof_enabled") == 0
    assert num(samples, "redis_aof_last_write_status") == 1


def test_sentinel_reports_master_replicas_and_quorum(
    topology: RedisTopology, targets: dict[str, Target]
) -> None:
    master = {"master_name": topology.master_name, "master_address": topology.master.address}
    wait_until(
        lambda: (
            value(scrape(targets["sentinel"]), "redis_sentinel_master_ok_slaves", **master) == 1
        ),
        20,
        what="the Sentinel discovered the replica",
    )
    samples = scrape(targets["sentinel"])
    assert num(samples, "redis_up") == 1
    assert num(samples, "redis_instance_info", redis_mode="sentinel") == 1
    assert num(samples, "redis_sentinel_masters") == 1
    assert num(samples, "redis_sentinel_tilt") == 0
    assert num(samples, "redis_sentinel_master_status", **master, master_status="ok") == 1
    assert num(samples, "redis_sentinel_master_slaves", **master) == 1
    assert num(samples, "redis_sentinel_master_sentinels", **master) == 1
    assert num(samples, "redis_sentinel_master_ok_sentinels", **master) == 1
    assert num(samples, "redis_sentinel_master_quorum", **master) == 1
    assert (
        num(samples, "redis_sentinel_master_ckquorum_status", master_name=topology.master_name) == 1
    )
    assert value(samples, "redis_slowlog_length") is None  # a Sentinel has no slow log
    assert_promtool_clean(exposition(targets["sentinel"].scrape()))


def test_sentinel_without_quorum_says_so() -> None:
    with redis_topology(quorum=2) as topo:
        target = redis_target(topo.sentinel.address)
        samples = scrape(target)
        target.close()
    (labels,) = [dict(ls) for n, ls in samples if n == "redis_sentinel_master_ckquorum_status"]
    assert samples[("redis_sentinel_master_ckquorum_status", frozenset(labels.items()))] == 0
    assert labels["message"].startswith("NOQUORUM")


def test_stopped_replica_then_master_show_at_once(
    topology: RedisTopology, targets: dict[str, Target]
) -> None:
    """Runs last: stops the replica (and starts it again), then stops the master."""
    topology.replica.stop()
    assert num(scrape(targets["replica"]), "redis_up") == 0
    wait_until(
        lambda: value(scrape(targets["master"]), "redis_connected_slaves") == 0,
        10,
        what="the master sees its replica gone",
    )
    topology.replica.start()
    wait_link_up(topology.replica)
    link = {"master_host": "127.0.0.1", "master_port": str(topology.master.port)}
    assert num(scrape(targets["replica"]), "redis_master_link_up", **link) == 1
    topology.master.stop()
    assert num(scrape(targets["master"]), "redis_up") == 0
    wait_until(
        lambda: value(scrape(targets["replica"]), "redis_master_link_up", **link) == 0,
        10,
        what="the replica sees its link down",
    )
    assert num(scrape(targets["replica"]), "redis_master_link_down_since_seconds") >= 0
    master = {"master_name": topology.master_name, "master_address": topology.master.address}
    wait_until(
        lambda: (
            value(
                scrape(targets["sentinel"]),
                "redis_sentinel_master_status",
                **master,
                master_status="odown",
            )
            == 1
        ),
        20,
        what="the Sentinel marks the master down",
    )
