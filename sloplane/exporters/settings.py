"""The exporter's settings as the serving process holds them: plain frozen dataclasses.

:mod:`.config` validates ``exporters.yaml`` with pydantic and hands back these objects;
the serving process (:mod:`.serve`) receives them already validated and never imports
pydantic, PyYAML or click, which would cost it more memory than the Go exporters it is
measured against use in all (docs/exporters.md, "Memory"). So this module imports the
standard library only. The fields mirror :mod:`.config`'s schema one for one (a test
pins that), with the same defaults; constructing one directly, as tests do, skips the
schema's checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from sloplane.exporters.allow import IP, allowed, ip_of, special_refusal

Kind = Literal["postgres", "pgbouncer", "redis", "rabbitmq", "http"]
KINDS: tuple[Kind, ...] = ("postgres", "pgbouncer", "redis", "rabbitmq", "http")
DEFAULT_LISTEN = "127.0.0.1:9465"
SSLMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class Secret:
    """A password that stays out of reprs, logs and error messages (pydantic's SecretStr
    without pydantic)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __getstate__(self) -> str:
        return self._value

    def __setstate__(self, state: str) -> None:
        self._value = state


def _secret(value: Secret | str | None) -> Secret | None:
    return Secret(value) if isinstance(value, str) else value


#: Asked before a probe connects to a host (name, port, addresses): why not, or None.
Guard = Callable[["Address", Sequence[IP]], "str | None"]


