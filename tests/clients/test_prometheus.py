"""The Prometheus reader against answers a real server cannot be made to give.

Every answer goes through an httpx.MockTransport, so these tests need no server: good
answers of each result type, every kind of garbage (each must become a typed
PrometheusError, never a KeyError), retries, and the chunking of long ranges.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.clients.prometheus import (
    MAX_POINTS,
    AsyncPrometheusClient,
    PrometheusClient,
    PrometheusError,
    Sample,
    Series,
    format_labels,
    range_calls,
)

URL = "http://prom.test"
Handler = Callable[[httpx.Request], httpx.Response]


def ok(result_type: str, result: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}, **extra}


def answer(body: Any, status: int = 200) -> Handler:
    text = json.dumps(body).encode()  # json=None would send an empty body, not null
    return lambda _req: httpx.Response(status, content=text)


def instant_sync(handler: Handler, **kw: Any) -> list[Sample]:
    with PrometheusClient(URL, transport=httpx.MockTransport(handler), **kw) as c:
        return c.instant("q", at=1000.0)


def instant_async(handler: Handler, **kw: Any) -> list[Sample]:
    async def run() -> list[Sample]:
        async with AsyncPrometheusClient(URL, transport=httpx.MockTransport(handler), **kw) as c:
            return await c.instant("q", at=1000.0)

    return asyncio.run(run())


FACES = pytest.mark.parametrize("instant", [instant_sync, instant_async], ids=["sync", "async"])


@FACES
def test_a_vector_and_a_scalar(instant: Callable[..., list[Sample]]) -> None:
    vector = ok(
        "vector",
        [
            {"metric": {"job": "a"}, "value": [1000, "0.5"]},
            {"metric": {}, "value": [1000.0, "NaN"]},
            {"metric": {"x": "y"}, "value": [1000, "+Inf"]},
        ],
    )
    got = instant(answer(vector))
    assert got[0] == Sample({"job": "a"}, 0.5, 1000.0)
    assert math.isnan(got[1].value) and got[2].value == math.inf
    assert instant(answer(ok("scalar", [1000, "3"]))) == [Sample({}, 3.0, 1000.0)]


GARBAGE = [
    pytest.param([1, 2, 3], "not a response object but a list", id="list"),
    pytest.param(None, "not a response object but null", id="null"),
    pytest.param({"status": "success"}, "success without data", id="no data"),
    pytest.param({"data": ok("vector", [])["data"]}, "status", id="no status"),
    pytest.param(
        ok("vector", [{"metric": {}, "value": [1000, "abc"]}]), "not a number: 'abc'", id="abc"
    ),
    pytest.param(
        ok("vector", [{"metric": {}, "value": [1000, "1_0"]}]), "not a number", id="underscore"
    ),
    pytest.param(ok("vector", [{"metric": {}, "value": ["x", "1"]}]), "not a unix time", id="t"),
    pytest.param(ok("vector", [{"metric": {}, "value": [1000]}]), "value", id="short pair"),
    pytest.param(ok("vector", [{"value": [1000, "1"]}]), "metric", id="no metric"),
    pytest.param(ok("vector", [{"metric": {"a": 1}, "value": [1000, "1"]}]), "metric", id="lab"),
    pytest.param(ok("vector", {"a": 1}), "result", id="result not a list"),
    pytest.param(ok("tensor", []), "resultType", id="unknown type"),
    pytest.param(ok("matrix", []), "answered a matrix where a vector or scalar", id="matrix"),
    pytest.param(
        ok("vector", [{"metric": {}, "value": [1000 + 86400 * 365, "1"]}]),
        "after the time asked for",
        id="far future",
    ),
    pytest.param(
        ok("vector", [{"metric": {"__name__": "h"}, "histogram": [1000, {"count": "1"}]}]),
        "native histogram",
        id="histogram",
    ),
]


@FACES
@pytest.mark.parametrize(("body", "says"), GARBAGE)
def test_garbage_is_a_typed_backend_error(
    instant: Callable[..., list[Sample]], body: Any, says: str
) -> None:
    with pytest.raises(PrometheusError, match=says) as caught:
        instant(answer(body))
    assert caught.value.status == 503 and caught.value.backend == URL


@FACES
def test_not_json_and_error_answers(instant: Callable[..., list[Sample]]) -> None:
    with pytest.raises(PrometheusError, match="not JSON") as caught:
        instant(lambda _r: httpx.Response(200, text="<html>proxy</html>"))
    assert caught.value.status == 503
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    with pytest.raises(PrometheusError, match="HTTP 400: bad_data parse error") as caught:
        instant(answer(bad, 400))
    assert caught.value.status == 502  # our query was refused: not the caller's fault
    down = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    with pytest.raises(PrometheusError, match="timeout") as caught:
        instant(answer(down, 503))
    assert caught.value.status == 503


@FACES
def test_warnings_are_refused_only_when_asked(instant: Callable[..., list[Sample]]) -> None:
    partial = ok("vector", [], warnings=["store down"])
    assert instant(answer(partial)) == []
    with pytest.raises(PrometheusError, match="partial answer: store down"):
        instant(answer(partial), reject_warnings=True)


def counting(responses: list[httpx.Response | Exception]) -> tuple[Handler, list[int]]:
    calls = [0]

    def handler(_req: httpx.Request) -> httpx.Response:
        item = responses[min(calls[0], len(responses) - 1)]
        calls[0] += 1
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item.status_code, content=item.content)  # a fresh stream

    return handler, calls


GOOD = httpx.Response(200, json=ok("vector", []))


@FACES
@pytest.mark.parametrize(
    ("first", "retried"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.Response(503, text="proxy: upstream restarting"), True),
        (httpx.Response(502, json={"status": "error", "errorType": "x"}), True),
        (httpx.Response(503, json={"status": "error", "errorType": "timeout"}), False),
        (httpx.Response(400, json={"status": "error", "errorType": "bad_data"}), False),
        (httpx.ReadTimeout("slow"), False),
    ],
)
def test_retries_only_what_a_retry_can_cure(
    instant: Callable[..., list[Sample]], first: httpx.Response | Exception, retried: bool
) -> None:
    handler, calls = counting([first, GOOD])
    if retried:
        assert instant(handler) == []
        assert calls[0] == 2
    else:
        with pytest.raises(PrometheusError):
            instant(handler)
        assert calls[0] == 1


def test_a_read_timeout_names_the_timeout() -> None:
    handler, _ = counting([httpx.ReadTimeout("slow")])
    with pytest.raises(PrometheusError, match=r"no answer within 10s \(timeout\)"):
        instant_sync(handler)


def test_retries_stop() -> None:
    handler, calls = counting([httpx.ConnectError("refused")])
    with pytest.raises(PrometheusError, match="ConnectError: refused"):
        instant_sync(handler, retries=2)
    assert calls[0] == 3


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["status", "data", "resultType", "result", "metric", "value", "values"])
SHAPED = st.recursive(
    JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(body=SHAPED, status=st.sampled_from([200, 400, 422, 500, 503]))
def test_any_json_is_data_or_a_typed_error(body: Any, status: int) -> None:
    """Whatever JSON comes back, the caller sees samples or a PrometheusError, nothing else."""
    for call in (
        lambda c: c.instant("q", at=1000.0),
        lambda c: c.range("q", 0, 100, 10),
        lambda c: c.samples("up", "5m", 1000.0),
    ):
        with (
            PrometheusClient(
                URL, transport=httpx.MockTransport(answer(body, status)), retries=0
            ) as c,
            contextlib.suppress(PrometheusError),
        ):
            call(c)


def grid_backend(seen: list[dict[str, str]]) -> Handler:
    """A range backend: two series whose value at t is t, evaluated on the asked grid."""

    def handler(req: httpx.Request) -> httpx.Response:
        p = dict(req.url.params)
        seen.append(p)
        start, end, step = (round(float(p[k]) * 1000) for k in ("start", "end", "step"))
        values = [[t / 1000, str(t / 1000)] for t in range(start, end + 1, step)]
        assert len(values) <= MAX_POINTS, "a chunk Prometheus would refuse"
        result = [{"metric": {"s": s}, "values": values} for s in ("a", "b")]
        return httpx.Response(200, json=ok("matrix", result))

    return handler


@settings(max_examples=25, deadline=None)
@given(
    start_ms=st.integers(0, 2_000_000_000_000),
    step_ms=st.integers(1, 3_600_000),
    points=st.integers(1, 2 * MAX_POINTS + 7),
)
def test_long_ranges_are_read_in_chunks_on_one_grid(
    start_ms: int, step_ms: int, points: int
) -> None:
    start, step = start_ms / 1000, step_ms / 1000
    end = (start_ms + (points - 1) * step_ms + step_ms // 2) / 1000  # not on the grid
    seen: list[dict[str, str]] = []
    with PrometheusClient(URL, transport=httpx.MockTransport(grid_backend(seen))) as c:
        series = c.range("q", start, end, step)
    assert len(seen) == math.ceil(points / MAX_POINTS)
    expected = tuple(((start_ms + i * step_ms) / 1000,) * 2 for i in range(points))
    assert [s.labels for s in series] == [{"s": "a"}, {"s": "b"}]
    assert all(s.points == expected for s in series)


def test_async_range_chunks_like_the_sync_one() -> None:
    seen: list[dict[str, str]] = []

    async def run() -> list[Series]:
        transport = httpx.MockTransport(grid_backend(seen))
        async with AsyncPrometheusClient(URL, transport=transport) as c:
            return await c.range("q", 0, 25_000, 1)

    series = asyncio.run(run())
    assert len(seen) == 3 and len(series[0].points) == 25_001
    assert [p["start"] for p in seen] == ["0.000", "11000.000", "22000.000"]


def test_range_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="step"):
        range_calls("q", 0, 10, 0)
    with pytest.raises(ValueError, match="before it starts"):
        range_calls("q", 10, 0, 1)


def test_samples_and_finite() -> None:
    body = ok("matrix", [{"metric": {"a": "1"}, "values": [[1, "1"], [2, "NaN"], [3, "-Inf"]]}])
    with PrometheusClient(URL, transport=httpx.MockTransport(answer(body))) as c:
        (series,) = c.samples("x", "5m", 10.0)
    assert len(series.points) == 3 and series.finite().points == ((1.0, 1.0),)


def test_an_instant_query_without_time_is_checked_against_now() -> None:
    now = time.time()
    late = ok("vector", [{"metric": {}, "value": [now + 3600, "1"]}])
    with (
        PrometheusClient(URL, transport=httpx.MockTransport(answer(late))) as c,
        pytest.raises(PrometheusError, match="after the time asked for"),
    ):
        c.instant("q")
    fine = ok("vector", [{"metric": {}, "value": [now + 5, "1"]}])  # a little clock skew
    with PrometheusClient(URL, transport=httpx.MockTransport(answer(fine))) as c:
        assert c.instant("q")[0].value == 1.0


def test_ready() -> None:
    with PrometheusClient(URL, transport=httpx.MockTransport(answer({}, 404))) as c:
        assert c.ready()  # a backend without buildinfo is still up
    with PrometheusClient(URL, transport=httpx.MockTransport(answer({}, 500))) as c:
        assert not c.ready()


LABELS = st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=6), max_size=4)


@given(a=LABELS, b=LABELS)
def test_format_labels_is_an_identity(a: dict[str, str], b: dict[str, str]) -> None:
    assert (format_labels(a) == format_labels(b)) == (a == b)


def test_format_labels_reads_as_promql() -> None:
    assert format_labels({"__name__": "up", "job": 'a"b', "a": "1"}) == 'up{a="1", job="a\\"b"}'
    assert format_labels({"__name__": "up"}) == "up"
    assert format_labels({}) == "{}"
    assert json.loads(format_labels({"k": "ü"})[3:-1]) == "ü"
