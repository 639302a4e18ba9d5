"""``sloplane exporter``: serve /metrics and /probe for the targets in exporters.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sloplane.cli_options import file_option, log_level_option
from sloplane.errors import SloplaneError
from sloplane.exporters.config import load_config
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.exposition import render_text
from sloplane.exporters.serve import (
    can_hand_off,
    configure_logging,
    hand_off,
    listening_socket,
    serve,
)
from sloplane.listen import parse_listen


@click.command("exporter")
@file_option(
    "--config",
    "config_path",
    required=True,
    help="exporters.yaml: modules (credentials) and targets.",
)
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT, [v6]:PORT or :PORT (loopback; 0.0.0.0:PORT for every IPv4 interface); overrides the config.",
)
@click.option("--once", is_flag=True, help="Print one /metrics exposition to stdout and exit.")
@log_level_option()
def exporter(config_path: Path, listen: str | None, once: bool, log_level: str) -> None:
    """Serve Prometheus metrics for PostgreSQL, Redis, RabbitMQ and HTTP endpoints."""
    configure_logging(log_level)
    config = load_config(config_path)
    if once:
        app = Exporter(config)
        try:
            sys.stdout.write(render_text(app.metrics().collect()).decode())
        finally:
            app.close()
        return
    try:
        address = parse_listen(listen or config.listen)
    except ValueError as exc:  # only --listen can be bad here: the config's was validated
        raise SloplaneError(f"--listen: {exc}") from exc
    try:
        sock = listening_socket(address)
    except OSError as exc:
        raise SloplaneError(f"cannot listen on {address[0]}:{address[1]}: {exc}") from exc
    if can_hand_off():
        hand_off(config, sock, log_level)  # the serving process loads none of the above
    serve(config, sock)
