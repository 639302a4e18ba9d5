"""The one reader of the PromQL HTTP API: instant and range queries, raw samples, readiness.

Two faces share every rule about the wire: :class:`AsyncPrometheusClient` (the API and
the reports, on httpx.AsyncClient) and :class:`PrometheusClient` (the detectors and the
CLI, which poll synchronously). Both

* validate every answer against the API's response schema (pydantic): a body that is
  not a response object, a success without ``data``, a value that is not a number, a
  timestamp that is not one, a result of the wrong type or a sample far in the future
  becomes a :class:`PrometheusError` naming the backend and what is wrong, never a
  KeyError;
* retry idempotent GETs once more when the connection failed or a proxy said the
  backend is briefly unavailable (:mod:`sloplane.clients.http`), and never a slow query;
* split a range query of more than :data:`MAX_POINTS` points per series into
  consecutive requests on the same grid and join the series, so a caller may ask for
  any range;
* keep NaN and infinite values as they come (an 0/0 ratio is "no traffic", which the
  caller must be able to tell from a missing series): :meth:`Series.finite` drops them.

Works against any backend speaking the Prometheus HTTP API (Prometheus, Thanos Query,
Mimir, VictoriaMetrics).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Annotated, Any, Literal, Protocol

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sloplane.clients.http import RETRYABLE_STATUS, backoff, describe, retryable_error
from sloplane.errors import BackendError

MAX_POINTS = 11_000
"""Prometheus refuses a ``query_range`` of more points per series than this."""

MAX_CLOCK_SKEW = 300.0
"""Seconds a sample may lie after the time asked for before the answer is refused."""


class PrometheusError(BackendError):
    """The PromQL backend failed, timed out, or gave an answer we cannot trust.

    ``status`` is the HTTP status an API should answer with: 503 when the backend is
    down or its answer is unusable, 502 when it rejected our query (our bug, not the
    caller's, and still not a 500).
    """

    def __init__(self, backend: str, cause: str, *, status: int = 503) -> None:
        self.backend = backend
        self.cause = cause
        self.status = status
        super().__init__(f"{backend}: {cause}")


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector (or a scalar, with no labels): labels, value, time."""

    labels: Mapping[str, str]
    value: float
    t: float


@dataclass(frozen=True)
class Series:
    """One series of a range vector: its labels and ``(unix time, value)`` points in order."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]

    def finite(self) -> Series:
        """The same series without NaN and infinite points (for callers that learn from values)."""
        return Series(self.labels, tuple((t, v) for t, v in self.points if math.isfinite(v)))


def format_labels(labels: Mapping[str, str]) -> str:
    """A series as PromQL writes it: ``name{a="1", b="x\\"y"}``, labels sorted.

    A series' identity for the detectors and back-tests: values are quoted and escaped,
    so ``{a="1,b=2"}`` and ``{a="1", b="2"}`` never share a text (nor a detector).
    """
    name = labels.get("__name__", "")
    rest = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(labels.items())
        if k != "__name__"
    )
    return f"{name}{{{rest}}}" if rest or not name else name


# -- the response schema ---------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", re.IGNORECASE)


def _value(raw: object) -> float:
    """A sample value: Prometheus sends a string ("1.5", "NaN", "+Inf"); some backends a number."""
    if isinstance(raw, str) and _NUMBER.fullmatch(raw):
        return float(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    raise ValueError(f"not a number: {raw!r}")


def _time(raw: object) -> float:
    """A sample time: unix seconds as a JSON number."""
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    raise ValueError(f"not a unix time: {raw!r}")


Value = Annotated[float, BeforeValidator(_value)]
Time = Annotated[float, BeforeValidator(_time)]
Point = tuple[Time, Value]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _VectorItem(_Model):
    metric: dict[str, str]
    value: Point | None = None
    histogram: Any = None


class _MatrixItem(_Model):
    metric: dict[str, str]
    values: list[Point] = []
    histograms: Any = None


class _Vector(_Model):
    resultType: Literal["vector"]
    result: list[_VectorItem]


class _Matrix(_Model):
    resultType: Literal["matrix"]
    result: list[_MatrixItem]


class _Scalar(_Model):
    resultType: Literal["scalar"]
    result: Point


class _String(_Model):
    resultType: Literal["string"]
    result: tuple[Time, str]


Data = Annotated[_Vector | _Matrix | _Scalar | _String, Field(discriminator="resultType")]


class _Response(_Model):
    status: Literal["success", "error"]
    data: Data | None = None
    errorType: str = ""
    error: str = ""
    warnings: list[str] = []


# -- one request, decoded ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One GET against the API: where, with what, which result types it may return, and the
    time it asks about (None: the backend's now), which bounds how late a sample may be."""

    path: str
    params: Mapping[str, str]
    expect: tuple[str, ...]
    until: float | None = None


def instant_call(query: str, at: float | None = None) -> Call:
    params = {"query": query}
    if at is not None:
        params["time"] = format_time(at)
    return Call("/api/v1/query", params, ("vector", "scalar"), at)


def samples_call(selector: str, window: str, at: float) -> Call:
    """Raw samples of ``selector`` over ``window`` ending at ``at`` (no lookback smearing)."""
    params = {"query": f"{selector}[{window}]", "time": format_time(at)}
    return Call("/api/v1/query", params, ("matrix",), at)


def range_calls(
    query: str, start: float, end: float, step: float, max_points: int = MAX_POINTS
) -> list[Call]:
    """The range query as consecutive requests of at most ``max_points`` points, one grid.

    The grid is ``start, start + step, ... <= end`` in whole milliseconds, so every chunk
    evaluates at exactly the times one request would have.
    """
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), round(step * 1000)
    if step_ms <= 0:
        raise ValueError(f"step must be at least 1ms, got {step}s")
    if end_ms < start_ms:
        raise ValueError(f"range ends ({end}) before it starts ({start})")
    points = (end_ms - start_ms) // step_ms + 1
    calls = []
    for first in range(0, points, max_points):
        last = min(points, first + max_points) - 1
        chunk_end = (start_ms + last * step_ms) / 1000
        params = {
            "query": query,
            "start": format_time((start_ms + first * step_ms) / 1000),
            "end": format_time(chunk_end),
            "step": format_time(step_ms / 1000),
        }
        calls.append(Call("/api/v1/query_range", params, ("matrix",), chunk_end))
    return calls


def format_time(t: float) -> str:
    """Unix seconds with millisecond precision, never in exponent form."""
    if not math.isfinite(t):
        raise ValueError(f"time must be finite, got {t}")
    return f"{t:.3f}"


@dataclass(frozen=True)
class Decoder:
    """Turns one HTTP answer into validated data, or a :class:`PrometheusError`.

    ``reject_warnings``: treat an answer with warnings (a partial answer, e.g. a Thanos
    store down) as an error; a service that acts on the data must not act on part of it.
    """

    backend: str
    reject_warnings: bool = False
    max_skew: float = MAX_CLOCK_SKEW

    def error(self, cause: str, status: int = 503) -> PrometheusError:
        return PrometheusError(self.backend, cause, status=status)

    def decode(self, call: Call, resp: httpx.Response, sent_at: float) -> Data:
        try:
            # parsed and validated in one pass (pydantic-core): half the time of json.loads
            # followed by validation on an 11,000-point answer
            answer = _Response.model_validate_json(resp.content)
        except ValidationError as exc:
            raise self.error(_explain(resp, exc, call)) from None
        if resp.status_code != 200 or answer.status != "success":
            cause = f"HTTP {resp.status_code}: {answer.errorType} {answer.error}".strip()
            # A 4xx is a query the backend refused: our bug, reported as a bad gateway.
            raise self.error(" ".join(cause.split()), 502 if resp.status_code < 500 else 503)
        if answer.data is None:
            raise self.error(f"a success without data (in {call.path})")
        if answer.warnings and self.reject_warnings:
            raise self.error(f"partial answer: {'; '.join(answer.warnings)}")
        if answer.data.resultType not in call.expect:
            raise self.error(
                f"answered a {answer.data.resultType} where a "
                f"{' or '.join(call.expect)} was expected (in {call.path})"
            )
        self._check_times(answer.data, sent_at if call.until is None else call.until)
        return answer.data

    def _check_times(self, data: Data, asked: float) -> None:
        latest = max(_times(data), default=None)
        if latest is not None and latest > asked + self.max_skew:
            raise self.error(
                f"a sample at {latest:.3f} is {latest - asked:.0f}s after the time asked for "
                f"({asked:.3f}): the backend's clock or data is wrong"
            )


def _times(data: Data) -> Iterable[float]:
    if isinstance(data, _Vector):
        return (item.value[0] for item in data.result if item.value is not None)
    if isinstance(data, _Matrix):
        return (t for item in data.result for t, _ in item.values)
    return (data.result[0],)


def _explain(resp: httpx.Response, exc: ValidationError, call: Call) -> str:
    """One line on why an answer is unusable: not JSON, not an object, or which field."""
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return f"HTTP {resp.status_code} with a body that is not JSON: {resp.text[:200]!r}"
    if not first.get("loc"):
        kind = _json_kind(json.loads(resp.content))
        return (
            f"HTTP {resp.status_code}: the answer is not a response object but {kind}: "
            f"{resp.text[:200]!r}"
        )
    return f"{_schema_problem(exc)} (in {call.path})"


def _json_kind(body: object) -> str:
    return {list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(body), "a number"
    )


def _schema_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if not str(p).startswith("_"))
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    extra = f" ({exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"the answer does not follow the Prometheus API: {where or 'body'}: {msg}{extra}"


