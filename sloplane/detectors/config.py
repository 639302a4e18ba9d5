"""``detect.yaml``: what the detector service watches, whom it tells, what it may do.

Every guard is on by default; turning one off is an explicit line in the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from sloplane.errors import Problem, SpecError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Prometheus-style duration such as ``90s``, ``5m``, ``1h30m``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrometheusConfig(_Strict):
    url: str = "http://127.0.0.1:9090"
    timeout: Duration = 10.0


class AlertmanagerConfig(_Strict):
    url: str | None = "http://127.0.0.1:9093"
    resend_every: Duration = 60.0
    """Firing alerts are re-posted this often so AlertManager does not resolve them."""
    alert_ttl: Duration = 300.0
    """``endsAt`` of a firing alert is now plus this; re-sends keep pushing it forward."""
    generator_url: str = ""
    """Base URL for the alert's link back, e.g. your Prometheus or Grafana; the query is appended."""


class TrafficGuard(_Strict):
    query: str
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
    query: str
    step: Duration = 30.0
    lookback: Duration = 3600.0
    """History read on start-up to warm the detector."""
    interval: Duration | None = None
    """How often to poll; defaults to ``step``."""
    detector: str = "ensemble"
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float = Field(0.53, ge=0.0, le=1.0)
    consecutive: int = Field(3, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    traffic: TrafficGuard | None = None
    actions: list[str] = Field(default_factory=list)


class WebhookHook(_Strict):
    kind: Literal["webhook"]
    url: str
    secret_env: str | None = None
    """Environment variable holding the HMAC-SHA256 key (never put secrets in the file)."""
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
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    hook: Hook
    target: str | None = None
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
    burn_query: str
    """PromQL that returns a series while the page-level burn condition holds."""
    deploy_time_query: str | None = None
    """PromQL whose value is the Unix time of the last deploy; or post deploys to the API."""
    deploy_target: str | None = None
    """Key under which deploys are posted to ``/v1/detectors/deploys``."""
    within: Duration = 1800.0
    action: str
    interval: Duration = 30.0


class ApprovalConfig(_Strict):
    slack_webhook_env: str | None = None
    """Environment variable holding a Slack incoming-webhook URL to announce pending approvals."""


class DetectConfig(_Strict):
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    database: str = "sqlite:///sloplane-detect.db"
    listen: str = "127.0.0.1:9310"
    guards: Guards = Field(default_factory=Guards)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    watches: list[WatchConfig] = Field(default_factory=list)
    actions: list[ActionConfig] = Field(default_factory=list)
    rollbacks: list[DeployRollback] = Field(default_factory=list)
    outbox_interval: Duration = 5.0

    @model_validator(mode="after")
    def _references(self) -> DetectConfig:
        names = {a.name for a in self.actions}
        for w in self.watches:
            for a in w.actions:
                if a not in names:
                    raise ValueError(f"watch {w.name!r} names unknown action {a!r}")
        for r in self.rollbacks:
            if r.action not in names:
                raise ValueError(f"rollback {r.name!r} names unknown action {r.action!r}")
            if not (r.deploy_time_query or r.deploy_target):
                raise ValueError(f"rollback {r.name!r} needs deploy_time_query or deploy_target")
        if len({w.name for w in self.watches}) != len(self.watches):
            raise ValueError("watch names must be unique")
        return self

    def action(self, name: str) -> ActionConfig:
        return next(a for a in self.actions if a.name == name)


def parse_config(data: Any, source: str = "<detect.yaml>") -> DetectConfig:
    try:
        return DetectConfig.model_validate(data or {})
    except ValidationError as exc:
        raise SpecError(
            Problem(file=source, field=".".join(str(p) for p in err["loc"]), message=err["msg"])
            for err in exc.errors()
        ) from exc


def load_config(path: str | Path) -> DetectConfig:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError([Problem(file=str(p), message=f"cannot read: {exc}")]) from exc
    return parse_config(data, str(p))
