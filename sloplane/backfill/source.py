"""The SLI's 5m rates over the past, read with ``query_range`` from a Prometheus-compatible API."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sloplane.errors import SloplaneError

MAX_POINTS = 10_000  # Prometheus answers at most 11,000 points per series and query

Rates = dict[tuple[tuple[str, str], ...], dict[int, float]]  # label set -> {unix s: value}


class SourceError(SloplaneError):
    """Prometheus could not be reached or refused a query."""


def query_rates(
    client: httpx.Client,
    url: str,
    expr: str,
    start: int,
    end: int,
    step: int,
    progress: Callable[[int, int], None] | None = None,
) -> Rates:
    """``expr`` at every ``step`` from ``start`` to ``end``, in chunks of at most 10,000 points."""
    out: Rates = {}
    chunk = MAX_POINTS * step
    t = start
    while t <= end:
        stop = min(end, t + chunk - step)
        for series in _range(client, url, expr, t, stop, step):
            key = tuple(sorted(series["metric"].items()))
            values = out.setdefault(key, {})
            for stamp, value in series["values"]:
                number = float(value)
                if number == number:  # NaN: no sample (a 0/0 ratio), as the rules record it
                    values[int(float(stamp))] = number
        if progress:
            progress(stop - start + step, end - start + step)
        t = stop + step
    return out


def _range(
    client: httpx.Client, url: str, expr: str, start: int, end: int, step: int
) -> list[dict]:
    endpoint = f"{url.rstrip('/')}/api/v1/query_range"
    params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
    try:
        resp = client.post(endpoint, data=params)
    except httpx.HTTPError as exc:
        raise SourceError(f"--prometheus-url {url}: cannot query ({exc})") from exc
    try:
        body = resp.json()
    except ValueError:
        raise SourceError(
            f"--prometheus-url {url}: HTTP {resp.status_code}, not the Prometheus API: "
            f"{resp.text[:200]!r}"
        ) from None
    if resp.status_code != 200 or body.get("status") != "success":
        raise SourceError(
            f"--prometheus-url {url}: query failed ({body.get('errorType', resp.status_code)}: "
            f"{body.get('error', '')}): {expr.splitlines()[0]}"
        )
    return list(body["data"]["result"])
