"""The exporter's RESP2 client (:mod:`sloplane.exporters.resp`) on arbitrary replies."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from sloplane.exporters.resp import (
    RedisAuthError,
    RedisConnection,
    ResponseError,
    parse_info,
    parse_sentinel_table,
)

_leaf = st.one_of(
    st.binary(max_size=40),
    st.integers(-(2**63), 2**63 - 1),
    st.none(),
    st.from_regex(r"\AERR [a-z ]{0,20}\Z").map(ResponseError),
)
_replies = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


def _wire(reply) -> bytes:
    if reply is None:
        return b"$-1\r\n"
    if isinstance(reply, ResponseError):
        return b"-" + str(reply).encode() + b"\r\n"
    if isinstance(reply, int):
        return b":%d\r\n" % reply
    if isinstance(reply, bytes):
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    return b"*%d\r\n" % len(reply) + b"".join(_wire(r) for r in reply)


def _same(a, b) -> bool:
    if isinstance(a, ResponseError):
        return isinstance(b, ResponseError) and str(a) == str(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _reading(data: bytes) -> RedisConnection:
    conn = RedisConnection("127.0.0.1", 1, timeout=1)
    conn._file = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    return conn


@given(st.lists(_replies, min_size=1, max_size=5))
def test_replies_round_trip(replies: list) -> None:
    conn = _reading(b"".join(map(_wire, replies)))
    assert all(_same(conn._read(), reply) for reply in replies)


def test_auth_errors_are_told_apart() -> None:
    conn = _reading(b"-WRONGPASS invalid username-password pair\r\n-ERR unknown\r\n")
    assert isinstance(conn._read(), RedisAuthError)
    reply = conn._read()
    assert isinstance(reply, ResponseError) and not isinstance(reply, RedisAuthError)


@given(st.binary(max_size=300))
def test_info_parsing_never_fails(text: bytes) -> None:
    assert isinstance(parse_info(text), dict)


def test_info_is_parsed_like_redis_py() -> None:
    info = parse_info(
        b"# Server\r\nredis_version:7.0.15\r\nrole:master\r\nconnected_clients:3\r\n"
        b"mem_fragmentation_ratio:1.05\r\ncmdstat_get:calls=2,usec=10,usec_per_call=5.00\r\n"
        b"db0:keys=4,expires=1,avg_ttl=0\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0\r\n"
    )
    assert info["redis_version"] == "7.0.15" and info["connected_clients"] == 3
    assert info["mem_fragmentation_ratio"] == 1.05
    assert info["cmdstat_get"] == {"calls": 2, "usec": 10, "usec_per_call": 5.0}
    assert info["db0"]["keys"] == 4
    assert info["slave0"] == {
        "ip": "127.0.0.1",
        "port": 6380,
        "state": "online",
        "offset": 42,
        "lag": 0,
    }


def test_sentinel_rows_get_redis_py_flags() -> None:
    (row,) = parse_sentinel_table(
        [
            [
                b"name",
                b"mymaster",
                b"ip",
                b"127.0.0.1",
                b"port",
                b"6379",
                b"flags",
                b"master,s_down",
                b"quorum",
                b"2",
            ]
        ]
    )
    assert row["name"] == "mymaster" and row["port"] == 6379 and row["quorum"] == 2
    assert row["is_master"] and row["is_sdown"] and not row["is_odown"]