@dataclass(frozen=True)
class _Credentials:
    """A password given inline or, better, as a file whose content is read on connect."""

    password: Secret | None = field(default=None, kw_only=True)
    password_file: Path | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "password", _secret(self.password))

    def secret(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password is not None else None


@dataclass(frozen=True)
class _Probeable:
    """What every module has: where ``/probe`` may send it (see :mod:`.allow`)."""

    allowed_targets: list[str] | None = field(default=None, kw_only=True)

    def has_credentials(self) -> bool:
        """Whether the module sends a secret, so ``/probe`` must not aim it anywhere."""
        return False

    def probe_refusal(self, name: str, address: Address, resolved: Sequence[IP] = ()) -> str | None:
        """Why ``/probe`` may not use this module for ``address``, or None when it may.

        ``resolved`` are the addresses a host name resolves to (an IP literal needs none):
        loopback and link-local ones are refused unless ``allowed_targets`` names them.
        """
        literal = ip_of(address.host)
        ips = [literal] if literal is not None else list(resolved)
        special = special_refusal(self.allowed_targets, address.host, address.port, ips)
        if special is not None:
            return special
        if self.allowed_targets is None:
            if not self.has_credentials():
                return None
            return (
                f"module {name!r} carries credentials and has no allowed_targets, so /probe"
                f" will not send them anywhere; list the addresses it may probe under"
                f" modules.{name}.allowed_targets"
            )
        if allowed(self.allowed_targets, address.host, address.port):
            return None
        return f"target {address.shown!r} is not in modules.{name}.allowed_targets"


@dataclass(frozen=True)
class _CredentialedModule(_Credentials, _Probeable):
    def has_credentials(self) -> bool:
        return self.password is not None or self.password_file is not None


@dataclass(frozen=True)
class PostgresModule(_CredentialedModule):
    kind: Literal["postgres"] = "postgres"
    user: str = "postgres"
    database: str = "postgres"
    sslmode: SSLMode = "prefer"
    timeout_seconds: float = 5.0
    # pg_database_size() is costly and slow-moving: refreshed at most this often (0: every scrape).
    size_cache_seconds: float = 30.0


@dataclass(frozen=True)
class PgBouncerModule(_CredentialedModule):
    """PgBouncer's admin console (``SHOW POOLS`` and friends): a user in stats_users or admin_users."""

    kind: Literal["pgbouncer"] = "pgbouncer"
    user: str = "pgbouncer"
    sslmode: SSLMode = "prefer"
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class RedisModule(_CredentialedModule):
    kind: Literal["redis"] = "redis"
    username: str | None = None
    tls: bool = False
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class RabbitMQModule(_CredentialedModule):
    kind: Literal["rabbitmq"] = "rabbitmq"
    username: str = "guest"
    vhost: str = "/"
    management: Literal["auto", "on", "off"] = "auto"
    management_port: int = 15672
    management_tls: bool = False
    queues: list[str] = field(default_factory=list)
    # Management mode: at most this many queues per scrape (most messages ready first);
    # rabbitmq_exporter_queues_omitted counts the rest.
    queue_limit: int = 1000
    # Scraped beside the broker's rabbitmq_prometheus plugin: report only what it lacks.
    beside_plugin: bool = False
    timeout_seconds: float = 5.0

    def secret_or_default(self) -> str:
        secret = self.secret()
        return "guest" if secret is None and self.username == "guest" else (secret or "")


@dataclass(frozen=True)
class BasicAuth(_Credentials):
    username: str


@dataclass(frozen=True)
class HttpModule(_Probeable):
    kind: Literal["http"] = "http"
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    valid_status_codes: list[int] = field(default_factory=list)
    follow_redirects: bool = True
    max_redirects: int = 5
    fail_if_body_not_matches_regexp: list[str] = field(default_factory=list)
    fail_if_body_matches_regexp: list[str] = field(default_factory=list)
    fail_if_not_tls: bool = False
    tls_verify: bool = True
    ca_file: Path | None = None
    basic_auth: BasicAuth | None = None
    bearer_token_file: Path | None = None
    max_body_bytes: int = 1 << 20
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        # As the schema reads it: ``basic_auth`` may be given as its mapping.
        if isinstance(self.basic_auth, dict):
            object.__setattr__(self, "basic_auth", BasicAuth(**self.basic_auth))

    def has_credentials(self) -> bool:
        # Configured headers count: they are where API keys usually go.
        return bool(self.basic_auth or self.bearer_token_file or self.headers)

    def status_ok(self, status: int) -> bool:
        if self.valid_status_codes:
            return status in self.valid_status_codes
        return 200 <= status < 300


AnyModule = PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule


@dataclass(frozen=True)
class TargetConfig:
    name: str
    module: str
    address: str


@dataclass(frozen=True)
class ProbeSettings:
    """Whether and how ``/probe`` answers: off unless enabled, bounded when on."""

    #: ``/probe`` lets whoever reaches the exporter choose the address: off unless asked for.
    enabled: bool = False
    #: The built-in modules (named after the kinds) ``/probe`` accepts; ``[]`` for none.
    builtin_modules: list[Kind] = field(default_factory=lambda: list(KINDS))
    #: Probe collections running at once; more are answered 503 at once, never queued.
    max_concurrent: int = 16


@dataclass(frozen=True)
class ExporterConfig:
    listen: str = DEFAULT_LISTEN
    modules: dict[str, AnyModule] = field(default_factory=dict)
    targets: list[TargetConfig] = field(default_factory=list)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    probe_cache_size: int = 64

    def module(self, name: str) -> AnyModule | None:
        """A configured module, or the built-in default named after a kind."""
        if name in self.modules:
            return self.modules[name]
        return BUILTIN_MODULES.get(name)

    def probe_module(self, name: str) -> AnyModule | None:
        """The module ``/probe?module=name`` may use: a configured one, or an enabled built-in."""
        if name in self.modules:
            return self.modules[name]
        if name in self.probe.builtin_modules:
            return BUILTIN_MODULES.get(name)
        return None


BUILTIN_MODULES: dict[str, AnyModule] = {
    "postgres": PostgresModule(),
    "pgbouncer": PgBouncerModule(),
    "redis": RedisModule(),
    "rabbitmq": RabbitMQModule(),
    "http": HttpModule(),
}

DEFAULT_PORTS: dict[str, int] = {
    "postgres": 5432,
    "pgbouncer": 6432,
    "redis": 6379,
    "rabbitmq": 5672,
}


@dataclass(frozen=True)
class Address:
    """Where a target lives. ``path`` is the database for PostgreSQL, the URL for HTTP."""

    host: str
    port: int
    path: str = ""
    url: str = ""

    @property
    def shown(self) -> str:
        """The address as logs and messages may show it: an HTTP query string is redacted."""
        if self.url:
            return redact_url(self.url)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" + (f"/{self.path}" if self.path else "")


#: Query parameter names (lowercased, without ``-_.``) that carry a secret. A ``/probe`` URL
#: ends up in Prometheus' config, its target list and logs, so secrets belong in the module.
_SECRET_PARAMS = frozenset(
    {
        "auth",
        "authorization",
        "credential",
        "credentials",
        "key",
        "pass",
        "passwd",
        "pwd",
        "session",
        "sessionid",
        "sig",
        "signature",
    }
)
_SECRET_PARTS = ("token", "secret", "password", "apikey", "accesskey", "privatekey", "authkey")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter's name says it carries a secret (``token``, ``api_key``...)."""
    key = re.sub(r"[-_.\s]", "", name.lower())
    return key in _SECRET_PARAMS or any(part in key for part in _SECRET_PARTS)


def redact_url(url: str) -> str:
    """``url`` without userinfo, and with any query string replaced by ``?<redacted>``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "?<redacted>" if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}" if parts.scheme else url


def shown_address(address: str) -> str:
    """An unparsed address safe to repeat in an error: no userinfo, no query string."""
    if "://" in address:
        return redact_url(address)
    head = address.split("?", 1)[0].split("#", 1)[0]
    return head.rpartition("@")[2] + ("?<redacted>" if "?" in address else "")


def parse_address(kind: str, address: str) -> Address:
    """Parse a target address for ``kind``; raise ValueError on anything carrying credentials.

    Messages never repeat userinfo or a query string: they end up in HTTP 400 bodies and logs.
    """
    address = address.strip()
    if not address:
        raise ValueError("empty target address")
    if kind == "http":
        return _parse_http(address)
    if "@" in address:
        raise ValueError("credentials are not accepted in the target; use the module")
    if "://" in address:
        raise ValueError(f"{kind} target is host[:port], not a URL: {shown_address(address)!r}")
    parts = urlsplit("//" + address)
    if parts.query or parts.fragment:
        raise ValueError("credentials and options are not accepted in the target; use the module")
    try:
        port = parts.port or DEFAULT_PORTS[kind]
    except ValueError as exc:
        raise ValueError(f"bad port in {shown_address(address)!r}") from exc
    if not parts.hostname:
        raise ValueError(f"no host in {shown_address(address)!r}")
    path = parts.path.lstrip("/")
    if path and kind != "postgres":
        raise ValueError(f"{kind} target takes no path: {shown_address(address)!r}")
    return Address(parts.hostname, port, path)


def _parse_http(address: str) -> Address:
    parts = urlsplit(address)
    if "@" in parts.netloc:
        raise ValueError("credentials are not accepted in the target; use the module")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"HTTP target must be an http:// or https:// URL, got {shown_address(address)!r}"
        )
    secret = sorted(
        {n for n, _ in parse_qsl(parts.query, keep_blank_values=True) if is_secret_param(n)}
    )
    if secret:
        raise ValueError(
            f"credentials are not accepted in the target's query string ({', '.join(secret)});"
            " use the module's headers, basic_auth or bearer_token_file"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"bad port in {shown_address(address)!r}") from exc
    return Address(parts.hostname, port, parts.path or "/", address)
