"""The ``exporters.yaml`` configuration: modules (how to talk to a kind of server,
credentials included) and targets (which server, with which module).

Credentials live only here, inline or in files read at connect time so a rotated
secret is picked up on the next reconnect. A ``/probe`` URL names a module and an
address, never a user or password: :func:`parse_address` rejects userinfo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sloplane.errors import SpecError
from sloplane.exporters.allow import IP, allowed, ip_of, parse_pattern, special_refusal
from sloplane.listen import parse_listen
from sloplane.located import Loc, Where, did_you_mean, locate, named_places, validation_problems
from sloplane.yamldoc import load_mapping

Kind = Literal["postgres", "pgbouncer", "redis", "rabbitmq", "http"]
KINDS: tuple[Kind, ...] = ("postgres", "pgbouncer", "redis", "rabbitmq", "http")
DEFAULT_LISTEN = "127.0.0.1:9465"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Credentials(_Strict):
    """A password given inline or, better, as a file whose content is read on connect."""

    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> _Credentials:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        return self

    def secret(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password is not None else None


#: Asked before a probe connects to a host (name, port, addresses): why not, or None.
Guard = Callable[["Address", Sequence[IP]], "str | None"]


class _Probeable(_Strict):
    """What every module has: where ``/probe`` may send it (see :mod:`.allow`)."""

    allowed_targets: list[str] | None = None

    @field_validator("allowed_targets")
    @classmethod
    def _patterns_parse(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            parse_pattern(pattern)
        return patterns

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


class _CredentialedModule(_Credentials, _Probeable):
    def has_credentials(self) -> bool:
        return self.password is not None or self.password_file is not None


class PostgresModule(_CredentialedModule):
    kind: Literal["postgres"]
    user: str = "postgres"
    database: str = "postgres"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    timeout_seconds: float = Field(5.0, gt=0, le=300)
    # pg_database_size() is costly and slow-moving: refreshed at most this often (0: every scrape).
    size_cache_seconds: float = Field(30.0, ge=0)


class PgBouncerModule(_CredentialedModule):
    """PgBouncer's admin console (``SHOW POOLS`` and friends): a user in stats_users or admin_users."""

    kind: Literal["pgbouncer"]
    user: str = "pgbouncer"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    timeout_seconds: float = Field(5.0, gt=0, le=300)


class RedisModule(_CredentialedModule):
    kind: Literal["redis"]
    username: str | None = None
    tls: bool = False
    timeout_seconds: float = Field(5.0, gt=0, le=300)


class RabbitMQModule(_CredentialedModule):
    kind: Literal["rabbitmq"]
    username: str = "guest"
    vhost: str = "/"
    management: Literal["auto", "on", "off"] = "auto"
    management_port: int = Field(15672, gt=0, lt=65536)
    management_tls: bool = False
    queues: list[str] = Field(default_factory=list)
    # Management mode: at most this many queues per scrape (most messages ready first);
    # rabbitmq_exporter_queues_omitted counts the rest.
    queue_limit: int = Field(1000, ge=1)
    # Scraped beside the broker's rabbitmq_prometheus plugin: report only what it lacks.
    beside_plugin: bool = False
    timeout_seconds: float = Field(5.0, gt=0, le=300)

    def secret_or_default(self) -> str:
        secret = self.secret()
        return "guest" if secret is None and self.username == "guest" else (secret or "")


class HttpModule(_Probeable):
    kind: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    valid_status_codes: list[int] = Field(default_factory=list)
    follow_redirects: bool = True
    max_redirects: int = Field(5, ge=0, le=20)
    fail_if_body_not_matches_regexp: list[str] = Field(default_factory=list)
    fail_if_body_matches_regexp: list[str] = Field(default_factory=list)
    fail_if_not_tls: bool = False
    tls_verify: bool = True
    ca_file: Path | None = None
    basic_auth: BasicAuth | None = None
    bearer_token_file: Path | None = None
    max_body_bytes: int = Field(1 << 20, gt=0)
    timeout_seconds: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _regexes_compile(self) -> HttpModule:
        for pattern in [*self.fail_if_body_not_matches_regexp, *self.fail_if_body_matches_regexp]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
        return self

    def has_credentials(self) -> bool:
        # Configured headers count: they are where API keys usually go.
        return bool(self.basic_auth or self.bearer_token_file or self.headers)

    def status_ok(self, status: int) -> bool:
        if self.valid_status_codes:
            return status in self.valid_status_codes
        return 200 <= status < 300


