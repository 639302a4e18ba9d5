"""pandas back-testing: run a detector over a CSV or a Prometheus range, plot it.

Back-tests use the same causal detectors as the service, fed in one batch:
scores are identical to what the service would have produced point by point.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sloplane.detectors.detectors import make_detector
from sloplane.detectors.labels import format_labels
from sloplane.errors import Problem, SpecError


def read_series(path: str | Path) -> pd.DataFrame:
    """A ``timestamp,value`` CSV as a frame with the original text kept (``raw_value``).

    The timestamp column may hold date-times or epoch seconds. Every value must
    be a number; write ``NaN`` for a missing point. Anything else is an error
    naming its line, never a silent score of 0. Rows are scored in file order:
    a repeated or backward timestamp (NAB's own files have them, from clock
    changes) is kept, and :func:`order_warnings` says where.
    """
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except UnicodeDecodeError as exc:
        raise SpecError(
            [Problem(file=str(p), message=f"not UTF-8 text (byte {exc.start}): {exc.reason}")]
        ) from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SpecError([Problem(file=str(p), message=f"cannot read CSV: {exc}")]) from exc
    missing = {"timestamp", "value"} - set(df.columns)
    if missing:
        raise SpecError(
            [Problem(file=str(p), message=f"missing column(s): {', '.join(sorted(missing))}")]
        )
    df = _drop_trailing_blank_rows(df.fillna(""))
    df["raw_value"] = df["value"]
    df["value"] = _values(df["value"], str(p))
    df["epoch"] = to_epoch(df["timestamp"], str(p))
    return df


_FIRST_DATA_LINE = 2  # line 1 is the header


def _drop_trailing_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    blank = (df.astype(str).apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    n = len(df)
    while n and blank[n - 1]:
        n -= 1
    return df.iloc[:n].reset_index(drop=True)


def _values(raw: pd.Series, where: str) -> pd.Series:
    text = raw.str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & (text.str.lower() != "nan")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        msg = "empty value" if not text.iloc[i] else f"not a number: {raw.iloc[i]!r}"
        raise SpecError(
            [Problem(file=where, line=i + _FIRST_DATA_LINE, field="value", message=msg)]
        )
    return values.astype(float)


def order_warnings(df: pd.DataFrame, where: str) -> list[Problem]:
    """The first row whose timestamp is not after the one before, and how many more.

    Not an error: every row is still scored, in file order, and a detector's
    seasonal bins simply see the clock as the file gives it.
    """
    epoch = df["epoch"].to_numpy()
    bad = np.flatnonzero(~(np.diff(epoch) > 0))
    if not len(bad):
        return []
    i = int(bad[0]) + 1
    ts, prev = df["timestamp"].iloc[i], df["timestamp"].iloc[i - 1]
    more = f" ({len(bad) - 1} more such rows)" if len(bad) > 1 else ""
    return [
        Problem(
            file=where,
            line=i + _FIRST_DATA_LINE,
            field="timestamp",
            message=f"{ts!r} is not after the previous timestamp {prev!r}{more}; "
            "rows are scored in file order",
        )
    ]


PROMETHEUS_MAX_POINTS = 11_000
"""Prometheus refuses a ``query_range`` of more points per series than this."""


def parse_step(text: str) -> float:
    """Seconds in a step such as ``30s``, ``5m``, ``1h30m``, ``200ms`` or a bare ``30``.

    The same durations as ``detect.yaml`` (:func:`sloplane.detect.config.parse_duration`).
    Prometheus works in milliseconds, so the step must be a positive whole number of them.
    """
    from sloplane.detect.config import parse_duration

    cleaned = text.strip()
    try:
        seconds = float(cleaned)
    except ValueError:
        seconds = parse_duration(cleaned)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    ms = seconds * 1000
    if abs(ms - round(ms)) > 1e-6:
        raise ValueError(f"{text!r} is not a whole number of milliseconds")
    return round(ms) / 1000


_RFC3339_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def parse_time(text: str, now: float) -> float:
    """Unix seconds from an RFC 3339 date-time, Unix seconds, ``now`` or ``now``-relative text.

    Accepted: ``2026-01-02T03:04:05Z`` (or with an offset such as ``+02:00``;
    a date-time without one is refused rather than guessed), ``1767323045`` or
    ``1767323045.5``, ``now``, and ``-7d``/``now-7d`` (any duration :func:`parse_step`
    accepts, before ``now``).
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("empty time")
    from_now = cleaned.lower().startswith("now")
    relative = cleaned[3:].lstrip() if from_now else cleaned
    if not relative:
        return now
    if from_now or relative.startswith("-"):
        if not relative.startswith("-"):
            raise ValueError(f"not a time: {text!r} (a relative time is now-DURATION or -DURATION)")
        try:
            return now - parse_step(relative[1:])
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from exc
    if _RFC3339_DATE.match(cleaned):
        try:
            when = datetime.fromisoformat(cleaned.upper())
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 date-time: {text!r}") from exc
        if when.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone: add Z or an offset such as +02:00")
        return when.timestamp()
    try:
        seconds = float(cleaned)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use RFC 3339 such as 2026-01-02T03:04:05Z, "
            "Unix seconds, now, or a relative time such as -7d)"
        ) from None
    if not math.isfinite(seconds):
        raise ValueError(f"not a time: {text!r}")
    return seconds


