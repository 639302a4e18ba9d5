"""``sloplane serve`` (the SLO API) and ``sloplane report`` (one weekly report, now)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import click
from click.decorators import FC
from sqlalchemy.orm import Session, sessionmaker

from sloplane.errors import SloplaneError
from sloplane.reports.deliver import Delivery
from sloplane.reports.scheduler import Schedule
from sloplane.slo.catalog import Catalog


def load(paths: tuple[str, ...]) -> Catalog:
    try:
        from sloplane.slo.loaders import load_catalog
    except ImportError as exc:  # pragma: no cover - depends on the state of the tree
        raise SloplaneError(f"SLO loaders are not available: {exc}") from None
    return load_catalog([Path(p) for p in paths])  # type: ignore[no-any-return,unused-ignore]


def env_option(*decls: str, envvar: str, **kw: Any) -> Callable[[FC], FC]:
    """An option that also reads ``envvar`` and says so in ``--help``: settings and secrets
    (webhooks, database passwords) can come from the environment instead of argv."""
    return click.option(*decls, envvar=envvar, show_envvar=True, **kw)


# No exists=True: the loader reports a missing path as one problem line (exit 1) next to
# every other problem, as `sloplane validate` does; click would print a usage block, exit 2.
slos_option = env_option(
    "--slos",
    "slos",
    envvar="SLOPLANE_SLOS",
    multiple=True,
    required=True,
    type=click.Path(),
    help="SLO definition files or directories (the same inputs as `sloplane generate`).",
)
prom_option = env_option(
    "--prometheus-url",
    envvar="SLOPLANE_PROMETHEUS_URL",
    required=True,
    help="Any Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics).",
)
db_option = env_option(
    "--database-url",
    envvar="SLOPLANE_DATABASE_URL",
    default="sqlite:///sloplane.db",
    show_default=True,
    help="SQLAlchemy URL; e.g. postgresql://user@host/db.",
)
tz_option = env_option(
    "--timezone",
    "tz",
    envvar="SLOPLANE_TIMEZONE",
    default="UTC",
    show_default=True,
    help="Report timezone.",
)


def delivery_options(f: FC) -> FC:
    for opt in reversed(
        [
            env_option(
                "--slack-webhook", envvar="SLOPLANE_SLACK_WEBHOOK", help="Post a summary here."
            ),
            env_option(
                "--link-base",
                envvar="SLOPLANE_LINK_BASE",
                help="Public base URL of the API, for links in messages.",
            ),
            env_option(
                "--smtp-host", envvar="SLOPLANE_SMTP_HOST", help="Send the report by email."
            ),
            env_option(
                "--smtp-port", envvar="SLOPLANE_SMTP_PORT", default=25, show_default=True, type=int
            ),
            env_option(
                "--smtp-from",
                envvar="SLOPLANE_SMTP_FROM",
                default="sloplane@localhost",
                show_default=True,
            ),
            env_option(
                "--email-to",
                envvar="SLOPLANE_EMAIL_TO",
                multiple=True,
                help="Recipient (repeatable; space-separated in the variable).",
            ),
        ]
    ):
        f = opt(f)
    return f


def _delivery(out: str | None, **kw: object) -> Delivery:
    return Delivery(
        out_dir=Path(out) if out else None,
        slack_webhook=kw.get("slack_webhook") or None,  # type: ignore[arg-type]
        link_base=kw.get("link_base") or None,  # type: ignore[arg-type]
        smtp_host=kw.get("smtp_host") or None,  # type: ignore[arg-type]
        smtp_port=int(kw.get("smtp_port") or 25),  # type: ignore[call-overload]
        smtp_from=str(kw.get("smtp_from") or "sloplane@localhost"),
        smtp_to=tuple(kw.get("email_to") or ()),  # type: ignore[arg-type]
    )


@click.command()
@slos_option
@prom_option
@db_option
@env_option("--host", envvar="SLOPLANE_HOST", default="127.0.0.1", show_default=True)
@env_option("--port", envvar="SLOPLANE_PORT", default=8080, show_default=True, type=int)
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
        query_timeout=query_timeout,
        max_concurrency=max_concurrency,
        schedule=schedule,
        report_scopes=report_scopes,
        delivery=_delivery(report_dir, **delivery),
    )
    if not open_reads and not settings.admin_token:
        click.echo(
            "note: reads need a token; set SLOPLANE_ADMIN_TOKEN or pass --open-reads", err=True
        )
    sessions = _open_database(database_url)
    sock = _listen(host, port)
    config = uvicorn.Config(
        create_app(catalog, settings, sessions=sessions), host=host, port=port, log_level="info"
    )
    uvicorn.Server(config).run(sockets=[sock])


def _open_database(url: str) -> sessionmaker[Session]:
    """Open and migrate before serving, so an unreachable database is one line, not a
    traceback from the server's startup."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from sloplane.api.db import open_database

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise SloplaneError(f"database {url.split('@')[-1]}: not a database URL") from None
    try:
        return open_database(url)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise SloplaneError(f"database {shown}: {reason}") from None
    except OSError as exc:
        raise SloplaneError(f"database {shown}: {exc.strerror or exc}") from None


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


@click.command()
@slos_option
@prom_option
@click.option("--week", required=True, help="ISO week, e.g. 2026-W47.")
@click.option(
    "--scope",
    default="all",
    show_default=True,
    help="all, team:<name> or service:<name>; 'teams' for one report per team.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the HTML, Markdown and JSON files.",
)
@click.option(
    "--database-url",
    envvar="SLOPLANE_DATABASE_URL",
    default=None,
    help="Also store the snapshot here.",
)
@tz_option
@delivery_options
def report(
    slos: tuple[str, ...],
    prometheus_url: str,
    week: str,
    scope: str,
    out: str,
    database_url: str | None,
    tz: str,
    **delivery: object,
) -> None:
    """Produce the weekly SLO report for one week now (idempotent: reruns replace)."""
    from sloplane.api.backend import SharedPrometheus
    from sloplane.api.db import open_database
    from sloplane.reports.collect import ScopeError
    from sloplane.reports.runner import check_request, run_report
    from sloplane.reports.weeks import WeekError, parse_week

    try:
        parse_week(week)
        catalog = load(slos)
        scopes = [f"team:{t}" for t in catalog.teams()] if scope == "teams" else [scope]
        for sc in scopes:
            check_request(catalog, week, sc, tz)
    except (WeekError, ScopeError) as exc:
        raise SloplaneError(str(exc)) from None
    except ZoneInfoNotFoundError:
        raise SloplaneError(f"unknown timezone {tz!r}") from None
    sessions = open_database(database_url) if database_url else None

    async def main() -> None:
        client = SharedPrometheus(prometheus_url, timeout=30, cache_ttl=0, max_concurrency=4)
        try:
            for sc in scopes:
                _, _, paths = await run_report(
                    catalog, client, week, sc, tz, sessions, _delivery(out, **delivery)
                )
                for p in paths:
                    click.echo(str(p))
        finally:
            await client.aclose()

    try:
        asyncio.run(main())
    except ScopeError as exc:
        raise SloplaneError(str(exc)) from None