class BasicAuth(_Credentials):
    username: str


Module = Annotated[
    PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule,
    Field(discriminator="kind"),
]


class TargetConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    module: str
    address: str


class ProbeSettings(_Strict):
    """Whether and how ``/probe`` answers: off unless enabled, bounded when on."""

    #: ``/probe`` lets whoever reaches the exporter choose the address: off unless asked for.
    enabled: bool = False
    #: The built-in modules (named after the kinds) ``/probe`` accepts; ``[]`` for none.
    builtin_modules: list[Kind] = Field(default_factory=lambda: list(KINDS))
    #: Probe collections running at once; more are answered 503 at once, never queued.
    max_concurrent: int = Field(16, ge=1, le=1024)


class ExporterConfig(_Strict):
    listen: str = DEFAULT_LISTEN
    modules: dict[str, Module] = Field(default_factory=dict)
    targets: list[TargetConfig] = Field(default_factory=list)
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    probe_cache_size: int = Field(64, ge=1, le=10_000)

    @field_validator("listen")
    @classmethod
    def _listen_parses(cls, listen: str) -> str:
        parse_listen(listen)
        return listen

    @model_validator(mode="after")
    def _targets_resolve(self, info: ValidationInfo) -> ExporterConfig:
        """Every target's name, module and address, each problem located like a field error.

        Raised as :class:`SpecError` so pydantic passes it through with its locations; the
        context's ``places`` (from :func:`load_config`) give the lines.
        """
        context = info.context or {}
        places: Mapping[str, Where] = context.get("places") or {}
        default = Where(context.get("source", "<exporters.yaml>"))
        problems = [locate(places, loc, default).problem(msg) for loc, msg in self._problems()]
        if problems:
            raise SpecError(problems)
        return self

    def _problems(self) -> Iterator[tuple[Loc, str]]:
        seen: set[str] = set()
        for i, target in enumerate(self.targets):
            if target.name in seen:
                yield ("targets", i, "name"), "target names must be unique"
            seen.add(target.name)
            module = self.module(target.module)
            if module is None:
                known = sorted({*self.modules, *BUILTIN_MODULES})
                hint = did_you_mean(target.module, known)
                yield ("targets", i, "module"), f"no module {target.module!r}{hint}"
                continue
            try:
                parse_address(module.kind, target.address)
            except ValueError as exc:
                yield ("targets", i, "address"), str(exc)

    def module(
        self, name: str
    ) -> PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule | None:
        """A configured module, or the built-in default named after a kind."""
        if name in self.modules:
            return self.modules[name]
        return BUILTIN_MODULES.get(name)

    def probe_module(
        self, name: str
    ) -> PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule | None:
        """The module ``/probe?module=name`` may use: a configured one, or an enabled built-in."""
        if name in self.modules:
            return self.modules[name]
        if name in self.probe.builtin_modules:
            return BUILTIN_MODULES.get(name)
        return None


HttpModule.model_rebuild()
ExporterConfig.model_rebuild()

BUILTIN_MODULES: dict[
    str, PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule
] = {
    "postgres": PostgresModule(kind="postgres"),
    "pgbouncer": PgBouncerModule(kind="pgbouncer"),
    "redis": RedisModule(kind="redis"),
    "rabbitmq": RabbitMQModule(kind="rabbitmq"),
    "http": HttpModule(kind="http"),
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


# Entries of these top-level collections are reported as objects: module 'pg', target 'db'.
_OBJECTS = {"modules": "module", "targets": "target"}


def parse_config(data: Any, source: str = "<exporters.yaml>") -> ExporterConfig:
    """Validate ``data`` (as :func:`load_config` reads it, or plain dicts); every problem is a
    located :class:`~sloplane.errors.Problem` in a :class:`SpecError`."""
    places = named_places(data, source, _OBJECTS)
    try:
        return ExporterConfig.model_validate(data, context={"source": source, "places": places})
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, ExporterConfig, places, Where(source))) from exc


def load_config(path: Path) -> ExporterConfig:
    """Read and validate ``exporters.yaml``; each problem names the file, line, object and field."""
    data, problems = load_mapping(path)
    if problems:
        raise SpecError(problems)
    return parse_config(data, str(path))
