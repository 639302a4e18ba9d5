"""The weekly schedule (APScheduler) and catch-up of runs missed while the service was down.

The schedule itself is not persisted: at startup we ask the database whether the
most recent due week has a successful run for each scope and run it if not. That
is restart-safe without a persistent job store, and a rerun is harmless because
runs are idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from sloplane.reports.weeks import week_of

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    day_of_week: str = "mon"
    hour: int = 9
    minute: int = 0
    timezone: str = "UTC"

    @classmethod
    def parse(cls, text: str, timezone: str = "UTC") -> Schedule:
        """``"mon 09:00"``."""
        try:
            day, hm = text.lower().split()
            hour, minute = (int(x) for x in hm.split(":"))
        except ValueError:
            raise ValueError(f"invalid schedule {text!r}: use e.g. 'mon 09:00'") from None
        if day not in DAYS or not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError(f"invalid schedule {text!r}: use e.g. 'mon 09:00'")
        ZoneInfo(timezone)  # raises for an unknown zone
        return cls(day, hour, minute, timezone)

    def trigger(self) -> CronTrigger:
        return CronTrigger(
            day_of_week=self.day_of_week, hour=self.hour, minute=self.minute, timezone=self.timezone
        )


def due_week(now: datetime, schedule: Schedule) -> str:
    """The week whose report should exist at ``now``: the last fully finished week as of the
    most recent scheduled firing time."""
    local = now.astimezone(ZoneInfo(schedule.timezone))
    fire_day = DAYS.index(schedule.day_of_week)
    this_week_fire = (local - timedelta(days=local.weekday() - fire_day)).replace(
        hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0
    )
    if this_week_fire > local:
        this_week_fire -= timedelta(days=7)
    # The report at a firing time covers the ISO week that ended before it.
    return week_of(this_week_fire - timedelta(days=this_week_fire.weekday() + 1))


def start_scheduler(schedule: Schedule, job: Callable[[str], Awaitable[None]]) -> AsyncIOScheduler:
    """Run ``job(week)`` at every firing time for the week just finished."""

    async def fire() -> None:
        await job(due_week(datetime.now(ZoneInfo(schedule.timezone)), schedule))

    scheduler = AsyncIOScheduler(timezone=schedule.timezone)
    scheduler.add_job(
        fire,
        schedule.trigger(),
        id="weekly-report",
        coalesce=True,
        misfire_grace_time=6 * 3600,
        max_instances=1,
    )
    scheduler.start()
    return scheduler
