"""``sloplane serve``: the SLO API, its weekly report schedule and its database."""

from __future__ import annotations

import os
import socket

import click

from sloplane.cli_options import db_option, env_option, load, prom_option, slos_option
from sloplane.errors import SloplaneError
from sloplane.listen import format_listen
from sloplane.reports.cli import delivery_from, delivery_options, tz_option
from sloplane.reports.scheduler import Schedule


@click.command()
@slos_option
@prom_option
@db_option
@env_option("--host", envvar="SLOPLANE_HOST", default="127.0.0.1", show_default=True)
@env_option(
    "--port",
    envvar="SLOPLANE_PORT",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port; the address is printed at startup.",
)
@env_option(
    "--open-reads",
    envvar="SLOPLANE_OPEN_READS",
    is_flag=True,
    help="Allow reads without a token (admin still needs one).",
)
@env_option(
    "--cache-ttl",
    envvar="SLOPLANE_CACHE_TTL",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds a Prometheus answer is reused.",
)
@env_option(
    "--status-max-age",
    envvar="SLOPLANE_STATUS_MAX_AGE",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a status may be served while its background refresh runs; an older "
    "one is never served (the request waits).",
)
@env_option(
    "--query-timeout",
    envvar="SLOPLANE_QUERY_TIMEOUT",
    default=5.0,
    show_default=True,
    type=float,
)
@env_option(
    "--max-concurrency",
    envvar="SLOPLANE_MAX_CONCURRENCY",
    default=8,
    show_default=True,
    type=int,
    help="Queries in flight to Prometheus.",
)
@env_option(
    "--report-schedule",
    envvar="SLOPLANE_REPORT_SCHEDULE",
    default="mon 09:00",
    show_default=True,
    help="Weekly report time, or 'off'.",
)
@env_option(
    "--report-scope",
    "report_scopes",
    envvar="SLOPLANE_REPORT_SCOPE",
    multiple=True,
    default=("all",),
    show_default=True,
    help="all, teams (one per team), team:<name> or service:<name>; repeatable.",
)
@env_option(
    "--report-dir",
    envvar="SLOPLANE_REPORT_DIR",
    type=click.Path(file_okay=False),
    help="Also write scheduled reports here.",
)
@tz_option
@delivery_options
def serve(
    slos: tuple[str, ...],
    prometheus_url: str,
    database_url: str,
    host: str,
    port: int,
    open_reads: bool,
    cache_ttl: float,
    status_max_age: float,
    query_timeout: float,
    max_concurrency: int,
    report_schedule: str,
    report_scopes: tuple[str, ...],
    report_dir: str | None,
    tz: str,
    **delivery: object,
) -> None:
    """Serve the SLO API. Admin token: set SLOPLANE_ADMIN_TOKEN (stored hashed).

    Every option can also be set by the environment variable shown next to it.
    """
    import uvicorn

    from sloplane.api.app import create_app
    from sloplane.api.settings import ApiSettings
    from sloplane.database import open_checked

    catalog = load(slos)
    try:
        schedule = None if report_schedule == "off" else Schedule.parse(report_schedule, tz)
    except (ValueError, KeyError) as exc:
        raise SloplaneError(str(exc)) from None
    settings = ApiSettings(
        prometheus_url=prometheus_url,
        database_url=database_url,
        open_reads=open_reads,
        admin_token=os.environ.get("SLOPLANE_ADMIN_TOKEN") or None,
        cache_ttl=cache_ttl,
        status_max_age=status_max_age,
        query_timeout=query_timeout,
        max_concurrency=max_concurrency,
        schedule=schedule,
        report_scopes=report_scopes,
        delivery=delivery_from(report_dir, **delivery),
    )
    if not open_reads and not settings.admin_token:
        click.echo(
            "note: reads need a token; set SLOPLANE_ADMIN_TOKEN or pass --open-reads", err=True
        )
    sessions = open_checked(database_url, settings.db_deadline)  # every later wait ends too
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    # The address actually bound (--port 0 picks a free port), before uvicorn's own log.
    click.echo(
        f"sloplane: SLO API listening on http://{format_listen(bound_host, bound_port)} "
        "(OpenAPI at /docs, web console at /ui/)",
        err=True,
    )
    config = uvicorn.Config(
        create_app(catalog, settings, sessions=sessions),
        host=host,
        port=bound_port,
        log_level="info",
    )
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn: a port in use becomes one line and exit 1."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SloplaneError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
