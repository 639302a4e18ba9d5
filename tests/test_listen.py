"""One listen-address parser for the API, the exporter and the detector service."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.listen import format_listen, parse_listen


def test_bare_port_is_loopback() -> None:
    assert parse_listen(":9310") == ("127.0.0.1", 9310)
    assert parse_listen("0.0.0.0:9310") == ("0.0.0.0", 9310)
    assert parse_listen("[::1]:9310") == ("::1", 9310)


@pytest.mark.parametrize("bad", ["9310", "host:", "host:0", "host:70000", "::1:9310", "[]:1"])
def test_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(bad)


@given(
    st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "::", "localhost"]),
    st.integers(min_value=1, max_value=65535),
)
def test_round_trip(host: str, port: int) -> None:
    assert parse_listen(format_listen(host, port)) == (host, port)
