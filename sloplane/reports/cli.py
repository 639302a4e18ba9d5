"""``sloplane report``: one weekly report, now (the API's scheduler runs the same job)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import click
from click.decorators import FC

from sloplane.cli_options import env_option, load, prom_option, slos_option
from sloplane.errors import SloplaneError
from sloplane.reports.deliver import Delivery

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


def delivery_from(out: str | None, **kw: object) -> Delivery:
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
    from sloplane.clients.prometheus import AsyncPrometheusClient
    from sloplane.database import open_checked
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
    sessions = open_checked(database_url) if database_url else None

    async def main() -> None:
        client = AsyncPrometheusClient(prometheus_url, timeout=30, max_connections=4)
        try:
            for sc in scopes:
                _, _, paths = await run_report(
                    catalog, client, week, sc, tz, sessions, delivery_from(out, **delivery)
                )
                for p in paths:
                    click.echo(str(p))
        finally:
            await client.aclose()

    try:
        asyncio.run(main())
    except ScopeError as exc:
        raise SloplaneError(str(exc)) from None
