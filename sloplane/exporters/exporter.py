"""The exporter: configured targets on ``/metrics``, any address on ``/probe``.

``/metrics`` scrapes every configured target concurrently (each sample carries a
``target`` label naming it) plus the exporter's own process metrics. ``/probe``
follows the multi-target pattern of blackbox_exporter and postgres_exporter:
``/probe?module=NAME&target=ADDRESS`` scrapes one address with a module's
settings and credentials, and adds no labels (Prometheus relabels ``instance``).
Probe targets are kept in a bounded LRU cache, so their connections are reused
across scrapes and closed when evicted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import InfoMetricFamily, Metric

from sloplane import __version__
from sloplane.exporters.config import (
    ExporterConfig,
    HttpModule,
    PgBouncerModule,
    PostgresModule,
    RabbitMQModule,
    RedisModule,
    parse_address,
)
from sloplane.exporters.families import merge
from sloplane.exporters.target import Backend, Target


class ProbeRequestError(ValueError):
    """A ``/probe`` request that names an unknown module or a malformed target (HTTP 400)."""


class ProbeForbidden(PermissionError):
    """A ``/probe`` request that would send a module's credentials where it may not (HTTP 403)."""


def make_backend(
    module: PostgresModule | PgBouncerModule | RedisModule | RabbitMQModule | HttpModule,
    address: str,
) -> Backend:
    """The backend for one address, talking with one module's settings."""
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

    return HttpProbeBackend(module, parsed)


class _Static:
    """A registry-like object whose ``collect`` yields families already gathered."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return iter(self._metrics)


class Exporter:
    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
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
                )
            )
        self._probes: OrderedDict[tuple[str, str], Target] = OrderedDict()
        self._probes_lock = threading.Lock()
        self._self_registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._self_registry)
        PlatformCollector(registry=self._self_registry)
        GCCollector(registry=self._self_registry)

    def metrics(self) -> _Static:
        """Every configured target, scraped concurrently, plus the exporter's own metrics."""
        flights = [(target, target.start()) for target in self.targets]
        groups = [target.finish(flight) for target, flight in flights]
        info = InfoMetricFamily("sloplane_exporter_build", "sloplane exporter version.")
        info.add_metric([], {"version": __version__})
        own = [info, *self._self_registry.collect()]
        return _Static(merge([*groups, own]))

    def probe(self, module_name: str, address: str) -> _Static:
        """One address scraped with one module.

        Raises ProbeRequestError on bad parameters, ProbeForbidden when the module's
        credentials may not go to that address (its ``allowed_targets``).
        """
        module = self.config.module(module_name)
        if module is None:
            raise ProbeRequestError(f"unknown module {module_name!r}")
        try:
            parsed = parse_address(module.kind, address)
        except ValueError as exc:
            raise ProbeRequestError(str(exc)) from exc
        refusal = module.probe_refusal(module_name, parsed)
        if refusal is not None:
            raise ProbeForbidden(refusal)
        key = (module_name, address)
        with self._probes_lock:
            target = self._probes.get(key)
            if target is None:
                try:
                    backend = make_backend(module, address)
                except ValueError as exc:
                    raise ProbeRequestError(str(exc)) from exc
                # The name is for logs only: an HTTP target's query string stays out of them.
                target = Target(parsed.shown, backend, module.timeout_seconds)
                self._probes[key] = target
                while len(self._probes) > self.config.probe_cache_size:
                    _, evicted = self._probes.popitem(last=False)
                    evicted.close()
            else:
                self._probes.move_to_end(key)
        return _Static(target.scrape())

    def close(self) -> None:
        with self._probes_lock:
            probes = list(self._probes.values())
            self._probes.clear()
        for target in [*self.targets, *probes]:
            target.close()
