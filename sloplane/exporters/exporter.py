"""The exporter: configured targets on ``/metrics``, addresses a caller names on ``/probe``.

``/metrics`` scrapes every configured target concurrently (each sample carries a
``target`` label naming it) plus the exporter's own process metrics. ``/probe``
follows the multi-target pattern of blackbox_exporter and postgres_exporter:
``/probe?module=NAME&target=ADDRESS`` scrapes one address with a module's
settings and credentials, and adds no labels (Prometheus relabels ``instance``).
Probe targets are kept in a bounded LRU cache, so their connections are reused
across scrapes and closed when evicted.

``/probe`` is off unless the config enables it, and refuses loopback and link-local
addresses unless a module names them (see :mod:`.allow`). The two endpoints collect in
separate :class:`~.target.WorkerPool` s, so probes never delay the configured targets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import partial

from sloplane import __version__
from sloplane.exporters.allow import resolve
from sloplane.exporters.exposition import Metric, process_metrics
from sloplane.exporters.families import merge
from sloplane.exporters.settings import (
    BUILTIN_MODULES,
    ExporterConfig,
    Guard,
    HttpModule,
    PgBouncerModule,
    PostgresModule,
    RabbitMQModule,
    RedisModule,
    parse_address,
)
from sloplane.exporters.target import Backend, PoolFull, Target, WorkerPool


class ProbeRequestError(ValueError):
    """A ``/probe`` request that names an unknown module or a malformed target (HTTP 400)."""


class ProbeForbidden(PermissionError):
    """A ``/probe`` request refused by configuration (HTTP 403): ``/probe`` off, credentials
    or a loopback/link-local address the module's ``allowed_targets`` does not name."""


class ProbeBusy(RuntimeError):
    """Every ``/probe`` worker is busy (HTTP 503): the probe was not started, nor queued."""


def make_backend(
    module: PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule,
    address: str,
    guard: Guard | None = None,
) -> Backend:
    """The backend for one address, talking with one module's settings.

    ``guard`` (for ``/probe``) is asked before the HTTP probe connects anywhere.
    """
    parsed = parse_address(module.kind, address)
    if isinstance(module, PostgresModule):
        from sloplane.exporters.postgres import PostgresBackend

        return PostgresBackend(module, parsed)
    if isinstance(module, PgBouncerModule):
        from sloplane.exporters.pgbouncer import PgBouncerBackend

        return PgBouncerBackend(module, parsed)
    if isinstance(module, RedisModule):
        from sloplane.exporters.redis_collector import RedisBackend

        return RedisBackend(module, parsed)
    if isinstance(module, RabbitMQModule):
        from sloplane.exporters.rabbitmq import RabbitMQBackend

        return RabbitMQBackend(module, parsed)
    from sloplane.exporters.http_probe import HttpProbeBackend

    return HttpProbeBackend(module, parsed, guard)


class _Static:
    """A registry-like object whose ``collect`` yields families already gathered."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return iter(self._metrics)


class Exporter:
    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        # One worker per configured target, so they never wait for one another nor for
        # /probe, whose collections run in their own pool (see WorkerPool).
        self._metrics_pool = WorkerPool(max(1, len(config.targets)), "sloplane-metrics")
        self._probe_pool = WorkerPool(config.probe.max_concurrent, "sloplane-probe")
        self.targets: list[Target] = []
        for target in config.targets:
            module = config.module(target.module)
            assert module is not None  # the config validator checked it
            self.targets.append(
                Target(
                    target.name,
                    make_backend(module, target.address),
                    module.timeout_seconds,
                    {"target": target.name},
                    self._metrics_pool,
                )
            )
        self._probes: OrderedDict[tuple[str, str], Target] = OrderedDict()
        self._probes_lock = threading.Lock()

    def metrics(self, deadline: float | None = None) -> _Static:
        """Every configured target, scraped concurrently, plus the exporter's own metrics.

        ``deadline`` (``time.monotonic()``) is the scraper's: no target is waited for past it.
        """
        flights = [(target, target.start()) for target in self.targets]
        groups = [target.finish(flight, deadline) for target, flight in flights]
        info = Metric("sloplane_exporter_build", "sloplane exporter version.", "info")
        info.add_sample("sloplane_exporter_build_info", {"version": __version__}, 1.0)
        own = [info, *process_metrics()]
        return _Static(merge([*groups, own]))

    def probe(self, module_name: str, address: str, deadline: float | None = None) -> _Static:
        """One address scraped with one module.

        Raises ProbeRequestError on bad parameters; ProbeForbidden when ``/probe`` is off,
        or the module may not go to that address (its ``allowed_targets``, and loopback
        and link-local addresses unless listed); ProbeBusy when every probe worker is busy.
        Every refusal is decided before any connection is opened, so its timing says
        nothing about the target.
        """
        if not self.config.probe.enabled:
            raise ProbeForbidden("/probe is disabled; enable it with probe.enabled in the config")
        module = self.config.probe_module(module_name)
        if module is None:
            if module_name in BUILTIN_MODULES:
                raise ProbeRequestError(
                    f"built-in module {module_name!r} is disabled for /probe"
                    " (probe.builtin_modules)"
                )
            raise ProbeRequestError(f"unknown module {module_name!r}")
        try:
            parsed = parse_address(module.kind, address)
        except ValueError as exc:
            raise ProbeRequestError(str(exc)) from exc
        resolved = resolve(parsed.host, parsed.port, module.timeout_seconds)
        refusal = module.probe_refusal(module_name, parsed, resolved)
        if refusal is not None:
            raise ProbeForbidden(refusal)
        key = (module_name, address)
        with self._probes_lock:
            target = self._probes.get(key)
            if target is None:
                try:
                    # Each hop of an HTTP probe (redirects too) is checked again where it
                    # connects, so neither a redirect nor a changed DNS answer gets around it.
                    backend = make_backend(
                        module, address, partial(module.probe_refusal, module_name)
                    )
                except ValueError as exc:
                    raise ProbeRequestError(str(exc)) from exc
                # The name is for logs only: an HTTP target's query string stays out of them.
                target = Target(
                    parsed.shown, backend, module.timeout_seconds, pool=self._probe_pool
                )
                self._probes[key] = target
                while len(self._probes) > self.config.probe_cache_size:
                    _, evicted = self._probes.popitem(last=False)
                    evicted.close()
            else:
                self._probes.move_to_end(key)
        try:
            flight = target.start()
        except PoolFull as exc:
            raise ProbeBusy(
                f"{self._probe_pool.size} probes are running (probe.max_concurrent); retry later"
            ) from exc
        return _Static(target.finish(flight, deadline))

    def close(self) -> None:
        with self._probes_lock:
            probes = list(self._probes.values())
            self._probes.clear()
        for target in [*self.targets, *probes]:
            target.close()
        self._metrics_pool.shutdown()
        self._probe_pool.shutdown()
