"""The AlertManager client: the JSON it posts, what it retries, and a real AlertManager."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx
import pytest

from sloplane.clients.alertmanager import Alert, AlertmanagerClient, iso_time
from sloplane.errors import BackendError
from tests.support.processes import run_alertmanager

URL = "http://am.test"


class Recorder:
    """A MockTransport handler that answers from a list and keeps every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item.status_code, content=item.content)

    def client(self) -> AlertmanagerClient:
        return AlertmanagerClient(URL, transport=httpx.MockTransport(self))


def test_alert_json_is_sorted_and_takes_unix_or_datetime_times() -> None:
    alert = Alert(
        labels={"b": "2", "a": "1"},
        annotations={"z": "", "summary": "s"},
        starts_at=0.5,
        ends_at=dt.datetime(2026, 1, 2, 3, 4, 5),
        generator_url="http://g",
    )
    assert json.dumps(alert.to_json()) == json.dumps(
        {
            "labels": {"a": "1", "b": "2"},
            "annotations": {"summary": "s", "z": ""},
            "startsAt": "1970-01-01T00:00:00.500000Z",
            "endsAt": "2026-01-02T03:04:05.000000Z",
            "generatorURL": "http://g",
        }
    )
    assert "startsAt" not in Alert(labels={}).to_json()


def test_iso_time_is_utc() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert iso_time(dt.datetime(2026, 1, 1, 2, 0, tzinfo=plus2)) == "2026-01-01T00:00:00.000000Z"


def test_posts_alerts_and_kept_json_alike() -> None:
    rec = Recorder(httpx.Response(200))
    kept: dict[str, Any] = {"labels": {"alertname": "A"}, "startsAt": "2026-01-01T00:00:00Z"}
    with rec.client() as am:
        am.post_alerts([Alert(labels={"alertname": "B"}), kept])
    (request,) = rec.requests
    assert request.url.path == "/api/v2/alerts"
    assert json.loads(request.content) == [
        {"labels": {"alertname": "B"}, "annotations": {}},
        kept,
    ]


def test_reads_are_retried_writes_are_not() -> None:
    rec = Recorder(httpx.Response(503, text="restarting"), httpx.Response(200, json=[]))
    with rec.client() as am:
        assert am.alerts() == []
    assert len(rec.requests) == 2
    rec = Recorder(httpx.ConnectError("refused"), httpx.Response(200, json={"ok": 1}))
    with rec.client() as am:
        assert am.status() == {"ok": 1}
    rec = Recorder(httpx.Response(503, text="restarting"), httpx.Response(200))
    with rec.client() as am, pytest.raises(BackendError, match="answered 503: restarting"):
        am.post_alerts([Alert(labels={"a": "1"})])
    assert len(rec.requests) == 1


def test_unusable_answers_are_backend_errors() -> None:
    rec = Recorder(httpx.Response(200, text="<html>"))
    with rec.client() as am, pytest.raises(BackendError, match="not JSON"):
        am.status()
    rec = Recorder(httpx.ReadTimeout("slow"))
    with rec.client() as am, pytest.raises(BackendError, match="unreachable: ReadTimeout: slow"):
        am.alerts()
    assert len(rec.requests) == 1  # a slow AlertManager is not asked twice


CONFIG = """
route: {receiver: none}
receivers: [{name: none}]
"""


@pytest.mark.integration
def test_a_real_alertmanager_takes_unix_times_and_resolves() -> None:
    now = time.time()
    with run_alertmanager(CONFIG) as proc, AlertmanagerClient(proc.url, timeout=5) as am:
        firing = Alert(
            labels={"alertname": "Unix", "watch": "w"}, starts_at=now - 60, ends_at=now + 600
        )
        am.post_alerts([firing])
        (listed,) = am.alerts()
        assert listed["labels"] == {"alertname": "Unix", "watch": "w"}
        assert listed["startsAt"].startswith(iso_time(now - 60)[:19])
        am.post_alerts([Alert(labels=firing.labels, starts_at=now - 60, ends_at=now - 1)])
        assert am.alerts(active=True, silenced=False, inhibited=False) == []
