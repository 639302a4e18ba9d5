"""``allowed_targets`` patterns: where a module's credentials may be sent by /probe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.exporters.allow import allowed, parse_pattern
from sloplane.exporters.config import HttpModule, RedisModule, parse_address


@pytest.mark.parametrize(
    ("pattern", "host", "port", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", 6379, True),
        ("127.0.0.1", "127.0.0.2", 6379, False),
        ("127.0.0.0/8", "127.9.9.9", 1, True),
        ("10.0.0.0/8", "127.0.0.1", 1, False),
        ("10.0.0.0/8", "ten.example", 1, False),  # names are not resolved for CIDRs
        ("127.0.0.1:6379", "127.0.0.1", 6379, True),
        ("127.0.0.1:6379", "127.0.0.1", 6380, False),
        ("127.0.0.0/8:5432", "127.0.0.3", 5432, True),
        ("*.db.internal", "pg1.db.internal", 5432, True),
        ("*.db.internal", "PG1.DB.internal", 5432, True),
        ("*.db.internal", "db.internal.evil.example", 5432, False),
        ("*.db.internal:5432", "pg1.db.internal", 5433, False),
        ("localhost", "localhost", 80, True),
        ("::1", "::1", 6379, True),
        ("::1", "127.0.0.1", 6379, False),
        ("[::1]:6379", "::1", 6379, True),
        ("[::1]:6379", "::1", 6380, False),
        ("fd00::/8", "fd12::1", 1, True),
    ],
)
def test_patterns(pattern: str, host: str, port: int, expected: bool) -> None:
    assert parse_pattern(pattern).matches(host, port) is expected


@pytest.mark.parametrize(
    "bad", ["", "h:port", "h:0", "h:70000", "[::1", "[::1]x", "a b", "10.0.0.0/33:1", "x/y"]
)
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(bad)


@given(
    a=st.integers(0, 255),
    b=st.integers(0, 255),
    port=st.integers(1, 65535),
    bits=st.integers(8, 32),
)
def test_cidr_matches_what_ipaddress_says(a: int, b: int, port: int, bits: int) -> None:
    import ipaddress

    host = f"10.{a}.{b}.7"
    network = ipaddress.ip_network(f"10.1.2.0/{bits}", strict=False)
    assert allowed([str(network)], host, port) is (ipaddress.ip_address(host) in network)


def test_which_modules_need_a_list() -> None:
    local = parse_address("redis", "127.0.0.1:6379")
    assert RedisModule(kind="redis").probe_refusal("redis", local) is None
    with_password = RedisModule(kind="redis", password="pw")
    refusal = with_password.probe_refusal("cache", local)
    assert refusal is not None and "modules.cache.allowed_targets" in refusal
    listed = RedisModule(kind="redis", password="pw", allowed_targets=["127.0.0.1:6379"])
    assert listed.probe_refusal("cache", local) is None
    other = parse_address("redis", "127.0.0.2:6379")
    assert "not in modules.cache.allowed_targets" in (listed.probe_refusal("cache", other) or "")
    # HTTP: basic auth, a token file or headers are credentials; the port is the URL's.
    url = parse_address("http", "https://127.0.0.1/health")
    assert HttpModule(kind="http").probe_refusal("http", url) is None
    assert HttpModule(kind="http", headers={"X-Key": "k"}).probe_refusal("h", url) is not None
    token = HttpModule(kind="http", bearer_token_file="/x", allowed_targets=["127.0.0.1:443"])
    assert token.probe_refusal("h", url) is None
    # A list set on a module without credentials restricts it too.
    assert HttpModule(kind="http", allowed_targets=[]).probe_refusal("h", url) is not None
