"""The ``AlertRouting`` document: who gets paged and where tickets go, as code.

Secrets (PagerDuty routing keys, Slack webhook URLs) are only ever referenced by
``*_file`` paths, so the generated AlertManager configuration can be committed and
reviewed; the files themselves are mounted next to AlertManager at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sloplane.errors import Problem, SpecError
from sloplane.located import Where, locate, validation_problems
from sloplane.slo.catalog import Document
from sloplane.slo.durations import DurationError, parse_duration
from sloplane.yamldoc import type_name

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
    Problems name the line and the field as written (``spec.teams.payments...``)
    when the document came from the loaders, which keep its lines in ``source.fields``.
    """
    docs = list(documents)
    if not docs:
        return None
    problems: list[Problem] = []
    parsed: list[tuple[Document, AlertRouting]] = []
    for doc in docs:
        at = _Located.of(doc)
        spec = _spec_of(doc.body, at, problems)
        if spec is None:
            continue
        try:
            parsed.append((doc, AlertRouting.model_validate(spec)))
        except ValidationError as exc:
            problems.extend(
                validation_problems(exc, AlertRouting, at.places, at.default, at.prefix)
            )
    if problems:
        raise SpecError(problems)
    return _merge(parsed)


@dataclass(frozen=True)
class _Located:
    """Where the fields of one document were written, for its problems."""

    places: dict[str, Where]
    default: Where
    prefix: tuple[str, ...]

    @classmethod
    def of(cls, doc: Document) -> _Located:
        obj = _name(doc)
        places = {
            path: Where(file, obj, written, line) for path, file, written, line in doc.source.fields
        }
        prefix = ("spec",) if "spec" in doc.body else ()
        return cls(places, Where(doc.source.file, obj, line=doc.source.line), prefix)

    def at(self, *loc: str) -> Where:
        """A field of the routing spec (``teams``, ``defaults``)."""
        return locate(self.places, [*self.prefix, *loc], self.default)

    def shown(self, *loc: str) -> str:
        """``file:line`` of a field, for a message about another document."""
        where = self.at(*loc)
        place = where.file or "another document"
        return f"{place}:{where.line}" if where.line is not None else place


def _spec_of(body: dict[str, Any], at: _Located, problems: list[Problem]) -> dict[str, Any] | None:
    """The routing spec: ``spec`` of the document, or (without ``spec``) its other keys."""
    if "spec" in body:
        spec = body["spec"]
        if isinstance(spec, dict):
            return dict(spec)
        where = locate(at.places, ["spec"], at.default)
        problems.append(where.problem(f"expected a mapping, got {type_name(spec)}"))
        return None
    rest = {k: v for k, v in body.items() if k not in {"apiVersion", "kind", "metadata"}}
    if not rest:
        problems.append(at.default.child("spec").problem("missing"))
        return None
    return rest


def _name(doc: Document) -> str:
    meta = doc.body.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        return f"{KIND} {meta['name']}"
    return KIND


_SECTIONS = ("defaults", "business_hours", "endpoints")


def _merge(parsed: list[tuple[Document, AlertRouting]]) -> AlertRouting:
    first_doc, merged = parsed[0]
    teams = dict(merged.teams)
    team_doc = dict.fromkeys(teams, first_doc)
    section_doc = {s: first_doc for s in _SECTIONS if s in merged.model_fields_set}
    problems: list[Problem] = []
    for doc, routing in parsed[1:]:
        at = _Located.of(doc)
        for name, team in routing.teams.items():
            if name in teams:
                other = _Located.of(team_doc[name]).shown("teams", name)
                problems.append(
                    at.at("teams", name).problem(f"team {name!r} is already routed in {other}")
                )
            else:
                team_doc[name] = doc
            teams[name] = team
        for section in _SECTIONS:
            if section not in routing.model_fields_set:
                continue
            if section in section_doc:
                other = _Located.of(section_doc[section]).shown(section)
                problems.append(
                    at.at(section).problem(
                        f"{section} is set in more than one AlertRouting document (also in {other})"
                    )
                )
            else:
                section_doc[section] = doc
            merged = merged.model_copy(update={section: getattr(routing, section)})
    if problems:
        raise SpecError(problems)
    return merged.model_copy(update={"teams": dict(sorted(teams.items()))})
