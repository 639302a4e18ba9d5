"""The ``exporters.yaml`` configuration: modules (how to talk to a kind of server,
credentials included) and targets (which server, with which module).

This module is the schema: pydantic checks the file, and every problem names the file,
line, object and field. What :func:`load_config` returns are the plain dataclasses of
:mod:`.settings`, which the serving process uses without importing pydantic (it is
started already validated, see :mod:`.serve`). The classes here mirror those one for one.

Credentials live only here, inline or in files read at connect time so a rotated
secret is picked up on the next reconnect. A ``/probe`` URL names a module and an
address, never a user or password: :func:`parse_address` rejects userinfo.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

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
from sloplane.exporters import settings
from sloplane.exporters.allow import parse_pattern
from sloplane.exporters.settings import (
    BUILTIN_MODULES,
    DEFAULT_LISTEN,
    DEFAULT_PORTS,
    KINDS,
    Address,
    BasicAuth,
    ExporterConfig,
    Guard,
    HttpModule,
    Kind,
    PgBouncerModule,
    PostgresModule,
    ProbeSettings,
    RabbitMQModule,
    RedisModule,
    SSLMode,
    TargetConfig,
    is_secret_param,
    parse_address,
    redact_url,
    shown_address,
)
from sloplane.listen import parse_listen
from sloplane.located import Loc, Where, did_you_mean, locate, named_places, validation_problems
from sloplane.yamldoc import load_mapping

__all__ = [
    "BUILTIN_MODULES",
    "DEFAULT_LISTEN",
    "DEFAULT_PORTS",
    "KINDS",
    "Address",
    "BasicAuth",
    "ExporterConfig",
    "Guard",
    "HttpModule",
    "Kind",
    "PgBouncerModule",
    "PostgresModule",
    "ProbeSettings",
    "RabbitMQModule",
    "RedisModule",
    "TargetConfig",
    "is_secret_param",
    "load_config",
    "parse_address",
    "parse_config",
    "redact_url",
    "shown_address",
]


class _Strict(BaseModel):
    """A schema object; ``settings_class`` is the :mod:`.settings` dataclass it becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    settings_class: ClassVar[type]

    def to_settings(self) -> Any:
        """The validated values as the :mod:`.settings` dataclass (nested ones too)."""
        return self.settings_class(
            **{name: _to_settings(getattr(self, name)) for name in type(self).model_fields}
        )