def to_samples(backend: str, data: Data) -> list[Sample]:
    """An instant vector (or scalar) as samples; a native histogram is not a float sample."""
    if isinstance(data, _Scalar):
        return [Sample({}, data.result[1], data.result[0])]
    assert isinstance(data, _Vector)  # Call.expect was checked by the decoder
    out = []
    for item in data.result:
        if item.value is None:
            raise PrometheusError(
                backend,
                f"series {format_labels(item.metric)} has no float value "
                "(a native histogram?): query a float, e.g. histogram_count(...)",
            )
        out.append(Sample(item.metric, item.value[1], item.value[0]))
    return out


def to_series(data: Data) -> list[Series]:
    assert isinstance(data, _Matrix)  # Call.expect was checked by the decoder
    return [Series(item.metric, tuple(item.values)) for item in data.result]


def join_chunks(chunks: Iterable[Sequence[Series]]) -> list[Series]:
    """Series of consecutive range chunks, joined by label set in first-seen order."""
    joined: dict[tuple[tuple[str, str], ...], tuple[Mapping[str, str], list[tuple[float, float]]]]
    joined = {}
    for chunk in chunks:
        for s in chunk:
            key = tuple(sorted(s.labels.items()))
            joined.setdefault(key, (s.labels, []))[1].extend(s.points)
    return [Series(labels, tuple(points)) for labels, points in joined.values()]