def grid_points(start: float, end: float, step: float) -> int:
    """How many points per series a ``query_range`` from ``start`` to ``end`` has."""
    start_ms, end_ms, step_ms = _ms(start), _ms(end), _ms(step)
    return 0 if end_ms < start_ms else (end_ms - start_ms) // step_ms + 1


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")
_NAME_MAX = 120  # characters of label text; the hash and extension follow


def plot_filename(labels: Mapping[str, str]) -> str:
    """A deterministic, filesystem-safe PNG name for a series, e.g. ``up,job=api-1a2b3c4d5e6f.png``.

    The readable part keeps letters, digits and ``._=,+-`` of the name and
    label values (anything else becomes ``_``, at most 120 characters). The
    suffix is a hash of the exact labels in lower-case hex, so two series never
    share a name, not even on a case-insensitive filesystem, however alike
    their readable parts are.
    """
    parts = [labels["__name__"]] if labels.get("__name__") else []
    parts += [f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__"]
    readable = _UNSAFE.sub("_", ",".join(parts))[:_NAME_MAX].lstrip(".-") or "series"
    exact = json.dumps(sorted(labels.items()), ensure_ascii=False).encode()
    return f"{readable}-{hashlib.sha256(exact).hexdigest()[:12]}.png"


def plot_filenames(series: Sequence[Mapping[str, str]]) -> list[str]:
    """:func:`plot_filename` for each series, made unique (case-insensitively) by a counter.

    Different labels give different hashes; the counter only guards against a
    12-hex-digit hash collision, in the order given.
    """
    names: list[str] = []
    seen: set[str] = set()
    for labels in series:
        name = plot_filename(labels)
        stem, n = name.removesuffix(".png"), 1
        while name.lower() in seen:
            n += 1
            name = f"{stem}-{n}.png"
        seen.add(name.lower())
        names.append(name)
    return names


@dataclass(frozen=True)
class PromSeries:
    """One series of a range query: its labels and a frame to :func:`run`."""

    labels: dict[str, str]
    frame: pd.DataFrame

    @property
    def name(self) -> str:
        return format_labels(self.labels)


def read_prometheus(
    url: str,
    query: str,
    start: float,
    end: float,
    step: float,
    timeout: float = 60.0,
) -> list[PromSeries]:
    """Every series of a range query, each on the full grid ``start, start+step, ... <= end``.

    Ranges of more than :data:`PROMETHEUS_MAX_POINTS` points per series are
    read in consecutive requests on the same grid and joined. A grid point
    without a value (a gap, a stale series, a NaN or infinite sample, a series
    that starts late or ends early) is a NaN row: it scores 0 and teaches the
    detector nothing, so the other rows score exactly as the service would
    score the points it reads. Series are sorted by :func:`format_labels`.
    Prometheus errors, and answers that do not follow its API, raise
    :class:`~sloplane.clients.prometheus.PrometheusError`.
    """
    from sloplane.clients.prometheus import PrometheusClient

    start_ms, step_ms = _ms(start), _ms(step)
    if step_ms <= 0:
        raise ValueError(f"step must be at least 1ms, got {step}s")
    n = grid_points(start, end, step)
    client = PrometheusClient(url, timeout, reject_warnings=True)
    values: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
    for first in range(0, n, PROMETHEUS_MAX_POINTS):
        last = min(n, first + PROMETHEUS_MAX_POINTS) - 1
        chunk = client.range(
            query,
            (start_ms + first * step_ms) / 1000,
            (start_ms + last * step_ms) / 1000,
            step_ms / 1000,
        )
        for rs in chunk:
            key = tuple(sorted(rs.labels.items()))
            column = values.get(key)
            if column is None:
                column = values[key] = np.full(n, math.nan)
            for t, v in rs.finite().points:  # a NaN or infinite sample stays a gap
                offset = _ms(t) - start_ms
                if offset % step_ms == 0 and 0 <= offset // step_ms < n:
                    column[offset // step_ms] = v
    epoch = (start_ms + step_ms * np.arange(n, dtype=np.int64)) / 1000
    timestamps = pd.to_datetime(epoch, unit="s", utc=True).astype(str)
    out = [
        PromSeries(
            dict(key),
            pd.DataFrame({"timestamp": timestamps, "value": column, "epoch": epoch}),
        )
        for key, column in values.items()
    ]
    return sorted(out, key=lambda s: s.name)


def from_prometheus(
    url: str, query: str, start: float, end: float, step: float
) -> dict[str, pd.DataFrame]:
    """One frame per series of a Prometheus range query, keyed by :func:`format_labels`.

    See :func:`read_prometheus` for gaps, NaN and long ranges.
    """
    return {s.name: s.frame for s in read_prometheus(url, query, start, end, step)}


def to_epoch(col: pd.Series, where: str = "") -> np.ndarray:
    """Seconds since the epoch (UTC) of a timestamp column of text or numbers."""
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=float)
    try:
        ts = pd.to_datetime(col, utc=True, format="mixed", errors="coerce")
    except (ValueError, TypeError) as exc:
        raise SpecError(
            [Problem(file=where, field="timestamp", message=f"unparseable timestamp: {exc}")]
        ) from exc
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise SpecError(
            [
                Problem(
                    file=where,
                    line=i + _FIRST_DATA_LINE,
                    field="timestamp",
                    message=f"unparseable timestamp {col.iloc[i]!r}",
                )
            ]
        )
    # Subtracting the epoch is exact whatever unit pandas picked (ns in pandas 2,
    # often us in pandas 3); reading the raw integers would not be.
    return ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


#: Points scored between two progress reports, at least (see :func:`run`).
PROGRESS_EVERY = 20_000


def run(
    df: pd.DataFrame,
    detector: str = "ensemble",
    params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every row of ``df`` (columns ``epoch`` and ``value``) with a fresh detector.

    Scored in consecutive slices, which gives the same scores as one batch (detectors
    are streaming), so ``progress(done, total)`` can be told after each; at most about
    20 reports per series, none for one slice.
    """
    det = make_detector(detector, **dict(params or {}))
    t, x = df["epoch"].to_numpy(), df["value"].to_numpy()
    scores = np.empty(len(x), dtype=float)
    every = max(PROGRESS_EVERY, -(-len(x) // 20))
    for lo in range(0, len(x), every):
        hi = min(lo + every, len(x))
        scores[lo:hi] = det.score_many(t[lo:hi], x[lo:hi])
        if progress is not None and every < len(x):
            progress(hi, len(x))
    out = df.copy()
    out["anomaly_score"] = scores
    return out


def flagged(scored: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Rows whose score reaches ``threshold``."""
    return scored[scored["anomaly_score"] >= threshold]


def plot(scored: pd.DataFrame, threshold: float, path: str | Path, title: str = "") -> None:
    """Values with flagged points marked, and scores with the threshold, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = pd.to_datetime(scored["epoch"], unit="s", utc=True)
    hit = scored["anomaly_score"].to_numpy() >= threshold
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(12, 6))
    ax1.plot(x, scored["value"], lw=0.7, color="tab:blue")
    ax1.scatter(x[hit], scored["value"][hit], color="tab:red", s=12, zorder=3, label="flagged")
    ax1.set_ylabel("value")
    ax1.legend(loc="upper left")
    ax2.plot(x, scored["anomaly_score"], lw=0.7, color="tab:purple")
    ax2.axhline(threshold, color="tab:red", ls="--", lw=0.8)
    ax2.set_ylim(-0.02, 1.02)  # a score of 0 stays visible above the axis
    ax2.set_ylabel("anomaly score")
    if title:
        ax1.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
