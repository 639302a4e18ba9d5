"""Whether an action may run, in a fixed order: lease, then guards, then approval, then audit.

Every decision, taken or refused, is one row of the audit log. The lease makes
several ``detect serve`` processes on one database decide one after the other on a
target: the second sees the first's action in the audit log and its cooldown refuses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from sloplane.detect import approvals, hooks
from sloplane.detect.config import ActionConfig, DetectConfig
from sloplane.detect.events import Events
from sloplane.detect.guards import Evidence, Limits, plan_scale, refusal
from sloplane.detect.store import DRY_RUN, EXECUTED, FAILED, PENDING, REFUSED, Store

log = logging.getLogger("sloplane.detectors")

#: Seconds a target lease outlasts the longest its hook can run (a decision's own work).
LEASE_MARGIN = 30.0
#: Seconds between tries for a lease another process holds.
LEASE_POLL = 0.1


class ActionGate:
    """Decides, acts through the hook registry, and audits."""

    def __init__(
        self,
        config: DetectConfig,
        store: Store,
        events: Events,
        clock: Callable[[], float],
        holder: str,
        lease_margin: float = LEASE_MARGIN,
    ) -> None:
        self.config = config
        self.store = store
        self.events = events
        self.clock = clock
        self.holder = holder
        """Names this process in target leases (and in a refusal another process records)."""
        self.lease_margin = lease_margin

    def request(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        """Decide through the guards and act if they allow; returns the audited outcome."""
        with self.target_lease(a) as busy:
            if busy:
                return self.audit(self.clock(), a, trigger, REFUSED, busy, context)
            return self._decide(a, trigger=trigger, evidence=evidence, context=context)

    def approve(self, approval_id: int, approved: bool) -> str | None:
        """Carry out (or reject) a pending approval; returns the outcome or None if not pending."""
        row = self.store.set_approval(approval_id, "approved" if approved else "rejected")
        if row is None:
            return None
        a = self.config.action(row.action)
        trigger = f"approval #{approval_id}: {row.trigger}"
        if not approved:
            return self.audit(
                self.clock(), a, trigger, REFUSED, "rejected by approver", dict(row.details)
            )
        with self.target_lease(a) as busy:
            if busy:
                return self.audit(self.clock(), a, trigger, REFUSED, busy, dict(row.details))
            return self._execute(a, trigger, dict(row.details), self.clock())

    @contextlib.contextmanager
    def target_lease(self, a: ActionConfig) -> Iterator[str]:
        """Hold the target's lease; yields "" when held, else why it could not be taken."""
        ttl = hooks.longest_run(a.hook) + self.lease_margin
        deadline = time.monotonic() + ttl
        while not self.store.try_lease(a.target_key, self.holder, self.clock(), ttl):
            if time.monotonic() >= deadline:
                held = self.store.lease_holder(a.target_key)
                who = held[0] if held else "another process"
                yield f"target busy: {who} has been deciding on it for over {ttl:g}s"
                return
            time.sleep(LEASE_POLL)
        try:
            yield ""
        finally:
            self.store.release_lease(a.target_key, self.holder)

    def limits(self, a: ActionConfig) -> Limits:
        g = self.config.guards
        return Limits(
            cooldown=a.cooldown if a.cooldown is not None else g.cooldown,
            max_per_hour=a.max_actions_per_hour
            if a.max_actions_per_hour is not None
            else g.max_actions_per_hour,
        )

    def _decide(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        g = self.config.guards
        now = self.clock()
        limits = self.limits(a)
        recent = self.store.actions_since(a.target_key, now - max(3600.0, limits.cooldown))
        reason = refusal(evidence, limits, recent, now)
        if reason:
            return self.audit(now, a, trigger, REFUSED, reason, context)
        details, reason = self._plan(a, context)
        if reason:
            return self.audit(now, a, trigger, REFUSED, reason, context)
        if a.dry_run if a.dry_run is not None else g.dry_run:
            return self.audit(now, a, trigger, DRY_RUN, "dry-run: would act", details)
        if a.require_approval if a.require_approval is not None else g.require_approval:
            approval_id = self.store.add_approval(
                now=now, action=a.name, target=a.target_key, trigger=trigger, details=details
            )
            approvals.announce(self.config.approval, approval_id, a, trigger)
            return self.audit(
                now,
                a,
                trigger,
                PENDING,
                f"waiting for approval #{approval_id}",
                {**details, "approval": approval_id},
            )
        return self._execute(a, trigger, details, now)

    def _plan(self, a: ActionConfig, context: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The action's details with the scale to set; or why none can be chosen."""
        details = dict(context)
        if a.scaling is None:
            return details, ""
        try:
            current = self._current_replicas(a)
        except Exception as exc:  # unknown current scale is missing data too
            return details, f"current scale unknown: {exc}"
        s = a.scaling
        wanted, why = plan_scale(current, s.step, s.min_replicas, s.max_replicas, s.max_step)
        if wanted is None:
            return details, why
        details.update(current_replicas=current, replicas=wanted)
        return details, ""

    def _current_replicas(self, a: ActionConfig) -> int:
        assert a.scaling is not None
        reported = hooks.kind_of(a.hook).current_replicas(a.hook)
        if reported is not None:
            return reported
        stored = self.store.scale(a.name)
        return stored if stored is not None else a.scaling.min_replicas

    def _execute(self, a: ActionConfig, trigger: str, details: dict[str, Any], now: float) -> str:
        call = hooks.HookCall(a, trigger, jsonable(details), now)
        try:
            result = hooks.kind_of(a.hook).run(a.hook, call)
        except hooks.HookError as exc:
            return self.audit(now, a, trigger, FAILED, str(exc), details)
        if a.scaling is not None:
            self.store.set_scale(a.name, int(details["replicas"]), now)
        return self.audit(now, a, trigger, EXECUTED, "", {**details, "result": result})

    def audit(
        self,
        now: float,
        a: ActionConfig,
        trigger: str,
        outcome: str,
        reason: str,
        details: dict[str, Any],
    ) -> str:
        """One row of the audit log, one count, one log line; returns ``outcome``."""
        self.store.record(
            at=now,
            action=a.name,
            target=a.target_key,
            trigger=trigger,
            outcome=outcome,
            reason=reason,
            details=jsonable(details),
        )
        self.events.count(f"actions_{outcome}", a.name)
        log.info(
            "action %s on %s: %s%s", a.name, a.target_key, outcome, f" ({reason})" if reason else ""
        )
        return outcome


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out