def _to_settings(value: Any) -> Any:
    if isinstance(value, _Strict):
        return value.to_settings()
    if isinstance(value, SecretStr):
        return settings.Secret(value.get_secret_value())
    if isinstance(value, list):
        return [_to_settings(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_settings(v) for k, v in value.items()}
    return value


class _Credentials(_Strict):
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> _Credentials:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        return self


class _Probeable(_Strict):
    allowed_targets: list[str] | None = None

    @field_validator("allowed_targets")
    @classmethod
    def _patterns_parse(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            parse_pattern(pattern)
        return patterns


class _CredentialedModule(_Credentials, _Probeable):
    pass


class _PostgresSchema(_CredentialedModule):
    settings_class = PostgresModule
    kind: Literal["postgres"]
    user: str = "postgres"
    database: str = "postgres"
    sslmode: SSLMode = "prefer"
    timeout_seconds: float = Field(5.0, gt=0, le=300)
    size_cache_seconds: float = Field(30.0, ge=0)


class _PgBouncerSchema(_CredentialedModule):
    settings_class = PgBouncerModule
    kind: Literal["pgbouncer"]
    user: str = "pgbouncer"
    sslmode: SSLMode = "prefer"
    timeout_seconds: float = Field(5.0, gt=0, le=300)


class _RedisSchema(_CredentialedModule):
    settings_class = RedisModule
    kind: Literal["redis"]
    username: str | None = None
    tls: bool = False
    timeout_seconds: float = Field(5.0, gt=0, le=300)


class _RabbitMQSchema(_CredentialedModule):
    settings_class = RabbitMQModule
    kind: Literal["rabbitmq"]
    username: str = "guest"
    vhost: str = "/"
    management: Literal["auto", "on", "off"] = "auto"
    management_port: int = Field(15672, gt=0, lt=65536)
    management_tls: bool = False
    queues: list[str] = Field(default_factory=list)
    queue_limit: int = Field(1000, ge=1)
    beside_plugin: bool = False
    timeout_seconds: float = Field(5.0, gt=0, le=300)


class _BasicAuthSchema(_Credentials):
    settings_class = BasicAuth
    username: str


class _HttpSchema(_Probeable):
    settings_class = HttpModule
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
    basic_auth: _BasicAuthSchema | None = None
    bearer_token_file: Path | None = None
    max_body_bytes: int = Field(1 << 20, gt=0)
    timeout_seconds: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _regexes_compile(self) -> _HttpSchema:
        for pattern in [*self.fail_if_body_not_matches_regexp, *self.fail_if_body_matches_regexp]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
        return self


_Module = Annotated[
    _PostgresSchema | _PgBouncerSchema | _RedisSchema | _RabbitMQSchema | _HttpSchema,
    Field(discriminator="kind"),
]


class _TargetSchema(_Strict):
    settings_class = TargetConfig
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    module: str
    address: str


class _ProbeSchema(_Strict):
    settings_class = ProbeSettings
    enabled: bool = False
    builtin_modules: list[Kind] = Field(default_factory=lambda: list(KINDS))
    max_concurrent: int = Field(16, ge=1, le=1024)


class _ExporterSchema(_Strict):
    settings_class = ExporterConfig
    listen: str = DEFAULT_LISTEN
    modules: dict[str, _Module] = Field(default_factory=dict)
    targets: list[_TargetSchema] = Field(default_factory=list)
    probe: _ProbeSchema = Field(default_factory=_ProbeSchema)
    probe_cache_size: int = Field(64, ge=1, le=10_000)

    @field_validator("listen")
    @classmethod
    def _listen_parses(cls, listen: str) -> str:
        parse_listen(listen)
        return listen

    @model_validator(mode="after")
    def _targets_resolve(self, info: ValidationInfo) -> _ExporterSchema:
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
            module = self.modules.get(target.module) or BUILTIN_MODULES.get(target.module)
            if module is None:
                known = sorted({*self.modules, *BUILTIN_MODULES})
                hint = did_you_mean(target.module, known)
                yield ("targets", i, "module"), f"no module {target.module!r}{hint}"
                continue
            try:
                parse_address(module.kind, target.address)
            except ValueError as exc:
                yield ("targets", i, "address"), str(exc)


_HttpSchema.model_rebuild()
_ExporterSchema.model_rebuild()

#: Each schema class and the settings dataclass it becomes (tests check they agree).
SCHEMAS: tuple[type[_Strict], ...] = (
    _PostgresSchema,
    _PgBouncerSchema,
    _RedisSchema,
    _RabbitMQSchema,
    _BasicAuthSchema,
    _HttpSchema,
    _TargetSchema,
    _ProbeSchema,
    _ExporterSchema,
)


# Entries of these top-level collections are reported as objects: module 'pg', target 'db'.
_OBJECTS = {"modules": "module", "targets": "target"}


def parse_config(data: Any, source: str = "<exporters.yaml>") -> ExporterConfig:
    """Validate ``data`` (as :func:`load_config` reads it, or plain dicts); every problem is a
    located :class:`~sloplane.errors.Problem` in a :class:`SpecError`."""
    places = named_places(data, source, _OBJECTS)
    try:
        schema = _ExporterSchema.model_validate(data, context={"source": source, "places": places})
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, _ExporterSchema, places, Where(source))) from exc
    config: ExporterConfig = schema.to_settings()
    return config


def load_config(path: Path) -> ExporterConfig:
    """Read and validate ``exporters.yaml``; each problem names the file, line, object and field."""
    data, problems = load_mapping(path)
    if problems:
        raise SpecError(problems)
    return parse_config(data, str(path))
