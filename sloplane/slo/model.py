"""The SLO model: the one representation every loader produces and every compiler reads.

Models are immutable pydantic objects. Everything derived from the definition
(error budget, budget minutes, burn-rate windows) is computed here and nowhere
else, so rules, dashboards, the API and reports always agree on the numbers.
"""

from __future__ import annotations

import numbers
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sloplane.located import Where, locate
from sloplane.slo.burn import BurnRateWindow, Severity, burn_rate_windows
from sloplane.slo.durations import DurationError, format_duration, parse_duration

NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MIN_WINDOW = 3600
MAX_WINDOW = 90 * 86400
DEFAULT_WINDOW = 30 * 86400
OBJECTIVE_DECIMALS = 12  # objectives are kept as ratios rounded to this many decimal places
OBJECTIVE_RANGE = "give a ratio 0 < x < 1 (0.999) or a percentage 1 <= x < 100 (99.9)"

# Labels sloplane sets itself on every series and alert; SLO labels may not use them.
RESERVED_LABELS = frozenset(
    {"alertname", "severity", "slo_window"}
    | {f"{p}_{s}" for p in ("sloplane", "sloth") for s in ("id", "service", "slo", "severity")}
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventsSLI(Frozen):
    """Ratio of bad (or good) events to all events, from counters.

    Each query is either a counter selector/expression without a range
    (``http_requests_total{job="api",code=~"5.."}``), which sloplane turns into
    ``sum by (<group_by>) (rate(<selector>[<window>]))``, or a template with the
    Sloth placeholder ``{{.window}}`` used as written.
    """

    kind: Literal["events"] = "events"
    errors: str | None = None
    good: str | None = None
    total: str

    @model_validator(mode="after")
    def _one_of_errors_or_good(self) -> EventsSLI:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of 'errors' or 'good' next to 'total'")
        return self


class LatencySLI(Frozen):
    """Share of requests slower than a histogram bucket boundary.

    ``metric`` is the histogram base name (``http_request_duration_seconds``);
    ``threshold`` is the ``le`` value of an existing bucket, written exactly as the
    exporter writes it (``"0.3"``). With ``native=True`` a native histogram is read
    with ``histogram_fraction`` instead of ``_bucket``/``_count`` series.
    """

    kind: Literal["latency"] = "latency"
    metric: str
    threshold: str
    selector: str = ""
    native: bool = False

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return repr(float(value)) if isinstance(value, float) else str(value)
        return value

    @field_validator("selector")
    @classmethod
    def _strip_braces(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("{") and value.endswith("}"):
            value = value[1:-1].strip()
        return value


class RawSLI(Frozen):
    """An error-ratio query with the ``{{.window}}`` placeholder, used as written.

    Without event counts, windows longer than the short ones are the time-average
    of the 5m ratio (as Sloth does): say so in reviews of such SLOs.
    """

    kind: Literal["raw"] = "raw"
    error_ratio: str


class AvailabilitySLI(Frozen):
    """Time-based availability from a 0/1 gauge such as ``probe_success`` or ``up``."""

    kind: Literal["availability"] = "availability"
    gauge: str


SLI = Annotated[EventsSLI | LatencySLI | RawSLI | AvailabilitySLI, Field(discriminator="kind")]


class AlertWindow(Frozen):
    """An explicit burn-rate condition, overriding the derived table for one tier."""

    long: int
    short: int
    factor: float = Field(gt=0)

    @field_validator("long", "short", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


class AlertTier(Frozen):
    """One severity tier (page or ticket)."""

    enabled: bool = True
    name: str | None = None
    windows: tuple[AlertWindow, ...] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class NoDataAlert(Frozen):
    """Alert when the SLI's total series are absent (scrape broken, metric renamed)."""

    enabled: bool = False
    for_: int = Field(default=900, alias="for")
    severity: Severity = "ticket"

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("for_", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


class Alerting(Frozen):
    """Alerting options shared by both tiers."""

    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page: AlertTier = AlertTier()
    ticket: AlertTier = AlertTier()
    no_data: NoDataAlert = NoDataAlert()


class Source(Frozen):
    """Where a definition came from, for error messages.

    ``fields`` holds ``(model path, file, field as the user wrote it, line)`` for each
    field a YAML loader located (``"sli.errors"`` -> ``slos[0].sli.events.error_query``);
    the model path ``""`` is the definition itself. ``model_keys`` says the user's keys
    are the model's field names (sloplane/v1), so a field below the written ones can be
    named in full.
    """

    file: str = ""
    line: int | None = None
    format: str = "python"
    fields: tuple[tuple[str, str, str, int | None], ...] = ()
    model_keys: bool = False
    spec: str = ""  # the document's own version/kind, e.g. "sloth.slok.dev/v1" for a Sloth CRD

    def locate(self, field: str) -> tuple[str, str, int | None]:
        """File, field name and line for a problem with model field ``field``.

        The same place a model error on that field gets: the longest located prefix
        of ``field`` (with the rest of ``field`` named under it when ``model_keys``),
        else ``field`` under the definition itself.
        """
        places = {path: Where(file, "", written, line) for path, file, written, line in self.fields}
        default = places.pop("", None) or Where(self.file, line=self.line)
        parts = field.split(".") if field else []
        where = locate(places, parts, default, name_rest=self.model_keys)
        return where.file, where.path, where.line


class SLO(Frozen):
    """A service level objective.

    ``objective`` accepts a percentage (``99.9``) or a ratio (``0.999``) and is
    stored as a ratio. ``window`` accepts seconds or a duration (``"28d"``).
    """

    service: str
    name: str
    objective: float
    sli: SLI
    window: int = DEFAULT_WINDOW
    description: str = ""
    team: str | None = None
    runbook_url: str | None = None
    dashboard_url: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    alerting: Alerting = Alerting()
    # Labels only on the SLO's info series (Sloth's ``info_labels``), for dashboards to read.
    info_labels: dict[str, str] = Field(default_factory=dict)
    # Labels of the PrometheusRule resource holding this SLO's rules (``--format
    # prometheus-operator``), for the operator's ruleSelector: Pyrra's metadata.labels.
    rule_labels: dict[str, str] = Field(default_factory=dict)
    source: Source = Field(default_factory=Source, exclude=True, repr=False)

    @field_validator("service", "name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid name: use letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_as_ratio(cls, value: Any) -> Any:
        """A number below 1 is a ratio, 1 and above a percentage; kept as a ratio.

        Booleans are refused (pydantic would read them as 1.0 and 0.0). Decimal and
        Fraction are numbers like any other. What rounds to 0% or 100% is refused.
        """
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got bool {value!r}: {OBJECTIVE_RANGE}")
        shown = repr(value) if isinstance(value, str) else str(value)
        given: str | numbers.Real | Decimal
        if isinstance(value, str):
            given = value.strip().removesuffix("%")
        elif isinstance(value, numbers.Real | Decimal):
            given = value
        else:
            return value  # not a number at all: pydantic says so in its own words
        try:
            number = float(given)
        except OverflowError:
            number = float("inf")
        except ValueError:
            raise ValueError(f"objective {shown} is not a number") from None
        if 0 < number < 1:
            ratio = number
        elif 1 <= number < 100:
            ratio = number / 100
        else:  # out of both ranges, or NaN
            raise ValueError(f"objective {shown} is out of range: {OBJECTIVE_RANGE}")
        problem = objective_rounding_problem(ratio)
        if problem is not None:
            raise ValueError(f"objective {shown} is out of range: {problem}; {OBJECTIVE_RANGE}")
        return round(ratio, OBJECTIVE_DECIMALS)

    @field_validator("window", mode="before")
    @classmethod
    def _window_seconds(cls, value: Any) -> Any:
        try:
            value = _seconds(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        if isinstance(value, int):
            if value % 60:
                raise ValueError("window must be a whole number of minutes")
            if not MIN_WINDOW <= value <= MAX_WINDOW:
                raise ValueError(f"window {format_duration(value)} is outside 1h..90d")
        return value

    @field_validator("labels", "info_labels")
    @classmethod
    def _valid_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            _check_label_name(key)
        return value

    @field_validator("group_by")
    @classmethod
    def _valid_group_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            _check_label_name(key)
        if len(set(value)) != len(value):
            raise ValueError("group_by lists a label twice")
        return value

    @model_validator(mode="after")
    def _group_by_not_fixed(self) -> SLO:
        clash = sorted(set(self.group_by) & set(self.labels))
        if clash:
            raise ValueError(
                f"label(s) {', '.join(clash)} are both fixed SLO labels and group_by labels"
            )
        return self

    # -- derived numbers: computed here and only here -------------------------------

    @property
    def id(self) -> str:
        """Stable identifier, as Sloth builds it: ``<service>-<name>``."""
        return f"{self.service}-{self.name}"

    @property
    def error_budget(self) -> float:
        """Allowed error ratio over the window (``1 - objective``), rounded to hide float noise."""
        return round(1 - self.objective, OBJECTIVE_DECIMALS)

    def burn_rate(self, error_ratio: float | None) -> float | None:
        """How fast ``error_ratio`` spends the budget: ``error_ratio / error_budget``.

        Over the SLO window this is the share of the budget consumed (above 1 when
        breached). None without a ratio (no data) and without a budget. Validation refuses
        every objective that rounds to 100% (and booleans), so a budget of 0 only exists in
        a model built without validation (``model_construct``, ``model_copy(update=...)``);
        it has nothing to burn. The API and the reports derive every budget number through
        here.
        """
        if error_ratio is None or self.error_budget <= 0:
            return None
        return error_ratio / self.error_budget

    def budget_remaining(self, error_ratio: float | None) -> float | None:
        """The share of the budget left when ``error_ratio`` is the window's error ratio."""
        consumed = self.burn_rate(error_ratio)
        return None if consumed is None else 1 - consumed

    @property
    def budget_minutes(self) -> float:
        """The error budget expressed as minutes of total outage over the window."""
        return self.error_budget * self.window / 60

    @property
    def window_text(self) -> str:
        return format_duration(self.window)

    @property
    def objective_percent(self) -> float:
        return round(self.objective * 100, 10)

    def burn_windows(self, severity: Severity) -> tuple[BurnRateWindow, ...]:
        """The alert conditions for one tier: explicit windows if given, else the derived table."""
        tier = self.alerting.page if severity == "page" else self.alerting.ticket
        if not tier.enabled:
            return ()
        if tier.windows is not None:
            return tuple(
                BurnRateWindow(
                    severity,
                    w.long,
                    w.short,
                    round(w.factor * w.long / self.window, 6),
                    w.factor,
                )
                for w in tier.windows
            )
        return tuple(w for w in burn_rate_windows(self.window) if w.severity == severity)

    def all_burn_windows(self) -> tuple[BurnRateWindow, ...]:
        return self.burn_windows("page") + self.burn_windows("ticket")

    def alert_name(self, severity: Severity) -> str:
        """The tier's alert name: the tier's own, else the shared ``alerting.name`` (Sloth's
        convention: one name, told apart by the severity label), else a name per tier."""
        tier = self.alerting.page if severity == "page" else self.alerting.ticket
        if tier.name:
            return tier.name
        if self.alerting.name:
            return self.alerting.name
        return f"{_camel(self.service)}{_camel(self.name)}ErrorBudgetBurn{_camel(severity)}"


def objective_rounding_problem(ratio: float) -> str | None:
    """Why ``ratio`` (0 < ratio < 1) is no objective once rounded as the model keeps it, or None.

    The model keeps ``OBJECTIVE_DECIMALS`` decimal places, so its objectives run from
    1e-12 to 0.999999999999 (99.9999999999%, a budget of 1e-12). A ratio that rounds to 0
    has nothing to meet; one that rounds to 1 leaves no error budget.
    """
    kept = round(ratio, OBJECTIVE_DECIMALS)
    if 0 < kept < 1:
        return None
    return (
        f"it rounds to {'0' if kept <= 0 else '100'}% "
        f"(objectives are kept as ratios to {OBJECTIVE_DECIMALS} decimal places)"
    )


def _seconds(value: Any) -> Any:
    """A duration field's input: text parsed, a whole float read as seconds, a bool refused.

    Pydantic would read ``True`` as 1 second and let a float skip the checks made on ints.
    A float with a fraction is left for pydantic to refuse in its own words.
    """
    if isinstance(value, bool):
        raise ValueError(f'expected a duration ("30d") or seconds, got bool {value!r}')
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", text) if part)


def _check_label_name(name: str) -> None:
    if not LABEL_NAME_RE.match(name) or name.startswith("__"):
        raise ValueError(f"{name!r} is not a valid Prometheus label name")
    if name in RESERVED_LABELS:
        raise ValueError(f"label {name!r} is reserved by sloplane")