# -- the two faces -------------------------------------------------------------------------------


class PromReader(Protocol):
    """What a synchronous poller needs from Prometheus (tests may pass a stand-in)."""

    def instant(self, query: str, at: float | None = None) -> list[Sample]: ...

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]: ...


class AsyncPromReader(Protocol):
    """What the API and the reports need from Prometheus."""

    async def instant(self, query: str, at: float | None = None) -> list[Sample]: ...

    async def range(self, query: str, start: float, end: float, step: float) -> list[Series]: ...

    async def samples(self, selector: str, window: str, at: float) -> list[Series]: ...


Outcome = httpx.Response | httpx.HTTPError
"""What one attempt at a GET ended with: an answer (of any status) or a transport failure."""


@dataclass(eq=False)
class _Settings:
    """What both faces are configured with; each face adds its own transport and limits."""

    url: str
    timeout: float = 10.0
    _: KW_ONLY
    retries: int = 1
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a token
    max_points: int = MAX_POINTS
    reject_warnings: bool = False
    max_skew: float = MAX_CLOCK_SKEW

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.headers = dict(self.headers or {})
        self.decoder = Decoder(self.url, self.reject_warnings, self.max_skew)

    def failed(self, exc: httpx.HTTPError) -> PrometheusError:
        if isinstance(exc, httpx.TimeoutException):
            return PrometheusError(self.url, f"no answer within {self.timeout:g}s (timeout)")
        return PrometheusError(self.url, describe(exc))

    def again(self, attempt: int, failure: httpx.HTTPError | httpx.Response) -> bool:
        """Whether attempt ``attempt`` (0-based) may be followed by another."""
        if attempt >= self.retries:
            return False
        if isinstance(failure, httpx.Response):
            return failure.status_code in RETRYABLE_STATUS and not _timed_out(failure)
        return retryable_error(failure)

    def settle(self, attempt: int, outcome: Outcome) -> httpx.Response | None:
        """The answer of attempt ``attempt`` (0-based) to decode, or None to try again after
        ``backoff(attempt)``; a transport failure that is not retried raises.

        The whole retry policy, free of I/O: the synchronous and the asynchronous face only
        send, sleep and decode around it, so they cannot drift apart.
        """
        if self.again(attempt, outcome):
            return None
        if isinstance(outcome, httpx.Response):
            return outcome
        raise self.failed(outcome)


def _timed_out(resp: httpx.Response) -> bool:
    """Prometheus answers 503 with errorType "timeout" to a query that ran too long."""
    try:
        return bool(resp.json().get("errorType") == "timeout")
    except (ValueError, AttributeError):
        return False


