"""Properties of the collectors' pure parts, over generated server answers (no server needed)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.exporters import pgbouncer, postgres, rabbitmq, redis_collector
from sloplane.exporters.families import Families


def samples(out: Families, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(s.labels), s.value)
        for metric in out.metrics()
        for s in metric.samples
        if s.name == name
    ]


queue_names = st.text("abcdefgh-", min_size=1, max_size=6)
queues = st.lists(
    st.fixed_dictionaries(
        {
            "name": queue_names,
            "vhost": st.sampled_from(["/", "other"]),
            "messages_ready": st.integers(0, 10_000),
            "type": st.sampled_from(["classic", "quorum"]),
        }
    ),
    max_size=30,
    unique_by=lambda q: (q["vhost"], q["name"]),
)


@settings(max_examples=200, deadline=None)
@given(queues, st.integers(1, 40))
def test_queue_limit_keeps_the_fullest_and_counts_the_rest(
    found: list[dict[str, Any]], limit: int
) -> None:
    out = Families("rabbitmq")
    rabbitmq._emit_queues(out, found, limit)
    reported = samples(out, "rabbitmq_queue_messages_ready")
    (omitted,) = [v for _, v in samples(out, "rabbitmq_exporter_queues_omitted")]
    assert len(reported) == min(len(found), limit)
    assert omitted == len(found) - len(reported)
    kept = {(labels["vhost"], labels["queue"]) for labels, _ in reported}
    left = [q["messages_ready"] for q in found if (q["vhost"], q["name"]) not in kept]
    assert all(value >= max(left, default=0) for _, value in reported)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**40), st.lists(st.integers(0, 2**40), max_size=4))
def test_replica_offset_lag_is_never_negative(master: int, offsets: list[int]) -> None:
    info: dict[str, Any] = {"master_repl_offset": master}
    for i, offset in enumerate(offsets):
        info[f"slave{i}"] = {
            "ip": "10.0.0.1",
            "port": 6380 + i,
            "state": "online",
            "offset": offset,
        }
    out = Families("redis")
    redis_collector._emit_connected_replicas(out, info)
    lags = samples(out, "redis_connected_slave_offset_lag_bytes")
    assert len(lags) == len(offsets)
    for labels, lag in lags:
        offset = offsets[int(labels["slave_port"]) - 6380]
        assert lag == max(0, master - offset)


@given(st.integers(0, 10_000), st.integers(0, 999_999))
def test_pool_max_wait_joins_seconds_and_microseconds(seconds: int, micros: int) -> None:
    row = {"database": "app", "user": "app", "maxwait": seconds, "maxwait_us": micros}
    out = Families("pgbouncer")
    pgbouncer._emit(
        out, {"VERSION": [], "CONFIG": [], "POOLS": [row], "DATABASES": [], "STATS": []}
    )
    ((_, wait),) = samples(out, "pgbouncer_pools_client_maxwait_seconds")
    assert abs(wait - (seconds + micros / 1e6)) < 1e-6


@given(
    st.sampled_from(
        [
            ("shared_buffers", "8kB", 8192.0),
            ("work_mem", "kB", 1024.0),
            ("max_wal_size", "MB", 1024.0**2),
            ("checkpoint_timeout", "s", 1.0),
            ("max_connections", "", 1.0),
        ]
    ),
    st.integers(0, 10**6),
)
def test_settings_are_in_base_units(case: tuple[str, str, float], setting: int) -> None:
    name, unit, scale = case
    out = Families("postgres")
    postgres._emit_settings(out, [(name, float(setting), unit)])
    ((family, value),) = [(s.name, s.value) for metric in out.metrics() for s in metric.samples]
    suffix = "_bytes" if "B" in unit else "_seconds" if unit == "s" else ""
    assert family == f"pg_settings_{name}{suffix}"
    assert value == setting * scale
