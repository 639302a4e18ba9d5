"""Names of everything sloplane generates: recorded series, labels, dashboard uids.

Dashboards, the API, reports and ``sloplane check`` import these instead of
spelling metric names themselves, so a rename happens in one place. Series names
match Sloth's so existing Sloth dashboards keep working.

Names generated once per service (a dashboard uid, a PrometheusRule) must differ
between services; :func:`artifact_name_problems` is the one check of that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sloplane.errors import Problem
from sloplane.slo.burn import burn_rate_windows
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO

if TYPE_CHECKING:
    from sloplane.slo.catalog import Catalog

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


# --- the roll-up tier (see docs/architecture.md, "The roll-up tier") ----------------------
#
# Long windows are composed from clock-hour buckets of the 5m rates sampled on the absolute
# 5-minute grid, plus a head and a tail from the 5m series. Every value below is a sum of
# 5m rates (events / 300 s) or a count of 5-minute grid points, never a ratio: ratios are
# only ever taken of two sums over the same span.
GRID = 300  # the absolute grid the 5m rates are sampled on: each point stands for 5 minutes
BUCKET = 3600  # the roll-up bucket: one clock hour (12 grid points)
ROLLUP_GROUP_INTERVAL = 1800  # at most 55m, so each clock hour is recorded at least once
COMPOSED_WINDOW_MIN = 6 * 3600  # whole-hour windows from this long up are composed

ERRORS_BUCKET = "slo:sli_errors:sum1h"  # grid points of the 5m error rate in one clock hour
TOTAL_BUCKET = "slo:sli_total:sum1h"
SAMPLES_BUCKET = "slo:sli_samples:count1h"  # grid points with data in the clock hour (0..12)
ERRORS_PARTIAL = "slo:sli_errors:sum_hour_so_far"  # grid points since the clock hour began
TOTAL_PARTIAL = "slo:sli_total:sum_hour_so_far"
SAMPLES_PARTIAL = "slo:sli_samples:count_hour_so_far"
ERRORS_HEAD = "slo:sli_errors:sum_head"  # the previous clock hour plus the hour so far
TOTAL_HEAD = "slo:sli_total:sum_head"
SAMPLES_HEAD = "slo:sli_samples:count_head"
SOURCE_HISTORY = "slo:sli_source_history:seconds"  # how far back the SLI's source has data


def coverage_metric(window: int) -> str:
    """``slo:sli_coverage:ratio<window>``: the share of ``window`` the recorded series cover.

    1 when every 5-minute grid point of the window has a recorded 5m rate; 0.25 when a
    quarter has (e.g. the rules were loaded a week ago on a 30d window, with no backfill).
    """
    return f"slo:sli_coverage:ratio{format_duration(window)}"


def composed(window: int) -> bool:
    """Whether ``window``'s ratio is composed from the roll-up tier (whole hours, 6h and up)."""
    return window >= COMPOSED_WINDOW_MIN and window % BUCKET == 0


def coverage_windows(slo: SLO) -> tuple[int, ...]:
    """The composed windows, whose coverage is recorded (the SLO window when it is composed)."""
    return tuple(w for w in recorded_windows(slo) if composed(w))


def ratio_metric(window: int) -> str:
    """``slo:sli_error:ratio_rate<window>``: the error ratio over ``window`` seconds."""
    return f"slo:sli_error:ratio_rate{format_duration(window)}"


# The composed (long) windows are recorded in a second group evaluated this often: their
# pieces only change on the 5-minute grid, and minutes of lag do not matter for a 6h or a
# 30-day window. It stays under Prometheus' 5m lookback so instant queries always find a
# sample, and divides one hour, so the roll-up tier's `offset 1h` and `offset <window>`
# lookups land on an evaluation of the same group. 4m rather than 3m: in Prometheus every
# rule evaluation has a fixed cost (about half a millisecond of CPU in the benchmark, see
# BENCHMARKS.md) that dominates the cost of this group; a sample is at most 4 minutes old
# plus the group's evaluation time (milliseconds), still inside the 5m lookback.
LONG_GROUP_INTERVAL = 240


def long_windows(slo: SLO) -> tuple[int, ...]:
    """Recorded windows evaluated in the ``-long`` group: the composed ones."""
    return tuple(w for w in recorded_windows(slo) if composed(w))


def recorded_windows(slo: SLO) -> tuple[int, ...]:
    """Every window whose error ratio is recorded for ``slo``, shortest first.

    A disabled tier's derived windows are recorded too, as Sloth records them: dashboards
    and queries read every window whether or not an alert does.
    """
    windows = {BASE_WINDOW, slo.window}
    for w in slo.all_burn_windows():
        windows.update((w.long, w.short))
    for w in burn_rate_windows(slo.window):
        tier = slo.alerting.page if w.severity == "page" else slo.alerting.ticket
        if not tier.enabled:
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


UID_MAX = 40  # Grafana refuses longer dashboard uids


