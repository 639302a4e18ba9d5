"""detect.yaml watch rules (issue 16): direction, floor, bounds, false-alarm budget, links.

A wrong value is one line naming the file, the watch and the field; a raw
``threshold`` the user wrote keeps the bare detector exactly as before.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.detect.config import load_config, parse_config
from sloplane.detect.describe import describe
from sloplane.detect.outbox import AlertOutbox
from sloplane.detect.state import SeriesState
from sloplane.detectors.base import Detector
from sloplane.detectors.watch import WatchDetector
from sloplane.errors import SpecError


def _watch(**fields: Any) -> dict[str, Any]:
    return {"watches": [{"name": "checkout", "query": "up", **fields}]}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"direction": "sideways"}, "direction", "'up', 'down' or 'both'"),
        ({"false_alarms": "often"}, "false_alarms", "false_alarms"),
        ({"threshold": 0.6, "false_alarms": "1/week"}, "false_alarms", "not both"),
        ({"lower_bound": 5, "upper_bound": 1}, "lower_bound", "lower_bound must be below"),
        ({"min_change": -1}, "min_change", "greater than or equal to 0"),
        ({"runbook_url": "runbooks/x"}, "runbook_url", "not an http"),
    ],
)
def test_a_wrong_watch_rule_is_one_clear_line(
    tmp_path: Path, fields: dict[str, Any], field: str, words: str
) -> None:
    import yaml

    path = tmp_path / "detect.yaml"
    path.write_text(yaml.safe_dump(_watch(**fields)))
    with pytest.raises(SpecError) as err:
        load_config(path)
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:") and "watch 'checkout'" in line
    assert f"field '{field}'" in line and words in line


def test_the_default_is_a_budget_of_one_false_alarm_a_week() -> None:
    w = parse_config(_watch()).watches[0]
    det = w.build_detector()
    assert isinstance(det, WatchDetector) and det.options.budget_mode
    assert det.options.false_alarms == "1/week" and w.alert_level == det.alert_at


def test_the_learnt_floor_of_flat_series_can_be_switched_off() -> None:
    on = parse_config(_watch()).watches[0].build_detector()
    off = parse_config(_watch(learn_steps=False)).watches[0].build_detector()
    assert isinstance(on, WatchDetector) and on.options.learn_steps
    assert isinstance(off, WatchDetector) and not off.options.learn_steps


def test_a_raw_threshold_alone_keeps_the_bare_detector() -> None:
    w = parse_config(_watch(threshold=0.7, detector="ewma")).watches[0]
    det = w.build_detector()
    assert not isinstance(det, WatchDetector) and w.alert_level == 0.7


def test_a_raw_threshold_with_a_direction_is_a_watch_at_that_threshold() -> None:
    w = parse_config(_watch(threshold=0.7, direction="up")).watches[0]
    det = w.build_detector()
    assert isinstance(det, WatchDetector) and det.alert_at == 0.7 == w.alert_level
    assert det.options.direction == "up" and not det.options.budget_mode


class _Rare(Detector):
    """A detector that reports a fixed rarity and range, as the watch rules do."""

    one_in = 12_345.0

    def _update(self, t: float, x: float) -> float:
        self._expected = (0.0, 0.4)
        return 1.0


@settings(max_examples=40, deadline=None)
@given(value=st.floats(0.41, 1e6), up=st.booleans())
def test_an_alert_says_which_series_which_side_and_how_rare(value: float, up: bool) -> None:
    fields: dict[str, Any] = {
        "runbook_url": "https://runbooks.example/r",
        "dashboard_url": "https://grafana.example/d/x",
        "labels": {"team": "pay"},
    }
    if up:
        fields["direction"] = "up"
    w = parse_config(_watch(**fields)).watches[0]
    det = _Rare()
    s = SeriesState({"__name__": "errors", "path": "/pay"}, det)
    s.last_score = det.update(0.0, value)
    s.last_value, s.expected = value, det.expected_range
    notes = AlertOutbox._annotations(w, s)
    text = notes["description"]
    assert text.startswith('Watch checkout: errors{path="/pay"} is above its expected range')
    assert f"value {value:.6g}, the expected range is 0 to 0.4" in text
    assert "about 1 in 12,345 points for this series" in text
    assert ("(the watch alerts on moves up)" in text) == up
    assert "{}" not in text and text.endswith(".")
    assert notes["runbook_url"] == "https://runbooks.example/r"
    assert notes["dashboard_url"] == "https://grafana.example/d/x"
    assert notes["summary"] == 'errors{path="/pay"} of watch checkout is above its expected range'


def test_a_bare_detector_does_not_invent_a_rarity() -> None:
    w = parse_config(_watch(threshold=0.5, detector="ewma")).watches[0]
    s = SeriesState({"job": "a"}, w.build_detector(), last_value=3.0, last_score=0.8)
    text = describe(w, s)
    assert "no expected range is known yet" in text
    assert "this detector gives no rarity estimate" in text and "1 in" not in text


def test_the_firing_log_line_is_a_sentence(caplog: pytest.LogCaptureFixture) -> None:
    from sloplane.detect.poller import Poller

    w = parse_config(_watch(threshold=0.5, consecutive=1)).watches[0]
    s = SeriesState({"job": "a"}, _Rare())

    class _Outbox:
        def send(self, *args: Any, **kwargs: Any) -> None:
            pass

        def deliver(self) -> int:
            return 0

    poller = Poller.__new__(Poller)
    poller.outbox = _Outbox()  # type: ignore[assignment]
    s.last_score, s.last_value, s.expected = 1.0, 2.0, (0.0, 0.4)
    with caplog.at_level(logging.INFO, logger="sloplane.detectors"):
        poller._start_firing(w, s, 0.0)
    (msg,) = caplog.messages
    assert msg.startswith('Watch checkout: {job="a"} is above its expected range')
    assert msg.endswith("The alert fires.") and "{}" not in msg
