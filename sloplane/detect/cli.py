"""``sloplane detect``: score a CSV, back-test with a plot, or run the detector service."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sloplane.cli_options import file_option, log_level_option
from sloplane.errors import SloplaneError

DEFAULT_MAX_POINTS = 1_000_000
"""Points per series a Prometheus back-test reads unless ``--max-points`` says otherwise."""


def _params(raw: str | None) -> dict[str, object]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SloplaneError(f"--params is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SloplaneError("--params must be a JSON object")
    return value


def _option_error(detector: str, exc: Any) -> SloplaneError:
    """A :class:`DetectorError` in option names: ``--params.warmup: ...``, ``--detector: ...``,
    with "did you mean" for a misspelt parameter, as ``detect.yaml`` has."""
    from sloplane.detect.config import detector_message

    return SloplaneError(f"--{exc.field}: {detector_message(detector, exc.field, exc.message)}")


def _run(run: Any, df: Any, detector: str, params: dict[str, object], what: str = "") -> Any:
    """Score with option names in errors (:func:`_option_error`).

    A long series reports its progress on stderr, so stdout stays the scores alone.
    """
    from sloplane.detectors.detectors import DetectorError

    def progress(done: int, total: int) -> None:
        prefix = f"{what}: " if what else ""
        click.echo(f"sloplane: {prefix}scored {done:,} of {total:,} points", err=True)

    try:
        return run(df, detector, params, progress=progress)
    except DetectorError as exc:
        raise _option_error(detector, exc) from exc


def _read(file: Path) -> Any:
    """The CSV as a frame; out-of-order timestamps are a warning on stderr, not an error."""
    from sloplane.detectors.backtest import order_warnings, read_series

    df = read_series(file)
    for problem in order_warnings(df, str(file)):
        click.echo(f"warning: {problem}", err=True)
    return df


@click.group()
def detect() -> None:
    """Anomaly detection: score series, back-test, run the detector service."""


@detect.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--detector", "detector", default="ensemble", show_default=True, help="Detector name."
)
@click.option("--params", default=None, help="Detector parameters as a JSON object.")
def score(file: Path, detector: str, params: str | None) -> None:
    """Score a NAB-style CSV (timestamp,value); print timestamp,value,anomaly_score."""
    from sloplane.detectors.backtest import run

    df = _read(file)
    scored = _run(run, df, detector, _params(params))
    out = sys.stdout
    out.write("timestamp,value,anomaly_score\n")
    for ts, val, s in zip(
        scored["timestamp"], scored["raw_value"], scored["anomaly_score"], strict=True
    ):
        out.write(f"{ts},{val},{s:.6f}\n")


_PROMETHEUS_OPTIONS = ("--query", "--start", "--end", "--step", "--timeout", "--max-points")


@detect.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detector", default="ensemble", show_default=True)
@click.option("--params", default=None, help="Detector parameters as a JSON object.")
@click.option("--threshold", type=float, default=0.55, show_default=True)
@file_option("--plot", "plot_path", help="PNG of values, flagged points and scores (with FILE).")
@click.option(
    "--prometheus-url",
    default=None,
    help="Back-test a range query on this Prometheus (or compatible API) instead of FILE.",
)
@click.option("--query", default=None, help="PromQL; every series it selects is back-tested.")
@click.option(
    "--start", default=None, help="RFC 3339 (2026-01-02T03:04:05Z), Unix seconds, or -7d."
)
@click.option("--end", default=None, help="Like --start; default now.")
@click.option("--step", default=None, help="Resolution, e.g. 30s, 5m, 1h.")
@click.option("--timeout", default=None, help="Per Prometheus request, e.g. 30s (default 60s).")
@click.option(
    "--max-points",
    type=click.IntRange(min=1),
    default=None,
    help=f"Most points per series to read (default {DEFAULT_MAX_POINTS:,}).",
)
@click.option(
    "--plot-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one PNG per series here (with --prometheus-url).",
)
def backtest(
    file: Path | None,
    detector: str,
    params: str | None,
    threshold: float,
    plot_path: Path | None,
    prometheus_url: str | None,
    query: str | None,
    start: str | None,
    end: str | None,
    step: str | None,
    timeout: str | None,
    max_points: int | None,
    plot_dir: Path | None,
) -> None:
    """Back-test a detector on FILE (a timestamp,value CSV) or on a Prometheus range.

    With --prometheus-url, --query, --start and --step, each series the query
    selects gets its own detector, as in `detect serve`; its labels and flagged
    points are printed, and --plot-dir gets one PNG per series.
    """
    given = {
        "--query": query,
        "--start": start,
        "--end": end,
        "--step": step,
        "--timeout": timeout,
        "--max-points": max_points,
    }
    if file is not None and prometheus_url is not None:
        raise SloplaneError("give FILE or --prometheus-url, not both")
    if file is None and prometheus_url is None:
        raise SloplaneError("give a CSV FILE or --prometheus-url (with --query, --start, --step)")
    if file is not None:
        extra = [name for name in _PROMETHEUS_OPTIONS if given[name] is not None]
        if plot_dir is not None:
            extra.append("--plot-dir")
        if extra:
            raise SloplaneError(f"{extra[0]} needs --prometheus-url (with FILE use --plot PNG)")
        _backtest_file(file, detector, _params(params), threshold, plot_path)
        return
    assert prometheus_url is not None
    if plot_path is not None:
        raise SloplaneError("--plot writes one file; with --prometheus-url use --plot-dir DIR")
    missing = [name for name in ("--query", "--start", "--step") if given[name] is None]
    if missing:
        raise SloplaneError(f"--prometheus-url needs {', '.join(missing)}")
    assert query is not None and start is not None and step is not None
    _backtest_prometheus(
        prometheus_url,
        query,
        start,
        end or "now",
        step,
        timeout or "60s",
        max_points or DEFAULT_MAX_POINTS,
        detector,
        _params(params),
        threshold,
        plot_dir,
    )


def _backtest_file(
    file: Path,
    detector: str,
    params: dict[str, object],
    threshold: float,
    plot_path: Path | None,
) -> None:
    from sloplane.detectors.backtest import flagged, plot, run

    if plot_path is not None and not plot_path.parent.is_dir():  # before minutes of scoring
        raise SloplaneError(f"--plot: cannot write {plot_path}: no directory {plot_path.parent}")
    scored = _run(run, _read(file), detector, params)
    hits = flagged(scored, threshold)
    click.echo(f"{len(hits)} of {len(scored)} points at or above {threshold}")
    for _, row in hits.iterrows():
        click.echo(f"{row['timestamp']},{row['value']},{row['anomaly_score']:.6f}")
    if plot_path is not None:
        try:
            plot(scored, threshold, plot_path, title=f"{file.name} ({detector})")
        except OSError as exc:
            raise SloplaneError(f"--plot: cannot write {plot_path}: {exc.strerror or exc}") from exc
        click.echo(f"plot written to {plot_path}")


def _option_value(option: str, parse: Callable[[str], float], text: str) -> float:
    try:
        return parse(text)
    except ValueError as exc:
        raise SloplaneError(f"{option}: {exc}") from exc


def _backtest_prometheus(
    url: str,
    query: str,
    start_text: str,
    end_text: str,
    step_text: str,
    timeout_text: str,
    max_points: int,
    detector: str,
    params: dict[str, object],
    threshold: float,
    plot_dir: Path | None,
) -> None:
    import httpx

    from sloplane.clients.prometheus import PrometheusError
    from sloplane.detectors.backtest import (
        flagged,
        grid_points,
        parse_step,
        parse_time,
        plot,
        plot_filenames,
        read_prometheus,
        run,
    )
    from sloplane.detectors.detectors import DetectorError, make_detector

    now = float(int(time.time()))  # one "now" for --start and --end
    start = _option_value("--start", lambda t: parse_time(t, now), start_text)
    end = _option_value("--end", lambda t: parse_time(t, now), end_text)
    step = _option_value("--step", parse_step, step_text)
    timeout = _option_value("--timeout", parse_step, timeout_text)
    if end < start:
        raise SloplaneError(f"--start {start_text} is after --end {end_text}")
    points = grid_points(start, end, step)
    if points > max_points:
        raise SloplaneError(
            f"{start_text} to {end_text} at step {step_text} is {points:,} points per series, "
            f"more than --max-points {max_points:,}: use a larger --step or a shorter range"
        )
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as exc:
        raise SloplaneError(f"--prometheus-url: {url!r}: {exc}") from exc
    if scheme not in ("http", "https"):
        raise SloplaneError(f"--prometheus-url: {url!r} is not an http:// or https:// URL")
    try:  # a wrong --detector or --params is reported before Prometheus is asked
        make_detector(detector, **params)
    except DetectorError as exc:
        raise _option_error(detector, exc) from exc

    try:
        series = read_prometheus(url, query, start, end, step, timeout=timeout)
    except PrometheusError as exc:  # one line, whatever Prometheus put in its error text
        raise SloplaneError("prometheus " + " ".join(str(exc).split())) from exc
    span = f"between {_iso(start)} and {_iso(end)}"
    if not series:
        raise SloplaneError(f"query {query!r} returned no series {span}")
    click.echo(f"{len(series)} series {span} at step {step_text}, {points} points each")
    names = plot_filenames([s.labels for s in series]) if plot_dir is not None else []
    if plot_dir is not None:
        try:
            plot_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SloplaneError(f"--plot-dir: cannot create {plot_dir}: {exc}") from exc
    for i, s in enumerate(series):
        scored = _run(run, s.frame, detector, params, s.name)
        hits = flagged(scored, threshold)
        missing = int(scored["value"].isna().sum())
        gaps = f" ({missing} without a value)" if missing else ""
        click.echo(f"{s.name}: {len(hits)} of {len(scored)} points at or above {threshold}{gaps}")
        for _, row in hits.iterrows():
            click.echo(f"  {row['timestamp']},{row['value']},{row['anomaly_score']:.6f}")
        if plot_dir is not None:
            path = plot_dir / names[i]
            try:
                plot(scored, threshold, path, title=f"{s.name} ({detector})")
            except OSError as exc:
                raise SloplaneError(f"cannot write {path}: {exc}") from exc
            click.echo(f"  plot written to {path}")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@detect.command()
@file_option("--out", "out", help="Write the JSON here instead of stdout.")
def dashboard(out: Path | None) -> None:
    """The Grafana dashboard of `detect serve` (no SLO files needed); same as `generate` writes."""
    from sloplane.dashboards.detectors import detectors_dashboard
    from sloplane.dashboards.render import to_json

    text = to_json(detectors_dashboard())
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise SloplaneError(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"dashboard written to {out}", err=True)


@detect.command()
@file_option("--config", "config_path", required=True)
@log_level_option(help="debug also shows every scheduler run and Prometheus request.")
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Score only the series whose hashmod (as Prometheus' hashmod relabelling) is I "
    "of N replicas; overrides the file's shard.",
)
def serve(config_path: Path, log_level: str, shard: str | None) -> None:
    """Run the detector service: watch queries, alert, and act through guarded hooks."""
    from sloplane.detect.config import load_config
    from sloplane.detect.service import run_service
    from sloplane.detect.shard import parse_shard

    config = load_config(config_path)
    if shard is not None:
        try:
            config = config.model_copy(update={"shard": str(parse_shard(shard))})
        except ValueError as exc:
            raise SloplaneError(f"--shard: {exc}") from exc
    try:
        run_service(config, log_level)
    except SloplaneError as exc:  # start-up failures: the database, the listener, the token
        raise SloplaneError(f"{config_path}: {exc}") from exc
