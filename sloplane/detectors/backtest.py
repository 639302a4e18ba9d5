"""pandas back-testing: run a detector over a CSV or a Prometheus range, plot it.

Back-tests use the same causal detectors as the service, fed in one batch:
scores are identical to what the service would have produced point by point.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sloplane.detectors.detectors import make_detector
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


def from_prometheus(
    url: str, query: str, start: float, end: float, step: float
) -> dict[str, pd.DataFrame]:
    """One frame per series of a Prometheus range query, keyed by its labels."""
    from sloplane.detectors.prom import PromClient, series_key

    frames = {}
    for rs in PromClient(url).query_range(query, start, end, step):
        epoch = [t for t, _ in rs.points]
        frames[series_key(rs.labels)] = pd.DataFrame(
            {
                "timestamp": pd.to_datetime(epoch, unit="s", utc=True).astype(str),
                "value": [v for _, v in rs.points],
                "epoch": epoch,
            }
        )
    return frames


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


def run(
    df: pd.DataFrame, detector: str = "ensemble", params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Score every row of ``df`` (columns ``epoch`` and ``value``) with a fresh detector."""
    det = make_detector(detector, **dict(params or {}))
    out = df.copy()
    out["anomaly_score"] = det.score_many(df["epoch"].to_numpy(), df["value"].to_numpy())
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
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("anomaly score")
    if title:
        ax1.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
