"""``sloplane backfill --slos PATH --prometheus-url URL --out DIR [--start --end]``."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click
import httpx

from sloplane.errors import SloplaneError
from sloplane.slo.naming import BUCKET, GRID, Labels, coverage_windows


def _progress(message: str) -> None:
    click.echo(f"sloplane: {message}", err=True)


def _time(text: str | None, option: str, default: int) -> int:
    """Unix seconds or RFC 3339 (``2026-12-01T00:00:00Z``)."""
    if text is None:
        return default
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise SloplaneError(
            f"{option} {text!r}: expected Unix seconds or RFC 3339 (2026-12-01T00:00:00Z)"
        ) from None


@click.command()
@click.option(
    "--slos",
    "slos",
    required=True,
    type=click.Path(path_type=Path),
    multiple=True,
    help="SLO definitions (file or directory; repeatable).",
)
@click.option(
    "--prometheus-url", required=True, help="Prometheus (or compatible) holding the raw data."
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Directory for the TSDB blocks."
)
@click.option(
    "--start",
    default=None,
    help="Unix seconds or RFC 3339 (default: end minus the longest window and 2h).",
)
@click.option("--end", default=None, help="Unix seconds or RFC 3339 (default: now).")
@click.option(
    "--step",
    default=60,
    show_default=True,
    type=int,
    help="Seconds between samples: the rules' evaluation interval (must divide 300).",
)
@click.option(
    "--label-mode", type=click.Choice(["sloplane", "sloth"]), default="sloplane", show_default=True
)
@click.option("--max-block-duration", default="24h", show_default=True)
def backfill(
    slos: tuple[Path, ...],
    prometheus_url: str,
    out: Path,
    start: str | None,
    end: str | None,
    step: int,
    label_mode: str,
    max_block_duration: str,
) -> None:
    """Write TSDB blocks of the recorded series for the past window, from the raw data.

    Load them by moving the block directories in OUT into Prometheus' data directory
    (--storage.tsdb.path); Prometheus picks them up within a minute, or at restart.
    """
    from sloplane.backfill.source import query_rates
    from sloplane.backfill.tier import tier_series
    from sloplane.backfill.write import openmetrics, promtool_blocks
    from sloplane.slo.cli import _load
    from sloplane.slo.rules.sli import SliQueries

    if step <= 0 or GRID % step:
        raise SloplaneError(f"--step {step}: must divide 300 (the 5-minute grid), e.g. 60")
    catalog = _load(tuple(slos))
    chosen = [s for s in catalog.slos if coverage_windows(s)]
    if not chosen:
        raise SloplaneError("--slos: no SLO has a window of 6h or more to backfill")
    now = int(time.time()) // step * step
    end_s = _time(end, "--end", now) // step * step
    longest = max(max(coverage_windows(s)) for s in chosen)
    start_s = _time(start, "--start", end_s - longest - 2 * BUCKET) // step * step
    if start_s >= end_s:
        raise SloplaneError(f"--start must be before --end ({start_s} >= {end_s})")
    labels = Labels(label_mode)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    om = out / "backfill.om"
    total_series = 0
    with httpx.Client(timeout=120) as client, om.open("w") as sink:
        writer = openmetrics(sink)
        for i, slo in enumerate(chosen, 1):
            queries = SliQueries(slo.sli, slo.group_by)
            tag = f"[{i}/{len(chosen)}] {slo.id}"
            rates = []
            for what, expr in (("errors", queries.errors(300)), ("total", queries.total(300))):

                def report(done: int, whole: int, what: str = what, tag: str = tag) -> None:
                    _progress(f"{tag}: {what} {done * 100 // whole}%")

                # the grid is read 5 minutes behind, and the tier 2 hours before the start
                first = start_s - 2 * BUCKET - GRID
                rates.append(query_rates(client, prometheus_url, expr, first, end_s, step, report))
            errors, total = rates
            rule_labels = {**slo.labels, **labels.identity(slo)}
            for key, total_samples in total.items():
                series_labels = {**dict(key), **rule_labels}
                for series in tier_series(
                    errors.get(key, {}), total_samples, series_labels, start_s, end_s
                ):
                    writer.write(series)
                    total_series += 1
            _progress(f"[{i}/{len(chosen)}] {slo.id}: {len(total)} label set(s) computed")
        writer.close()
    _progress(f"writing TSDB blocks to {out} (promtool tsdb create-blocks-from openmetrics)")
    promtool_blocks(om, out, max_block_duration)
    om.unlink()
    click.echo(
        f"wrote {total_series} series of {len(chosen)} SLO(s) from {start_s} to {end_s} into {out}; "
        "load them by moving the block directories into Prometheus' --storage.tsdb.path"
    )
