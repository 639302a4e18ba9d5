"""Names of everything sloplane generates: recorded series, labels, dashboard uids.

Dashboards, the API, reports and ``sloplane check`` import these instead of
spelling metric names themselves, so a rename happens in one place. Series names
match Sloth's so existing Sloth dashboards keep working.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO

BASE_WINDOW = 300  # every SLI is first recorded as 5m event rates
SHORT_WINDOW_MAX = 2 * 3600  # windows up to this are computed from the source query directly

ERRORS_RATE = "slo:sli_errors:rate5m"
TOTAL_RATE = "slo:sli_total:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
TIME_PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
INFO = "sloplane_slo_info"
SLOTH_INFO = "sloth_slo_info"  # also recorded in Sloth label mode

LabelMode = Literal["sloplane", "sloth"]


def ratio_metric(window: int) -> str:
    """``slo:sli_error:ratio_rate<window>``: the error ratio over ``window`` seconds."""
    return f"slo:sli_error:ratio_rate{format_duration(window)}"


# Windows that only tickets and the period status read are recorded in a second group
# evaluated this often: each evaluation reads days of samples, and minutes of lag do not
# matter for a ticket or a 30-day budget. It stays under Prometheus' 5m lookback so
# instant queries always find a sample.
LONG_GROUP_INTERVAL = 180


def long_windows(slo: SLO) -> tuple[int, ...]:
    """Recorded windows evaluated in the slower ``-long`` group (never one a page reads)."""
    paged = {x for w in slo.burn_windows("page") for x in (w.long, w.short)}
    return tuple(w for w in recorded_windows(slo) if w > SHORT_WINDOW_MAX and w not in paged)


def recorded_windows(slo: SLO) -> tuple[int, ...]:
    """Every window whose error ratio is recorded for ``slo``, shortest first."""
    windows = {BASE_WINDOW, slo.window}
    for w in slo.all_burn_windows():
        windows.update((w.long, w.short))
    return tuple(sorted(windows))


@dataclass(frozen=True)
class Labels:
    """The label names that identify an SLO on every series and alert."""

    mode: LabelMode = "sloplane"

    @property
    def id(self) -> str:
        return f"{self.mode}_id"

    @property
    def service(self) -> str:
        return f"{self.mode}_service"

    @property
    def slo(self) -> str:
        return f"{self.mode}_slo"

    @property
    def severity(self) -> str:
        return f"{self.mode}_severity"

    @property
    def window(self) -> str | None:
        """Sloth marks each ratio recording with its window (``sloth_window``); we do only in
        Sloth mode, so that Sloth's dashboards and queries keep working unchanged."""
        return "sloth_window" if self.mode == "sloth" else None

    def identity(self, slo: SLO) -> dict[str, str]:
        """Labels set on every series recorded for ``slo``."""
        return {self.id: slo.id, self.service: slo.service, self.slo: slo.name}

    def selector(self, slo: SLO) -> str:
        """A PromQL label matcher selecting ``slo``'s series: ``{sloplane_id="api-availability"}``."""
        return "{" + f'{self.id}="{escape_label_value(slo.id)}"' + "}"


def escape_label_value(value: str) -> str:
    """``value`` escaped for a double-quoted PromQL label matcher (``\\``, ``"``, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dashboard_uid(service: str) -> str:
    """Grafana uid of a service's SLO dashboard: readable, stable and at most 40 characters."""
    slug = re.sub(r"[^a-zA-Z0-9_-]", "-", service)
    uid = f"slo-{slug}"
    if len(uid) > 40:
        uid = uid[:31] + "-" + hashlib.sha256(service.encode()).hexdigest()[:8]
    return uid
