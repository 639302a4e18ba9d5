"""The ``AlertRouting`` document: who gets paged and where tickets go, as code.

Secrets (PagerDuty routing keys, Slack webhook URLs) are only ever referenced by
``*_file`` paths, so the generated AlertManager configuration can be committed and
reviewed; the files themselves are mounted next to AlertManager at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sloplane.errors import Problem, SpecError
from sloplane.located import model_error
from sloplane.slo.catalog import Document
from sloplane.slo.durations import DurationError, parse_duration

KIND = "AlertRouting"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
TEAM_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
_TIME_RE = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _duration_text(value: str) -> str:
    try:
        parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    return value


class PagerDuty(_Strict):
    """A PagerDuty Events API v2 integration; the routing key is read from a file."""

    routing_key_file: str
    url: str | None = Field(
        default=None, description="Events API endpoint; defaults to endpoints.pagerduty_url."
    )


class Slack(_Strict):
    """A Slack incoming webhook; the webhook URL (a secret) is read from a file."""

    api_url_file: str
    channel: str | None = None

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("#", "@")):
            raise ValueError("a Slack channel starts with '#' (or '@' for a user)")
        return value


class Team(_Strict):
    """Where one team's alerts go: pages to PagerDuty, tickets to Slack.

    A team with only one of the two gets both severities there.
    """

    pagerduty: PagerDuty | None = None
    slack: Slack | None = None
    tickets_in_business_hours: bool | None = Field(
        default=None, description="Override defaults.tickets_in_business_hours for this team."
    )


class Timing(_Strict):
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"

    @field_validator("group_wait", "group_interval", "repeat_interval")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _duration_text(value)


class Defaults(_Strict):
    group_by: tuple[str, ...] = ()
    page: Timing = Timing(group_wait="30s", group_interval="5m", repeat_interval="1h")
    ticket: Timing = Timing(group_wait="5m", group_interval="30m", repeat_interval="24h")
    tickets_in_business_hours: bool = False
    receiver: Team = Field(
        default_factory=Team,
        description="Where alerts without a known team go; empty means they are dropped.",
    )


class TimeRange(_Strict):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _TIME_RE.match(value):
            raise ValueError(f"{value!r} is not a time of day like 09:00")
        return value


class BusinessHours(_Strict):
    timezone: str = "UTC"
    weekdays: tuple[str, ...] = ("monday:friday",)
    times: tuple[TimeRange, ...] = (TimeRange(start="09:00", end="17:00"),)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            for day in item.split(":"):
                if day.lower() not in _WEEKDAYS:
                    raise ValueError(f"{item!r} is not a weekday or range like monday:friday")
        return value


class Endpoints(_Strict):
    """Where notifications are sent; point these at stand-ins for tests or proxies."""

    pagerduty_url: str = PAGERDUTY_EVENTS_URL


class AlertRouting(_Strict):
    teams: dict[str, Team] = Field(default_factory=dict)
    defaults: Defaults = Defaults()
    business_hours: BusinessHours = BusinessHours()
    endpoints: Endpoints = Endpoints()

    @field_validator("teams")
    @classmethod
    def _team_names(cls, value: dict[str, Team]) -> dict[str, Team]:
        for name in value:
            if not TEAM_RE.match(name):
                raise ValueError(f"{name!r} is not a valid team name")
        return value


def parse_routing(documents: Iterable[Document]) -> AlertRouting | None:
    """Merge every ``AlertRouting`` document into one; ``None`` when there is none.

    Teams may be spread over several documents (one per team repository); a team
    defined twice is an error, and so are two documents that both set defaults.
    """
    docs = list(documents)
    if not docs:
        return None
    problems: list[Problem] = []
    parsed: list[tuple[Document, AlertRouting]] = []
    for doc in docs:
        body = _spec_of(doc.body)
        try:
            parsed.append((doc, AlertRouting.model_validate(body)))
        except ValidationError as exc:
            problems.extend(_problems(doc, exc))
    if problems:
        raise SpecError(problems)
    return _merge(parsed)


def _spec_of(body: dict[str, Any]) -> dict[str, Any]:
    """Accept both the full document and its ``spec`` (loaders differ in what they hand over)."""
    if "spec" in body and isinstance(body["spec"], dict):
        return dict(body["spec"])
    return {k: v for k, v in body.items() if k not in {"apiVersion", "kind", "metadata"}}


def _name(doc: Document) -> str:
    meta = doc.body.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        return f"{KIND} {meta['name']}"
    return KIND


def _problems(doc: Document, exc: ValidationError) -> list[Problem]:
    return [
        Problem(
            file=doc.source.file,
            line=doc.source.line,
            obj=_name(doc),
            field=".".join(str(p) for p in err["loc"]) or "spec",
            message=model_error(err, AlertRouting),
        )
        for err in exc.errors()
    ]


def _merge(parsed: list[tuple[Document, AlertRouting]]) -> AlertRouting:
    first_doc, merged = parsed[0]
    teams = dict(merged.teams)
    problems: list[Problem] = []
    for doc, routing in parsed[1:]:
        for name, team in routing.teams.items():
            if name in teams:
                problems.append(
                    Problem(
                        file=doc.source.file,
                        line=doc.source.line,
                        obj=_name(doc),
                        field=f"teams.{name}",
                        message=f"team {name!r} is already routed in {first_doc.source.file or 'another document'}",
                    )
                )
            teams[name] = team
        for section in ("defaults", "business_hours", "endpoints"):
            if section in routing.model_fields_set:
                if section in merged.model_fields_set:
                    problems.append(
                        Problem(
                            file=doc.source.file,
                            line=doc.source.line,
                            obj=_name(doc),
                            field=section,
                            message=f"{section} is set in more than one AlertRouting document",
                        )
                    )
                merged = merged.model_copy(update={section: getattr(routing, section)})
    if problems:
        raise SpecError(problems)
    return merged.model_copy(update={"teams": dict(sorted(teams.items()))})
