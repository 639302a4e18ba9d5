"""``sloplane serve`` (the SLO API) and ``sloplane report`` (one weekly report, now)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import click

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


slos_option = click.option(
    "--slos",
    "slos",
    multiple=True,
    required=True,
    type=click.Path(exists=True),
    help="SLO definition files or directories (the same inputs as `sloplane generate`).",
)
prom_option = click.option(
    "--prometheus-url",
    envvar="SLOPLANE_PROMETHEUS_URL",
    required=True,
    help="Any Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics).",
)
db_option = click.option(
    "--database-url",
    envvar="SLOPLANE_DATABASE_URL",
    default="sqlite:///sloplane.db",
    show_default=True,
    help="SQLAlchemy URL; e.g. postgresql://user@host/db.",
)
tz_option = click.option(
    "--timezone", "tz", default="UTC", show_default=True, help="Report timezone."
)


def delivery_options(f: click.decorators.FC) -> click.decorators.FC:
    for opt in reversed(
        [
            click.option(
                "--slack-webhook", envvar="SLOPLANE_SLACK_WEBHOOK", help="Post a summary here."
            ),
            click.option("--link-base", help="Public base URL of the API, for links in messages."),
            click.option(
                "--smtp-host", envvar="SLOPLANE_SMTP_HOST", help="Send the report by email."
            ),
            click.option("--smtp-port", default=25, show_default=True, type=int),
            click.option("--smtp-from", default="sloplane@localhost", show_default=True),
            click.option("--email-to", multiple=True, help="Recipient (repeatable)."),
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
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--open-reads", is_flag=True, help="Allow reads without a token (admin still needs one)."
)
@click.option(
    "--cache-ttl",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds a Prometheus answer is reused.",
)
@click.option("--query-timeout", default=5.0, show_default=True, type=float)
@click.option(
    "--max-concurrency",
    default=8,
    show_default=True,
    type=int,
    help="Queries in flight to Prometheus.",
)
@click.option(
    "--report-schedule",
    default="mon 09:00",
    show_default=True,
    help="Weekly report time, or 'off'.",
)
@click.option(
    "--report-scope",
    "report_scopes",
    multiple=True,
    default=("all",),
    show_default=True,
    help="all, teams (one per team), team:<name> or service:<name>; repeatable.",
)
@click.option(
    "--report-dir", type=click.Path(file_okay=False), help="Also write scheduled reports here."
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
    """Serve the SLO API. Admin token: set SLOPLANE_ADMIN_TOKEN (stored hashed)."""
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
    uvicorn.run(create_app(catalog, settings), host=host, port=port, log_level="info")


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
    from sloplane.api.db import open_database
    from sloplane.api.prometheus import PromClient
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
        client = PromClient(prometheus_url, timeout=30, cache_ttl=0, max_concurrency=4)
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
