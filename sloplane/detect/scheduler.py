"""When each part runs: one APScheduler job per watch, per rollback, the outbox, upkeep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sloplane.detect.config import DetectConfig

#: Seconds between sweeps for expired approvals and hooks of vanished processes.
MAINTAIN_EVERY = 30.0


def start_scheduler(
    config: DetectConfig,
    tick_watch: Callable[[str], None],
    tick_rollback: Callable[[str], None],
    deliver_outbox: Callable[[], object],
    maintain: Callable[[], object],
) -> Any:
    """A started background scheduler; a job never overlaps itself and late runs coalesce."""
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    now = datetime.now()
    for w in config.watches:
        sched.add_job(
            tick_watch,
            "interval",
            args=[w.name],
            seconds=w.interval or w.step,
            next_run_time=now,
            id=f"watch:{w.name}",
        )
    for r in config.rollbacks:
        sched.add_job(
            tick_rollback,
            "interval",
            args=[r.name],
            seconds=r.interval,
            next_run_time=now,
            id=f"rollback:{r.name}",
        )
    sched.add_job(
        deliver_outbox,
        "interval",
        seconds=config.outbox_interval,
        next_run_time=now,
        id="outbox",
    )
    sched.add_job(maintain, "interval", seconds=MAINTAIN_EVERY, next_run_time=now, id="maintain")
    sched.start()
    return sched