def dashboard_uid(service: str) -> str:
    """Grafana uid of a service's SLO dashboard: readable, stable and at most 40 characters.

    ``slo-<service>`` with every character Grafana does not allow in a uid (``.``) as ``-``.
    A longer uid keeps its first 31 characters and gets ``-`` and 8 hex digits of the
    service's SHA-256. Different services can still get the same uid (``a.b`` and ``a-b``):
    :data:`DASHBOARD_UID` reports them.
    """
    slug = re.sub(r"[^a-zA-Z0-9_-]", "-", service)
    uid = f"slo-{slug}"
    if len(uid) > UID_MAX:
        uid = uid[:31] + "-" + hashlib.sha256(service.encode()).hexdigest()[:8]
    return uid


def dashboard_path(uid: str) -> str:
    """The generated file of the dashboard ``uid``."""
    return f"grafana/{uid}.json"


STACK_RULE = "sloplane-stack"
"""The PrometheusRule of the exporters' rules, ``prometheus-operator/stack.yaml``."""


def resource_name(name: str) -> str:
    """``metadata.name`` of a PrometheusRule: lower case, ``_`` and ``.`` as ``-``."""
    return name.lower().replace("_", "-").replace(".", "-")


def service_rule_name(service: str) -> str:
    """The PrometheusRule of a service's rules (``--format prometheus-operator``)."""
    return resource_name(f"sloplane-{service}")


# --- names generated once per service ---------------------------------------------------


@dataclass(frozen=True)
class ServiceName:
    """A name sloplane generates once per service, which no two services may share.

    Names are not made unique behind the user's back: a suffix would rename an existing
    dashboard or resource the day a look-alike service is added, and leave the old one.
    """

    kind: str  # what the name is, as the problem says it: "Grafana dashboard uid"
    of: Callable[[str], str]  # service -> name
    shown: Callable[[str], str]  # name -> where it ends up, written after it
    clash: str  # what happens when two services share the name
    # when set, names that differ only in case clash too, for this reason
    case_clash: str | None = None
    # names sloplane takes itself -> what holds them (the problem's end)
    reserved: Mapping[str, str] = field(default_factory=dict)

    def key(self, name: str) -> str:
        return name.lower() if self.case_clash else name


DASHBOARD_UID = ServiceName(
    kind="Grafana dashboard uid",
    of=dashboard_uid,
    shown=lambda uid: f"({dashboard_path(uid)})",
    clash="one dashboard would overwrite the other",
    case_clash=(
        "(the same file on case-insensitive file systems, the same dashboard in Grafana on MySQL)"
    ),
)

PROMETHEUS_RULE = ServiceName(
    kind="PrometheusRule",
    of=service_rule_name,
    shown=lambda _name: "(--format prometheus-operator)",
    clash="kubectl apply would keep only one of them",
    reserved={
        STACK_RULE: "the name of the exporters' rules in prometheus-operator/stack.yaml",
    },
)


def artifact_name_problems(catalog: Catalog, rule_format: str = "prometheus") -> list[Problem]:
    """Services whose generated artifacts in ``rule_format`` would share a name.

    Dashboards are written in every format; PrometheusRules with ``prometheus-operator``.
    Plain rule files and unit tests are one per SLO id, which the loader keeps unique.
    """
    kinds = [DASHBOARD_UID]
    if rule_format == "prometheus-operator":
        kinds.append(PROMETHEUS_RULE)
    return [problem for kind in kinds for problem in name_problems(catalog, kind)]


def name_problems(catalog: Catalog, kind: ServiceName) -> list[Problem]:
    """One problem per service whose ``kind`` of name another service (or sloplane) has.

    Each is at the ``service`` field of the service's first SLO and names the other
    service's SLO and where it is.
    """
    by_key: dict[str, list[str]] = {}
    for service in catalog.services():
        by_key.setdefault(kind.key(kind.of(service)), []).append(service)
    rename = "rename one of the services"
    problems: list[Problem] = []
    for _key, services in sorted(by_key.items()):
        for service in services:
            name = kind.of(service)
            becomes = f"service {service!r} becomes {kind.kind} {name!r} {kind.shown(name)}"
            if name in kind.reserved:
                message = f"{becomes}, {kind.reserved[name]}: rename the service"
                problems.append(_service_problem(catalog, service, message))
            for other in services:
                if other == service:
                    continue
                slo = catalog.for_service(other)[0]
                file, _, line = slo.source.locate("service")
                at = f"{file}:{line}" if line is not None else file or "<input>"
                other_name = kind.of(other)
                if other_name == name:
                    also = f"and so does service {other!r} (SLO {slo.id}, {at})"
                else:
                    also = (
                        f"and service {other!r} (SLO {slo.id}, {at}) becomes {other_name!r}, "
                        f"which differs only in case {kind.case_clash}"
                    )
                message = f"{becomes}, {also}: {kind.clash}; {rename}"
                problems.append(_service_problem(catalog, service, message))
    return problems


def _service_problem(catalog: Catalog, service: str, message: str) -> Problem:
    """A problem at the ``service`` field of the service's first SLO."""
    slo = catalog.for_service(service)[0]
    file, written, line = slo.source.locate("service")
    return Problem(file=file, line=line, obj=slo.id, field=written, message=message)
