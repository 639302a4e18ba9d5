"""Whether an action may run, in a fixed order: lease, then guards, then approval, then audit.

Every decision, taken or refused, is one row of the audit log. The lease makes
several ``detect serve`` processes on one database decide one after the other on a
target: the second sees the first's action in the audit log and its cooldown refuses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sloplane.detect import approvals, hooks
from sloplane.detect.config import ActionConfig, DetectConfig
from sloplane.detect.events import Events
from sloplane.detect.guards import Evidence, Limits, plan_scale, refusal
from sloplane.detect.store import (
    DRY_RUN,
    EXECUTED,
    FAILED,
    PENDING,
    REFUSED,
    STARTED,
    UNKNOWN,
    ApprovalRow,
    Store,
)

log = logging.getLogger("sloplane.detectors")

#: Seconds a target lease outlasts the longest its hook can run (a decision's own work).
LEASE_MARGIN = 30.0
#: Seconds between tries for a lease another process holds.
LEASE_POLL = 0.1
#: Decisions (and their hooks) running at once off the poll and HTTP threads.
ACTION_THREADS = 4

#: Fresh evidence for an approval's action, from the details its request stored.
FreshEvidence = Callable[[Mapping[str, Any]], Evidence]


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
        self._pool = ThreadPoolExecutor(ACTION_THREADS, thread_name_prefix="sloplane-action")
        self._submitted: set[Future[str]] = set()
        self._submitted_lock = threading.Lock()

    def submit(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> Future[str]:
        """:meth:`request` on an action thread: a hook never holds up a poll or ``/metrics``."""
        future = self._pool.submit(
            self.request, a, trigger=trigger, evidence=evidence, context=context
        )
        with self._submitted_lock:
            self._submitted.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[str]) -> None:
        with self._submitted_lock:
            self._submitted.discard(future)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted decision (and its hook) has finished; False on timeout."""
        with self._submitted_lock:
            pending = set(self._submitted)
        return not wait(pending, timeout=timeout).not_done

    def close(self) -> None:
        """Wait for running decisions and hooks (their outcomes get audited), then stop."""
        self._pool.shutdown(wait=True)

    def request(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        """Decide through the guards and act if they allow; returns the audited outcome."""
        with self.target_lease(a) as busy:
            if busy:
                return self.audit(self.clock(), a, trigger, REFUSED, busy, context)
            return self._decide(a, trigger=trigger, evidence=evidence, context=context)

    def approve(
        self, approval_id: int, approved: bool, fresh: FreshEvidence | None = None
    ) -> str | None:
        """Carry out (or reject) a pending approval; returns the outcome or None if not pending.

        Approving re-runs every guard now, as a fresh request would: the data must be
        fresh (``fresh`` re-reads it), the cooldown and hourly limit count what ran since
        the request, the scale is planned again from the current replicas, and the
        target's lease is taken. An approval older than ``approval.expire_after`` expires.
        """
        self.expire_approvals()
        row = self.store.set_approval(approval_id, "approved" if approved else "rejected")
        if row is None:
            return None
        a = self.config.action(row.action)
        trigger = f"approval #{approval_id}: {row.trigger}"
        details = dict(row.details)
        if not approved:
            return self.audit(self.clock(), a, trigger, REFUSED, "rejected by approver", details)
        with self.target_lease(a) as busy:
            now = self.clock()
            if busy:
                return self.audit(now, a, trigger, REFUSED, busy, details)
            evidence = fresh(details) if fresh is not None else Evidence(breaches=1)
            limits = self.limits(a)
            since = now - max(3600.0, limits.cooldown)
            recent = self.store.actions_since(a.target_key, since, pending=False)
            reason = refusal(evidence, limits, recent, now)
            if reason:
                return self.audit(now, a, trigger, REFUSED, f"at approval: {reason}", details)
            planned, reason = self._plan(a, details)
            if reason:
                return self.audit(now, a, trigger, REFUSED, f"at approval: {reason}", details)
            return self._execute(a, trigger, planned, now)

    def expire_approvals(self) -> int:
        """Expire pending approvals older than ``approval.expire_after``; audits each."""
        ttl = self.config.approval.expire_after
        now = self.clock()
        expired = self.store.expire_approvals(now - ttl)
        for row in expired:
            self._audit_expired(row, now, ttl)
        return len(expired)

    def _audit_expired(self, row: ApprovalRow, now: float, ttl: float) -> None:
        try:
            a = self.config.action(row.action)
        except StopIteration:  # the action left detect.yaml since
            return
        reason = f"approval #{row.id} expired unanswered after {ttl:g}s"
        self.audit(now, a, f"approval #{row.id}: {row.trigger}", REFUSED, reason, row.details)

    def recover_unfinished(self) -> int:
        """Record hooks started by a process that is gone as ``unknown``; never re-run them.

        A hook whose process died (``kill -9``, a crash) may or may not have acted: the
        audit log says so, and the attempt keeps counting against the target's limits.
        A started hook whose target lease is still held by a live process is left alone.
        """
        recovered = 0
        for row in self.store.started():
            holder = str((row.details or {}).get("holder", ""))
            if holder == self.holder or not _holder_gone(holder, row.target, self.store, self):
                continue
            details = {k: v for k, v in (row.details or {}).items() if k != "holder"}
            reason = (
                f"unknown outcome: {holder or 'the process'} stopped while the hook ran; "
                "not re-run, check the target"
            )
            self.store.finish(row.id, UNKNOWN, reason, details)
            self.store.release_lease(row.target, holder)  # its holder cannot release it now
            self.events.count(f"actions_{UNKNOWN}", row.action)
            log.warning("Action %s on %s: %s.", row.action, row.target, reason)
            recovered += 1
        return recovered

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
        """Audit the intent, run the hook, audit the outcome in the same row.

        The intent is written first, so a process killed during the hook leaves a
        ``started`` row that :meth:`recover_unfinished` turns into ``unknown``; it
        counts against the limits like any attempt.
        """
        plain = jsonable(details)
        intent = self.store.record(
            at=now,
            action=a.name,
            target=a.target_key,
            trigger=trigger,
            outcome=STARTED,
            reason="hook running",
            details={**plain, "holder": self.holder},
        )
        log.info("Action %s on %s: the hook has started.", a.name, a.target_key)
        try:
            result = hooks.kind_of(a.hook).run(a.hook, hooks.HookCall(a, trigger, plain, now))
        except hooks.HookError as exc:
            return self._finish(intent, a, FAILED, str(exc), plain)
        except Exception as exc:  # a hook bug is a failed attempt, never a silent one
            log.exception("Action %s: the hook raised an error.", a.name)
            return self._finish(intent, a, FAILED, f"hook error: {exc}", plain)
        if a.scaling is not None:
            self.store.set_scale(a.name, int(details["replicas"]), now)
        return self._finish(intent, a, EXECUTED, "", {**plain, "result": result})

    def _finish(
        self, intent: int, a: ActionConfig, outcome: str, reason: str, details: dict[str, Any]
    ) -> str:
        self.store.finish(intent, outcome, reason, jsonable(details))
        return self._announce(a, outcome, reason)

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
        return self._announce(a, outcome, reason)

    def _announce(self, a: ActionConfig, outcome: str, reason: str) -> str:
        """Count and log a decision once its audit row is written; returns ``outcome``.

        Shared by a row written whole (:meth:`audit`) and a row finished after its hook
        (:meth:`_finish`), so ``/metrics`` and the log say the same as the audit log.
        """
        self.events.count(f"actions_{outcome}", a.name)
        log.info(
            "Action %s on %s: %s%s.",
            a.name,
            a.target_key,
            outcome,
            f" ({reason})" if reason else "",
        )
        return outcome


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out


def _holder_gone(holder: str, target: str, store: Store, gate: ActionGate) -> bool:
    """True when the process that started a hook can no longer report its outcome.

    A process on this host is checked directly; one elsewhere is gone once its lease
    on the target has expired (it holds the lease for as long as its hook can run).
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        if int(pid_text) == os.getpid():
            return True  # this pid, another holder: an earlier run of this process (a restart)
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    held = store.lease_holder(target)
    return held is None or held[0] != holder or held[1] < gate.clock()
