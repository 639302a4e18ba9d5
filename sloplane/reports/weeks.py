"""ISO weeks (``2026-W47``) as time ranges in the operator's timezone."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(ValueError):
    pass


def parse_week(text: str) -> tuple[int, int]:
    m = WEEK_RE.match(text.strip())
    if not m:
        raise WeekError(f"invalid week {text!r}: use the ISO form YYYY-Www, e.g. 2026-W47")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"{text!r}: {year} has no ISO week {week}") from None
    return year, week


def week_bounds(text: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, in ``tz``."""
    year, week = parse_week(text)
    monday = date.fromisocalendar(year, week, 1)
    zone = ZoneInfo(tz)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    nxt = monday + timedelta(days=7)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)


def ensure_ended(text: str, tz: str, now: datetime) -> None:
    """A report is a closed record: a week that has not ended in ``tz`` has no report yet."""
    _, end = week_bounds(text, tz)
    if end > now:
        raise WeekError(
            f"week {text} has not ended yet in {tz} (it ends {end:%Y-%m-%d %H:%M %Z}); "
            "reports cover finished weeks only"
        )


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def days_of(text: str, tz: str = "UTC") -> list[tuple[datetime, datetime]]:
    start, _ = week_bounds(text, tz)
    zone = ZoneInfo(tz)
    out = []
    for i in range(7):
        d = (start + timedelta(days=i)).date()
        e = d + timedelta(days=1)
        out.append(
            (
                datetime(d.year, d.month, d.day, tzinfo=zone),
                datetime(e.year, e.month, e.day, tzinfo=zone),
            )
        )
    return out
