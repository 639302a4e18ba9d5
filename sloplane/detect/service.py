"""The detector service: the parts of :mod:`sloplane.detect` put together, and run.

:class:`Service` owns no logic of its own: the :class:`~sloplane.detect.poller.Poller`
scores, the :class:`~sloplane.detect.outbox.AlertOutbox` alerts, the
:class:`~sloplane.detect.gate.ActionGate` decides and acts, and
:class:`~sloplane.detect.rollback.RollbackWatch` watches burns after deploys.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client.registry import CollectorRegistry

from sloplane import logs
from sloplane.clients.prometheus import PrometheusClient, PromReader
from sloplane.detect.config import (
    ActionConfig,
    DetectConfig,
    WatchConfig,
    WebhookHook,
    api_token,
)
from sloplane.detect.events import Events
from sloplane.detect.gate import ActionGate
from sloplane.detect.guards import Evidence
from sloplane.detect.metrics import ServiceMetrics
from sloplane.detect.outbox import ALERTNAME, AlertOutbox
from sloplane.detect.poller import Poller
from sloplane.detect.rollback import RollbackWatch
from sloplane.detect.scheduler import start_scheduler
from sloplane.detect.server import HttpServer, bind
from sloplane.detect.state import SeriesState, WatchState
from sloplane.detect.store import REFUSED, Store
from sloplane.errors import SloplaneError

__all__ = ["ALERTNAME", "SeriesState", "Service", "WatchState", "run_service"]

log = logging.getLogger("sloplane.detectors")


class Service:
    """All the service's parts; :meth:`start` runs them on a schedule and serves HTTP."""

    def __init__(
        self,
        config: DetectConfig,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        prom: PromReader | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store or Store(config.database)
        self.prom: PromReader = prom or PrometheusClient(
            config.prometheus.url, config.prometheus.timeout, reject_warnings=True
        )
        """Partial answers (warnings) are errors: the service must not act on part of the data."""
        self.lock = threading.RLock()
        """Guards the watches' state between polls and scrapes."""
        self.events = Events(config)
        self.counters = self.events.counts
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.gate = ActionGate(config, self.store, self.events, clock, holder)
        self.outbox = AlertOutbox(config, self.store, self.events, clock)
        self.poller = Poller(
            config,
            self.prom,
            self.outbox,
            self.events,
            clock,
            self.lock,
            on_anomaly=self._on_anomaly,
            on_outage=self._on_outage,
        )
        self.watches = self.poller.watches
        self.rollbacks = RollbackWatch(
            config, self.prom, self.store, self.gate, clock, self.lock, self.gate.submit
        )
        self.registry = CollectorRegistry()
        self.registry.register(
            ServiceMetrics(self.watches, self.events, self.lock, config.shard_of)
        )
        self._scheduler: Any = None
        self._http: HttpServer | None = None

    # --- the parts' entry points ---------------------------------------------------------

    def tick_watch(self, name: str) -> None:
        self.poller.tick(name)

    def tick_rollback(self, name: str) -> None:
        self.rollbacks.tick(name)

    def deliver_outbox(self) -> int:
        return self.outbox.deliver()

    def request_action(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        """Decide through the gate and act if it allows; returns the audited outcome."""
        return self.gate.request(a, trigger=trigger, evidence=evidence, context=context)

    def approve(self, approval_id: int, approved: bool) -> str | None:
        """Carry out (or reject) a pending approval; returns the outcome or None if not pending.

        Every guard is re-run with data read now (see :meth:`ActionGate.approve`).
        """
        return self.gate.approve(approval_id, approved, self._fresh_evidence)

    def maintain(self) -> None:
        """Expire stale approvals; record hooks of vanished processes as ``unknown``."""
        self.gate.expire_approvals()
        self.gate.recover_unfinished()

    def _fresh_evidence(self, details: Mapping[str, Any]) -> Evidence:
        """What the request's source says now: the watched series, or the SLO burn."""
        if "watch" in details:
            return self.poller.fresh_evidence(str(details["watch"]), details.get("series") or {})
        if "rollback" in details:
            return self.rollbacks.evidence(str(details["rollback"]))
        return Evidence(breaches=1)  # asked for directly: only the limits and the lease apply

    def _on_anomaly(
        self,
        w: WatchConfig,
        st: SeriesState,
        trigger: str,
        evidence: Evidence,
        context: dict[str, Any],
    ) -> None:
        for action in w.actions:
            self.gate.submit(
                self.config.action(action), trigger=trigger, evidence=evidence, context=context
            )

    def _on_outage(self, w: WatchConfig, error: str) -> None:
        now = self.clock()
        for action in w.actions:
            a = self.config.action(action)
            self.gate.audit(
                now, a, f"anomaly {w.name}", REFUSED, f"data not trustworthy: {error}", {}
            )

    # --- running --------------------------------------------------------------------------

    def start(self, serve_http: bool = True) -> None:
        """Schedule the polls and serve HTTP; raises :class:`SloplaneError` if it cannot listen.

        The listening socket is bound before anything is scheduled, so a bad ``listen``
        stops the service instead of leaving it running with no API and no /metrics.
        """
        if serve_http:
            self._check_api_auth()
        sock = bind(self.config.listen) if serve_http else None
        try:
            self.gate.recover_unfinished()
            self._scheduler = start_scheduler(
                self.config, self.tick_watch, self.tick_rollback, self.deliver_outbox, self.maintain
            )
            if sock is not None:
                from sloplane.detect.routes import create_app

                self._http = HttpServer(create_app(self), self.config.listen)
                self._http.start(sock)
        except BaseException:
            if sock is not None and self._http is None:
                sock.close()
            self.stop()
            raise

    def _check_api_auth(self) -> None:
        api = self.config.api
        if api.read_only or api.allow_unauthenticated or api_token(api) is not None:
            return
        raise SloplaneError(
            "the detector API's POST endpoints (approvals, deploys) need a bearer token: "
            f"set api.token_file or ${api.token_env}, or api.read_only: true "
            "(or api.allow_unauthenticated: true on a listener only you can reach)"
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        self.gate.close()
        self.store.engine.dispose()


QUIET_LOGGERS = ("alembic", "apscheduler", "httpx", "httpcore", "uvicorn")
"""Libraries that log every job run or request at INFO; shown only with ``--log-level debug``."""


def configure_logging(level: str = "info") -> None:
    logs.configure(level, quiet=QUIET_LOGGERS)


def run_service(config: DetectConfig, log_level: str = "info") -> None:
    """Run until SIGINT or SIGTERM."""
    configure_logging(log_level)
    for action in config.actions:
        if isinstance(action.hook, WebhookHook) and action.hook.legacy_signature:
            log.warning(
                "Action %s: legacy_signature is deprecated: X-Sloplane-Signature signs the "
                "body alone and can be replayed; verify Sloplane-Signature and remove it.",
                action.name,
            )
    svc = Service(config)
    svc.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info(
        "sloplane detect is serving on %s with %d watches, shard %s.",
        config.listen,
        len(config.watches),
        config.shard,
    )
    try:
        stop.wait()
    finally:
        svc.stop()
