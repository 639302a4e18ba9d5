"""RFC 3339 twins of Unix seconds: what the API and the reports print beside every time."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from sloplane.times import rfc3339


@given(t=st.floats(min_value=0, max_value=4e9))
def test_rfc3339_reads_back_as_the_same_time(t: float) -> None:
    text = rfc3339(t)
    assert text is not None and text.endswith("Z")
    back = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    assert abs(back - t) < 1e-3


def test_rfc3339_examples() -> None:
    assert rfc3339(1794315000.0) == "2026-11-10T12:50:00Z"
    assert rfc3339(0.25) == "1970-01-01T00:00:00.250Z"
    assert rfc3339(None) is None
