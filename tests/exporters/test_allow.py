"""``allowed_targets`` patterns: where a module's credentials may be sent by /probe."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.exporters.allow import (
    allowed,
    parse_pattern,
    resolve,
    special_kind,
    special_refusal,
)
from sloplane.exporters.config import Address, HttpModule, RedisModule, parse_address


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
    local = parse_address("redis", "10.0.0.1:6379")
    assert RedisModule(kind="redis").probe_refusal("redis", local) is None
    with_password = RedisModule(kind="redis", password="pw")
    refusal = with_password.probe_refusal("cache", local)
    assert refusal is not None and "modules.cache.allowed_targets" in refusal
    listed = RedisModule(kind="redis", password="pw", allowed_targets=["10.0.0.1:6379"])
    assert listed.probe_refusal("cache", local) is None
    other = parse_address("redis", "10.0.0.2:6379")
    assert "not in modules.cache.allowed_targets" in (listed.probe_refusal("cache", other) or "")
    # HTTP: basic auth, a token file or headers are credentials; the port is the URL's.
    url = parse_address("http", "https://10.0.0.1/health")
    assert HttpModule(kind="http").probe_refusal("http", url) is None
    assert HttpModule(kind="http", headers={"X-Key": "k"}).probe_refusal("h", url) is not None
    token = HttpModule(kind="http", bearer_token_file="/x", allowed_targets=["10.0.0.1:443"])
    assert token.probe_refusal("h", url) is None
    # A list set on a module without credentials restricts it too.
    assert HttpModule(kind="http", allowed_targets=[]).probe_refusal("h", url) is not None


_special_ips = st.one_of(
    st.ip_addresses(network="127.0.0.0/8"),
    st.ip_addresses(network="169.254.0.0/16"),
    st.ip_addresses(network="fe80::/10"),
    st.just(ipaddress.ip_address("::1")),
    st.just(ipaddress.ip_address("0.0.0.0")),
    st.ip_addresses(network="127.0.0.0/8").map(lambda ip: ipaddress.ip_address(f"::ffff:{ip}")),
)
_wide = st.lists(
    st.sampled_from(["0.0.0.0/0", "::/0", "*", "*.*", "?*", "127.*", "fe80*"]), max_size=4
)


@given(ip=_special_ips, patterns=_wide, port=st.integers(1, 65535))
def test_loopback_and_link_local_are_refused_under_any_wide_pattern(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, patterns: list[str], port: int
) -> None:
    host = str(ip)
    refusal = special_refusal(patterns or None, host, port, [ip])
    assert refusal is not None and "refuses loopback and link-local" in refusal
    # Every module kind, credentialed or not, with or without a list.
    for module in (RedisModule(kind="redis"), HttpModule(kind="http", allowed_targets=patterns)):
        assert module.probe_refusal("m", Address(host, port)) is not None


@given(ip=_special_ips, port=st.integers(1, 65535))
def test_naming_a_special_address_exactly_allows_it(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    host = str(ip)
    exact = f"[{host}]:{port}" if ip.version == 6 else f"{host}:{port}"
    assert special_refusal([exact], host, port, [ip]) is None
    assert (
        RedisModule(kind="redis", allowed_targets=[exact]).probe_refusal("m", Address(host, port))
        is None
    )


@given(ip=st.ip_addresses(network="203.0.113.0/24") | st.ip_addresses(network="2001:db8::/32"))
def test_ordinary_addresses_are_not_special(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert special_kind(ip) is None
    assert special_refusal(None, str(ip), 80, [ip]) is None


def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    refusal = special_refusal(["*.example"], "evil.example", 80, [loopback])
    assert refusal is not None and "resolves to 127.0.0.1" in refusal
    assert special_refusal(["localhost"], "localhost", 80, [loopback]) is None
    assert resolve("127.0.0.1", 80, 1) == [loopback]
