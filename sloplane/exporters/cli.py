"""``sloplane exporter``: serve /metrics and /probe for the targets in exporters.yaml."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click
from prometheus_client.exposition import generate_latest

from sloplane import logs
from sloplane.cli_options import file_option, log_level_option
from sloplane.errors import SloplaneError
from sloplane.exporters.config import load_config
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.server import ExporterServer
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
    # pika logs ERRORs with tracebacks for every refused connection and warns on every
    # passive declare of a missing queue; the metrics and our one WARNING line say it.
    logs.configure(log_level, quiet=("httpx", "httpcore"), silent=("pika",))
    config = load_config(config_path)
    app = Exporter(config)
    if once:
        try:
            sys.stdout.write(generate_latest(app.metrics()).decode())
        finally:
            app.close()
        return
    try:
        address = parse_listen(listen or config.listen)
    except ValueError as exc:  # only --listen can be bad here: the config's was validated
        raise SloplaneError(f"--listen: {exc}") from exc
    try:
        server = ExporterServer(address, app)
    except OSError as exc:
        app.close()
        raise SloplaneError(f"cannot listen on {address[0]}:{address[1]}: {exc}") from exc

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"sloplane exporter listening on {server.url}", err=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.close()
