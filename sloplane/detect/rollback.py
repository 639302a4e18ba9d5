"""Roll back when a page-level SLO burn starts soon after a deploy."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from sloplane.clients.prometheus import PromReader
from sloplane.detect.config import DeployRollback, DetectConfig
from sloplane.detect.gate import ActionGate
from sloplane.detect.guards import Evidence
from sloplane.detect.store import REFUSED, Store
from sloplane.errors import BackendError

#: ``(action, trigger, evidence, context)``: ask the gate (on the action thread).
Request = Callable[..., object]


class RollbackWatch:
    """Remembers which burns are on, so only the start of a burn asks for a rollback."""

    def __init__(
        self,
        config: DetectConfig,
        prom: PromReader,
        store: Store,
        gate: ActionGate,
        clock: Callable[[], float],
        lock: threading.RLock,
        request: Request,
    ) -> None:
        self.config = config
        self.prom = prom
        self.store = store
        self.gate = gate
        self.clock = clock
        self.lock = lock
        self.request = request
        self.burning: dict[str, bool] = {}

    def tick(self, name: str) -> None:
        """Read the burn and the deploy time (outside the service lock: a slow Prometheus
        must not hold up /metrics), then decide under it."""
        r = next(x for x in self.config.rollbacks if x.name == name)
        now = self.clock()
        a = self.config.action(r.action)
        try:
            burning = bool(self.prom.instant(r.burn_query, now))
            deploy_t = self.deploy_time(r, now)
        except BackendError as exc:
            if self.burning.get(name):
                self.gate.audit(now, a, f"burn {name}", REFUSED, f"data not trustworthy: {exc}", {})
            return
        with self.lock:
            started = burning and not self.burning.get(name, False)
            self.burning[name] = burning
            if not started or deploy_t is None or now - deploy_t > r.within:
                return
            self.request(
                a,
                trigger=f"burn {name} started {now - deploy_t:.0f}s after deploy",
                evidence=Evidence(breaches=1, required_breaches=1),
                context={"rollback": name, "deploy_time": deploy_t},
            )

    def evidence(self, name: str) -> Evidence:
        """Whether the burn still holds now; what an approval of its rollback re-checks."""
        r = next((x for x in self.config.rollbacks if x.name == name), None)
        if r is None:
            return Evidence(data_error=f"rollback {name} is no longer configured")
        try:
            burning = bool(self.prom.instant(r.burn_query, self.clock()))
        except BackendError as exc:
            return Evidence(data_error=str(exc))
        return Evidence(breaches=1 if burning else 0, required_breaches=1)

    def deploy_time(self, r: DeployRollback, now: float) -> float | None:
        times = []
        if r.deploy_time_query:
            samples = self.prom.instant(r.deploy_time_query, now)
            times += [s.value for s in samples if math.isfinite(s.value)]
        if r.deploy_target:
            t = self.store.deploy_time(r.deploy_target)
            if t is not None:
                times.append(t)
        return max(times) if times else None
