"""``detect.yaml``: what the detector service watches, whom it tells, what it may do.

Guards are on by default (dry-run included; approval is opt-in); turning one off is an
explicit line in the file.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sloplane.detect.store import NAME_MAX
from sloplane.errors import SpecError
from sloplane.listen import parse_listen
from sloplane.located import Loc, Where, did_you_mean, locate, named_places, validation_problems
from sloplane.slo.durations import parse_seconds as parse_duration
from sloplane.yamldoc import load_mapping

if TYPE_CHECKING:
    from sloplane.detect.shard import Shard
    from sloplane.detectors.base import Detector

Duration = Annotated[float, BeforeValidator(parse_duration)]


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError(f"must be longer than 0s, got {seconds:g}s")
    return seconds


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]
"""A duration that divides or schedules something: 0s would divide by zero or spin."""

#: Most points per series Prometheus answers a ``query_range`` with.
MAX_RANGE_POINTS = 11_000

#: Shortest ``step`` of a watch; finer steps only make the scheduler skip runs.
MIN_STEP = 0.1


def _step(seconds: float) -> float:
    if seconds < MIN_STEP:
        raise ValueError(f"{seconds:g}s is shorter than the shortest step, {MIN_STEP * 1000:g}ms")
    return seconds


Step = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_step)]


def _promql(query: str) -> str:
    from sloplane.slo.promql import parse_error

    problem = parse_error(query)
    if problem:
        raise ValueError(f"not valid PromQL: {' '.join(problem.split())}")
    return query


PromQL = Annotated[str, AfterValidator(_promql)]


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrometheusConfig(_Strict):
    url: HttpUrl = "http://127.0.0.1:9090"
    timeout: PositiveDuration = 10.0


class AlertmanagerConfig(_Strict):
    url: HttpUrl | None = "http://127.0.0.1:9093"
    resend_every: PositiveDuration = 60.0
    """Firing alerts are re-posted this often so AlertManager does not resolve them."""
    alert_ttl: PositiveDuration = 300.0
    """``endsAt`` of a firing alert is now plus this; re-sends keep pushing it forward."""
    generator_url: HttpUrl | None = None
    """Base URL for the alert's link back (the query is appended); default ``prometheus.url``."""


class TrafficGuard(_Strict):
    query: PromQL
    """PromQL whose (summed) value is the traffic; below ``min`` no action is taken."""
    min: float


class Guards(_Strict):
    """Defaults for every action; an action may override any of them."""

    max_staleness: Duration = 120.0
    """Newest point older than this: the data is stale, no action."""
    cooldown: Duration = 900.0
    max_actions_per_hour: int = 3
    dry_run: bool = True
    """Decide and audit but never call a hook; a file without ``guards`` must not act for real."""
    require_approval: bool = False


class WatchConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_:.-]*$")
    query: PromQL
    step: Step = 30.0
    lookback: PositiveDuration = 3600.0
    """History read on start-up to warm the detector."""
    interval: PositiveDuration | None = None
    """How often to poll; defaults to ``step``."""
    detector: str = "ensemble"
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Raw score at or above which a point breaches, for experts; unset: ``false_alarms``."""
    false_alarms: str | float | None = None
    """Expected false alert episodes per series, e.g. ``1/week`` (the default when
    ``threshold`` is unset): the service picks each series' threshold from its own scores."""
    direction: Literal["up", "down", "both"] = "both"
    """The harmful side: a move the other way (a recovery included) never alerts."""
    min_change: float = Field(0.0, ge=0.0)
    """Practical floor: a change smaller than this from the expected value is not an anomaly."""
    min_relative_change: float = Field(0.0, ge=0.0)
    """The floor as a share of the expected value (0.1 is 10%)."""
    lower_bound: float | None = None
    """Smallest value the metric can take (0 for a rate); expected ranges stay inside."""
    upper_bound: float | None = None
    learn_steps: bool = True
    """On a flat series (a replica count), take the largest recent step as a floor."""
    runbook_url: HttpUrl | None = None
    """Sent as the alert's ``runbook_url`` annotation."""
    dashboard_url: HttpUrl | None = None
    """Sent as the alert's ``dashboard_url`` annotation."""
    consecutive: int = Field(3, ge=1)
    """Breaching points in a row that start an alert: 3 for a bare detector, 1 under the
    watch rules (their budget is per episode and they already judge a mean of 5 points)."""
    keep_firing_for: Duration = 600.0
    """A firing alert resolves only this long (in data time) after its last breaching point.

    The ensemble scores the start of an episode, not its length: without a hold its
    alert would resolve a step later, before AlertManager's ``group_wait`` sends it.
    """
    labels: dict[str, str] = Field(default_factory=dict)
    traffic: TrafficGuard | None = None
    actions: list[str] = Field(default_factory=list)

    _RULES: ClassVar[tuple[str, ...]] = (
        "false_alarms",
        "direction",
        "min_change",
        "min_relative_change",
        "lower_bound",
        "upper_bound",
        "learn_steps",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_consecutive(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "consecutive" not in data:
            rules = "threshold" not in data or any(k in data for k in cls._RULES)
            if rules:
                return {**data, "consecutive": 1}
        return data

    @property
    def uses_rules(self) -> bool:
        """Watch rules (budget, direction, floor, bounds) apply unless the file sets only a
        raw ``threshold``: then the bare detector runs exactly as it always did."""
        return self.threshold is None or bool(self.model_fields_set & set(self._RULES))

    @property
    def rule_options(self) -> dict[str, Any]:
        """The :class:`~sloplane.detectors.watch.WatchOptions` this watch's file gives."""
        opts = {k: getattr(self, k) for k in self._RULES if k in self.model_fields_set}
        if self.threshold is not None:
            opts["threshold"] = self.threshold
            opts.setdefault("false_alarms", None)
        return opts

    def build_detector(self) -> Detector:
        """The detector of one series; raises ``DetectorError`` naming a wrong field."""
        from sloplane.detectors.detectors import make_detector
        from sloplane.detectors.watch import make_watch

        if not self.uses_rules:
            return make_detector(self.detector, **self.params)
        return make_watch(self.detector, self.params, **self.rule_options)

    @property
    def alert_level(self) -> float:
        """Score at or above which a point breaches (the watch's, or the raw threshold)."""
        from sloplane.detectors.watch import BUDGET_ALERT_AT

        return self.threshold if self.threshold is not None else BUDGET_ALERT_AT


class WebhookHook(_Strict):
    kind: Literal["webhook"]
    url: HttpUrl
    secret_env: str | None = None
    """Environment variable holding the HMAC-SHA256 key (never put secrets in the file)."""
    legacy_signature: bool = False
    """Deprecated: also send ``X-Sloplane-Signature``, the HMAC of the body alone, for a
    receiver not yet checking ``Sloplane-Signature``. It can be replayed at will (nothing
    in it ages), so it is off unless asked for, and logged as deprecated when on."""
    retries: int = 3
    backoff: Duration = 1.0
    timeout: Duration = 10.0


class CommandHook(_Strict):
    kind: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout: Duration = 60.0


class KubernetesHook(_Strict):
    kind: Literal["kubernetes"]
    operation: Literal["scale", "rollout_undo"]
    namespace: str = "default"
    deployment: str
    kubeconfig: str | None = None
    """Path of a kubeconfig; in-cluster configuration when empty."""
    timeout: Duration = Field(10.0, gt=0)
    """Seconds per API request (connect and read); an API server that hangs is a failure."""


class KedaHook(_Strict):
    kind: Literal["keda"]
    """Sets the desired replica count served at ``/v1/detectors/keda/<action>``."""


Hook = Annotated[WebhookHook | CommandHook | KubernetesHook | KedaHook, Field(discriminator="kind")]


class ScalingConfig(_Strict):
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(10, ge=1)
    max_step: int = Field(2, ge=1)
    """Largest change in replicas per action."""
    step: int = 1
    """Change per anomaly: positive scales out, negative scales in."""


class ActionConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=NAME_MAX)
    hook: Hook
    target: str | None = Field(None, max_length=NAME_MAX)
    """What cooldowns and hourly limits count against; defaults to the action name."""
    scaling: ScalingConfig | None = None
    cooldown: Duration | None = None
    max_actions_per_hour: int | None = None
    dry_run: bool | None = None
    require_approval: bool | None = None

    @property
    def target_key(self) -> str:
        return self.target or self.name


class DeployRollback(_Strict):
    """Roll back when a page-level SLO burn starts soon after a deploy."""

    name: str
    burn_query: PromQL
    """PromQL that returns a series while the page-level burn condition holds."""
    deploy_time_query: PromQL | None = None
    """PromQL whose value is the Unix time of the last deploy; or post deploys to the API."""
    deploy_target: str | None = Field(None, max_length=NAME_MAX)
    """Key under which deploys are posted to ``/v1/detectors/deploys``."""
    within: Duration = 1800.0
    action: str
    interval: PositiveDuration = 30.0


class ApprovalConfig(_Strict):
    slack_webhook_env: str | None = None
    """Environment variable holding a Slack incoming-webhook URL to announce pending approvals."""
    public_url: HttpUrl | None = None
    """The service's URL as approvers reach it, so announcements carry a full approve URL."""
    expire_after: PositiveDuration = 3600.0
    """A pending approval older than this expires unanswered (and can no longer be approved)."""


class ApiConfig(_Strict):
    """Who may use the POST endpoints (approve, reject, deploys); reads stay open."""

    token_file: str | None = None
    """File holding the bearer token POSTs must carry (surrounding whitespace ignored)."""
    token_env: str = "SLOPLANE_DETECT_TOKEN"
    """Environment variable holding the token, used when ``token_file`` is not set."""
    read_only: bool = False
    """Refuse every POST; then no token is needed."""
    allow_unauthenticated: bool = False
    """Accept POSTs without a token; only for a listener no one else can reach."""


def api_token(api: ApiConfig, where: Where | None = None) -> str | None:
    """The configured bearer token, or None; an unreadable or empty token file is an error.

    ``where`` locates ``api.token_file`` in the config file; :func:`load_config` checks the
    file once with it, so a wrong path is reported at its line before anything starts.
    """
    import os

    if api.token_file:
        at = where or Where("detect.yaml", "api", "token_file")
        try:
            token = Path(api.token_file).read_text().strip()
        except OSError as exc:
            raise SpecError([at.problem(f"cannot read: {exc.strerror or exc}")]) from exc
        except UnicodeDecodeError as exc:
            raise SpecError([at.problem(f"not UTF-8 text: {exc}")]) from exc
        if not token:
            raise SpecError([at.problem("the file is empty")])
        return token
    return os.environ.get(api.token_env, "").strip() or None


class DetectConfig(_Strict):
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    database: str = "sqlite:///sloplane-detect.db"
    listen: str = "127.0.0.1:9310"
    guards: Guards = Field(default_factory=Guards)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    watches: list[WatchConfig] = Field(default_factory=list)
    actions: list[ActionConfig] = Field(default_factory=list)
    rollbacks: list[DeployRollback] = Field(default_factory=list)
    outbox_interval: PositiveDuration = 5.0
    shard: str = "0/1"
    """``I/N``: this replica scores the series whose hashmod is I (``--shard`` overrides)."""

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        from sloplane.detect.shard import parse_shard

        return str(parse_shard(value))

    @property
    def shard_of(self) -> Shard:
        from sloplane.detect.shard import parse_shard

        return parse_shard(self.shard)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        """SQLite or PostgreSQL (psycopg 3), the stores that are installed and tested."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(
                f"not a database URL: {value!r} (use e.g. sqlite:///detect.db)"
            ) from exc
        if url.get_backend_name() not in ("sqlite", "postgresql") or url.get_driver_name() not in (
            "pysqlite",
            "psycopg",
        ):
            shown = url.render_as_string(hide_password=True)
            raise ValueError(
                f"{shown!r} is not a SQLite (sqlite:///FILE) or PostgreSQL "
                "(postgresql://USER@HOST/DB) URL, the stores sloplane supports"
            )
        return value

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> DetectConfig:
        """Checks across objects, reported as :class:`Problem` lines like the field errors.

        Raised as :class:`SpecError` (not ``ValueError``) so pydantic passes them through
        untouched instead of prefixing "Value error," and dropping the location. The
        context's ``places`` (from :func:`parse_config`) give each its object and line.
        """
        context = info.context or {}
        source = context.get("source", "<detect.yaml>")
        places: Mapping[str, Where] = context.get("places") or {}
        problems = [
            locate(places, loc, Where(source)).problem(message) for loc, message in self._problems()
        ]
        if problems:
            raise SpecError(problems)
        return self

    def _problems(self) -> Iterator[tuple[Loc, str]]:
        """(model path, message) of every problem across objects."""
        from sloplane.detectors.detectors import DetectorError

        names = {a.name for a in self.actions}
        seen: set[str] = set()
        for i, w in enumerate(self.watches):
            at = ("watches", i)
            if w.name in seen:
                yield (*at, "name"), "watch names must be unique"
            seen.add(w.name)
            for a in w.actions:
                if a not in names:
                    yield (*at, "actions"), f"unknown action {a!r}"
            if w.lookback / w.step > MAX_RANGE_POINTS:
                yield (
                    (*at, "lookback"),
                    f"{w.lookback:g}s at step {w.step:g}s is {w.lookback / w.step:,.0f} points, "
                    f"more than the {MAX_RANGE_POINTS:,} Prometheus returns for one query: "
                    "use a shorter lookback or a longer step",
                )
            if w.interval is not None and w.interval < w.step:
                yield (
                    (*at, "interval"),
                    f"{w.interval:g}s is shorter than step ({w.step:g}s); "
                    "polls between points only ask Prometheus for an empty range",
                )
            if w.threshold is not None and w.false_alarms is not None:
                yield (
                    (*at, "false_alarms"),
                    "set false_alarms (a budget) or threshold (a raw score), not both",
                )
                continue
            try:
                w.build_detector()
            except DetectorError as exc:
                field = [int(p) if p.isdigit() else p for p in exc.field.split(".")]
                if field == ["watch"]:  # across options: lower_bound >= upper_bound
                    field = ["lower_bound"]
                yield (*at, *field), detector_message(w.detector, exc.field, exc.message)
        for i, r in enumerate(self.rollbacks):
            at = ("rollbacks", i)
            if r.action not in names:
                yield (*at, "action"), f"unknown action {r.action!r}"
            if not (r.deploy_time_query or r.deploy_target):
                yield (*at, "deploy_target"), "needs deploy_time_query or deploy_target"
        for i, act in enumerate(self.actions):
            if (
                isinstance(act.hook, WebhookHook)
                and act.hook.legacy_signature
                and not act.hook.secret_env
            ):
                yield (
                    ("actions", i, "hook", "legacy_signature"),
                    "needs secret_env: the signature is an HMAC under that key",
                )

    def action(self, name: str) -> ActionConfig:
        return next(a for a in self.actions if a.name == name)


def detector_message(detector: str, field: str, message: str) -> str:
    """The detector's own message, with "did you mean" for a misspelt parameter."""
    from sloplane.detectors.detectors import DETECTORS

    key = field.removeprefix("params.")
    cls = DETECTORS.get(detector)
    if cls is None or "." in key or not message.startswith("unknown parameter ("):
        return message
    known = list(inspect.signature(cls).parameters)
    return (
        f"unknown parameter {key!r}{did_you_mean(key, known)}{message[len('unknown parameter') :]}"
    )


# Items of these top-level collections are reported as objects: watch 'checkout'.
_OBJECTS = {"watches": "watch", "actions": "action", "rollbacks": "rollback"}


def parse_config(data: Any, source: str = "<detect.yaml>") -> DetectConfig:
    """Validate ``data`` (as loaded by :func:`load_config`, or plain dicts); problems raise
    :class:`SpecError`, located at the line of each field when ``data`` knows its lines."""
    places = named_places(data, source, _OBJECTS)
    try:
        return DetectConfig.model_validate(
            {} if data is None else data, context={"source": source, "places": places}
        )
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, DetectConfig, places, Where(source))) from exc


def load_config(path: str | Path) -> DetectConfig:
    """Read and validate ``detect.yaml``; every problem is one line naming file, line and field."""
    data, problems = load_mapping(Path(path))
    if problems:
        raise SpecError(problems)
    config = parse_config(data, str(path))
    if config.api.token_file:
        places = named_places(data, str(path), _OBJECTS)
        api_token(config.api, places.get("api.token_file", Where(str(path), "api", "token_file")))
    return config
