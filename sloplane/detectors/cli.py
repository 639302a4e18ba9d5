"""``sloplane detect``: score a CSV, back-test with a plot, or run the detector service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sloplane.errors import SloplaneError


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


def _run(run: Any, df: Any, detector: str, params: dict[str, object]) -> Any:
    """Score with option names in errors: ``--params.warmup: ...``, ``--detector: ...``."""
    from sloplane.detectors.detectors import DetectorError

    try:
        return run(df, detector, params)
    except DetectorError as exc:
        raise SloplaneError(f"--{exc.field}: {exc.message}") from exc


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


@detect.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detector", default="ensemble", show_default=True)
@click.option("--params", default=None, help="Detector parameters as a JSON object.")
@click.option("--threshold", type=float, default=0.55, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def backtest(
    file: Path, detector: str, params: str | None, threshold: float, plot_path: Path | None
) -> None:
    """Back-test a detector on a CSV: list flagged points, optionally plot them."""
    from sloplane.detectors.backtest import flagged, plot, run

    scored = _run(run, _read(file), detector, _params(params))
    hits = flagged(scored, threshold)
    click.echo(f"{len(hits)} of {len(scored)} points at or above {threshold}")
    for _, row in hits.iterrows():
        click.echo(f"{row['timestamp']},{row['value']},{row['anomaly_score']:.6f}")
    if plot_path is not None:
        plot(scored, threshold, plot_path, title=f"{file.name} ({detector})")
        click.echo(f"plot written to {plot_path}")


@detect.command()
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="debug also shows every scheduler run and Prometheus request.",
)
def serve(config_path: Path, log_level: str) -> None:
    """Run the detector service: watch queries, alert, and act through guarded hooks."""
    from sloplane.detectors.config import load_config
    from sloplane.detectors.service import run_service

    run_service(load_config(config_path), log_level)