@dataclass(eq=False, kw_only=True)
class PrometheusClient(_Settings):
    """The synchronous face; one connection pool, closed by :meth:`close` or ``with``."""

    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._http = httpx.Client(
            base_url=self.url,
            headers=dict(self.headers),
            timeout=self.timeout,
            transport=self.transport,
        )

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        return to_samples(self.url, self.run(instant_call(query, at)))

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        calls = range_calls(query, start, end, step, self.max_points)
        return join_chunks(to_series(self.run(c)) for c in calls)

    def samples(self, selector: str, window: str, at: float) -> list[Series]:
        return to_series(self.run(samples_call(selector, window, at)))

    def ready(self) -> bool:
        """True when the backend answers its build-info endpoint (any non-5xx answer)."""
        try:
            return self._http.get("/api/v1/status/buildinfo").status_code < 500
        except httpx.HTTPError:
            return False

    def run(self, call: Call) -> Data:
        attempt = 0
        while True:
            sent_at = time.time()
            if (resp := self.settle(attempt, self._send(call))) is not None:
                return self.decoder.decode(call, resp, sent_at)
            time.sleep(backoff(attempt))
            attempt += 1

    def _send(self, call: Call) -> Outcome:
        try:
            return self._http.get(call.path, params=dict(call.params))
        except httpx.HTTPError as exc:
            return exc


@dataclass(eq=False, kw_only=True)
class AsyncPrometheusClient(_Settings):
    """The asynchronous face; ``max_connections`` bounds the connection pool, ``max_bytes``
    and ``max_series`` the answers it accepts (None: no bound)."""

    max_connections: int = 8
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    max_bytes: int | None = None
    max_series: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # made on first use, inside the event loop that runs the requests
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncPrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def instant(self, query: str, at: float | None = None) -> list[Sample]:
        return to_samples(self.url, await self.run(instant_call(query, at)))

    async def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        calls = range_calls(query, start, end, step, self.max_points)
        chunks = [to_series(await self.run(c)) for c in calls]  # in order: bounded load
        return join_chunks(chunks)

    async def samples(self, selector: str, window: str, at: float) -> list[Series]:
        return to_series(await self.run(samples_call(selector, window, at)))

    async def ready(self) -> bool:
        """True when the backend answers its build-info endpoint (any non-5xx answer)."""
        try:
            resp = await self._http().get("/api/v1/status/buildinfo")
        except httpx.HTTPError:
            return False
        # Thanos/Mimir may not implement buildinfo; any non-5xx answer means it is up.
        return resp.status_code < 500

    async def run(self, call: Call) -> Data:
        """Send ``call``; with ``max_bytes``/``max_series`` the answer is decoded on a worker
        thread (the event loop keeps serving, and a caller's deadline covers decoding) after
        its size was checked while it streamed in."""
        attempt = 0
        while True:
            sent_at = time.time()
            if (resp := self.settle(attempt, await self._send(call))) is not None:
                if self.max_bytes is None and self.max_series is None:
                    return self.decoder.decode(call, resp, sent_at)
                self._check_series(resp)
                return await asyncio.to_thread(self.decoder.decode, call, resp, sent_at)
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def _send(self, call: Call) -> Outcome:
        try:
            return await self._get(call)
        except httpx.HTTPError as exc:
            return exc

    async def _get(self, call: Call) -> httpx.Response:
        """The answer, read at most ``max_bytes`` far (a PrometheusError beyond)."""
        if self.max_bytes is None:
            return await self._http().get(call.path, params=dict(call.params))
        request = self._http().build_request("GET", call.path, params=dict(call.params))
        resp = await self._http().send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise PrometheusError(
                        self.url,
                        f"answer larger than {self.max_bytes} bytes (refused; ask for fewer "
                        "series or a shorter range)",
                    )
                chunks.append(chunk)
        finally:
            await resp.aclose()
        headers = [
            (k, v)
            for k, v in resp.headers.items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            resp.status_code, headers=headers, content=b"".join(chunks), request=request
        )

    def _check_series(self, resp: httpx.Response) -> None:
        """Refuse an answer of more than ``max_series`` series before parsing it (one byte
        scan: every series of a vector or matrix carries a ``"metric"`` object)."""
        if self.max_series is None:
            return
        count = resp.content.count(b'"metric"')
        if count > self.max_series:
            raise PrometheusError(
                self.url,
                f"answer of {count} series, more than the limit of {self.max_series} "
                "(refused; the query selects too many series)",
            )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            )
            self._client = httpx.AsyncClient(
                base_url=self.url,
                headers=dict(self.headers),
                limits=limits,
                timeout=self.timeout,
                transport=self.transport,
            )
        return self._client
