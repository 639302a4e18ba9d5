"""``sloplane alertmanager``: look at and silence alerts through AlertManager's API v2."""

from __future__ import annotations

import datetime as dt
import json

import click

from sloplane.clients.alertmanager import AlertmanagerClient, Matcher
from sloplane.errors import SloplaneError
from sloplane.slo.durations import DurationError, parse_duration

_URL = click.option(
    "--alertmanager-url",
    "url",
    envvar="SLOPLANE_ALERTMANAGER_URL",
    default="http://127.0.0.1:9093",
    show_default=True,
    help="AlertManager base URL (env SLOPLANE_ALERTMANAGER_URL).",
)


@click.group()
def alertmanager() -> None:
    """Inspect alerts and manage silences in AlertManager."""


@alertmanager.command("alerts")
@_URL
@click.argument("matchers", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def list_alerts(url: str, matchers: tuple[str, ...], as_json: bool) -> None:
    """List alerts, optionally filtered by MATCHERS like severity=page or sloplane_id=~"api-.*"."""
    with AlertmanagerClient(url) as client:
        alerts = client.alerts([Matcher.parse(m) for m in matchers])
    if as_json:
        click.echo(json.dumps(alerts, indent=2, sort_keys=True))
        return
    for alert in sorted(alerts, key=lambda a: (a["labels"].get("alertname", ""), a["fingerprint"])):
        labels = alert["labels"]
        state = alert.get("status", {}).get("state", "?")
        summary = alert.get("annotations", {}).get("summary", "")
        click.echo(
            f"{state:<11} {labels.get('alertname', '')} {labels.get('severity', '')} {summary}"
        )
    if not alerts:
        click.echo("no alerts")


@alertmanager.group("silence")
def silence() -> None:
    """Create, list and expire silences."""


@silence.command("add")
@_URL
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", default="1h", show_default=True, help="How long, e.g. 2h or 30m.")
@click.option("--comment", required=True, help="Why (shown to everyone who sees the silence).")
@click.option("--author", default="sloplane", show_default=True)
def silence_add(
    url: str, matchers: tuple[str, ...], duration: str, comment: str, author: str
) -> None:
    """Silence alerts matching MATCHERS; prints the silence id."""
    try:
        seconds = parse_duration(duration)
    except DurationError as exc:
        raise SloplaneError(str(exc)) from None
    with AlertmanagerClient(url) as client:
        silence_id = client.create_silence(
            [Matcher.parse(m) for m in matchers], dt.timedelta(seconds=seconds), comment, author
        )
    click.echo(silence_id)


@silence.command("list")
@_URL
def silence_list(url: str) -> None:
    """List silences that are active or pending."""
    with AlertmanagerClient(url) as client:
        silences = client.silences()
    for s in sorted(silences, key=lambda s: s["id"]):
        if s["status"]["state"] == "expired":
            continue
        matchers = ",".join(
            str(Matcher(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)))
            for m in s["matchers"]
        )
        click.echo(
            f"{s['id']} {s['status']['state']} until {s['endsAt']} {matchers} {s['comment']}"
        )


@silence.command("expire")
@_URL
@click.argument("silence_id")
def silence_expire(url: str, silence_id: str) -> None:
    """Expire the silence SILENCE_ID now."""
    with AlertmanagerClient(url) as client:
        client.expire_silence(silence_id)
    click.echo(f"expired {silence_id}")
