"""The rule-group slot that tests/support/live_rules.py predicts is the one Prometheus uses.

If a Prometheus release hashed groups differently, the tests that aim a group's first
evaluation would still pass, only slower; this test says so instead of leaving it silent.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.live_rules import group_offset, next_slot, rules_file_due
from tests.support.processes import prometheus_config, run_prometheus

INTERVALS = (3, 5, 7)  # seconds: a few evaluations of each within the test's wait
RULES = "groups:\n" + "".join(
    f"- name: g{s}\n  interval: {s}s\n  rules:\n  - record: x{s}\n    expr: vector({s})\n"
    for s in INTERVALS
)


@given(
    path=st.text(min_size=1, max_size=40).map(lambda t: Path("/r") / t.replace("/", "_")),
    interval=st.integers(min_value=1, max_value=7200),
    after=st.floats(min_value=1e9, max_value=3e9),
)
def test_the_next_slot_is_after_and_within_one_interval(
    path: Path, interval: int, after: float
) -> None:
    slot = next_slot(path, "g", interval, after)
    assert after < slot <= after + interval + 1e-6
    # the slot is a multiple of the interval (unix time) plus the group's offset
    assert _distance(slot - group_offset(path, "g", interval), interval) < 1e-3


def test_an_aimed_file_is_due_within_the_window(tmp_path: Path) -> None:
    now = time.time()
    path = rules_file_due(tmp_path, RULES, "g7", start_up=2, window=1)
    assert path.read_text() == RULES
    assert next_slot(path, "g7", 7, now + 2) <= time.time() + 2 + 1


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_prometheus_evaluates_each_group_at_the_predicted_offset(tmp_path: Path) -> None:
    rules = tmp_path / "some.rules.yml"
    rules.write_text(RULES)
    with run_prometheus(prometheus_config(rule_files=[rules])) as prom:
        deadline = time.monotonic() + 30
        groups: list[dict] = []
        while time.monotonic() < deadline:
            groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
            if all(not g["lastEvaluation"].startswith("0001") for g in groups):
                break
            time.sleep(0.5)
    assert len(groups) == len(INTERVALS)
    for group in groups:
        at = group["lastEvaluation"]
        interval = group["interval"]
        expected = group_offset(Path(group["file"]), group["name"], interval)
        # within 0.5s of the predicted offset (Prometheus starts the evaluation on time)
        assert _distance(_unix(at) - expected, interval) < 0.5, (group["name"], at, expected)


def _distance(t: float, interval: float) -> float:
    """How far ``t`` is from the nearest multiple of ``interval``."""
    rest = t % interval
    return min(rest, interval - rest)


def _unix(rfc3339: str) -> float:
    """Unix time of Prometheus' RFC 3339 UTC time (Go trims the nanoseconds' trailing zeros)."""
    found = re.fullmatch(r"([^.Z]+)(\.\d+)?Z", rfc3339)
    assert found, rfc3339
    whole = datetime.fromisoformat(found[1]).replace(tzinfo=UTC).timestamp()
    return whole + float(found[2] or 0)
