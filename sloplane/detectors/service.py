"""The detector service: poll Prometheus, score, alert through AlertManager, act through guards.

Each watched query is polled by an APScheduler job that reads only the points
it has not seen (``query_range`` from the last point on), feeds them to one
detector per series and publishes ``sloplane_anomaly_score``. A series that
breaches its threshold for ``consecutive`` points fires an alert (through the
persistent outbox) and asks its actions to run; the guards decide. Prometheus
errors, missing series and stale points never count as evidence.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from sloplane.detectors import alertmanager, hooks
from sloplane.detectors.base import Detector
from sloplane.detectors.config import (
    ActionConfig,
    CommandHook,
    DeployRollback,
    DetectConfig,
    KedaHook,
    KubernetesHook,
    WatchConfig,
    WebhookHook,
    api_token,
)
from sloplane.detectors.detectors import make_detector
from sloplane.detectors.guards import Evidence, Limits, plan_scale, refusal
from sloplane.detectors.metric_names import ACTION_OUTCOMES, WATCH_EVENTS
from sloplane.detectors.prom import PromClient, PromError, format_labels
from sloplane.detectors.store import DRY_RUN, EXECUTED, FAILED, PENDING, REFUSED, Store, utc_iso
from sloplane.errors import BackendError, SloplaneError
from sloplane.listen import parse_listen

log = logging.getLogger("sloplane.detectors")

ALERTNAME = "SloplaneAnomaly"

#: Seconds a target lease outlasts the longest its hook can run (a decision's own work).
LEASE_MARGIN = 30.0
#: Seconds between tries for a lease another process holds.
LEASE_POLL = 0.1


@dataclass
class SeriesState:
    labels: dict[str, str]
    detector: Detector
    last_t: float | None = None
    last_value: float = math.nan
    last_score: float = 0.0
    consecutive: int = 0
    last_breach_t: float | None = None
    """Data time of the newest point at or above the threshold."""
    firing_since: float | None = None
    last_sent: float = 0.0
    expected: tuple[float, float] | None = None


@dataclass
class WatchState:
    config: WatchConfig
    series: dict[str, SeriesState] = field(default_factory=dict)
    error: str | None = None
    polled_until: float | None = None
    refused_during_outage: bool = False
    returned: int | None = None
    """Series the query returned on the last successful poll (None before the first);
    0 means the watch sees nothing."""

    def warming_up(self) -> int:
        """Series whose detector cannot score yet."""
        return sum(1 for st in self.series.values() if st.detector.warming_up)


class Service:
    """All the service's state and steps; :meth:`start` runs them on a schedule."""

    def __init__(
        self,
        config: DetectConfig,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store or Store(config.database)
        self.prom = PromClient(config.prometheus.url, config.prometheus.timeout)
        self.watches = {w.name: WatchState(w) for w in config.watches}
        self.burning: dict[str, bool] = {}
        self.counters: dict[tuple[str, str], int] = _zero_counters(config)
        self.lock = threading.RLock()
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """Names this process in target leases (and in a refusal another process records)."""
        self.registry = CollectorRegistry()
        self.registry.register(_Metrics(self))
        self._scheduler: Any = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None

    # --- polling and scoring -------------------------------------------------

    def tick_watch(self, name: str) -> None:
        """Read new points of one watched query, score them, alert and act."""
        with self.lock:
            ws = self.watches[name]
            w = ws.config
            now = self.clock()
            start = ws.polled_until + w.step if ws.polled_until is not None else now - w.lookback
            start = math.floor(start / w.step) * w.step
            if start > now:  # no new point is due yet; an empty range is not an outage
                return
            try:
                result = self.prom.query_range(w.query, start, now, w.step)
            except PromError as exc:
                self._on_outage(ws, str(exc), now)
                return
            if ws.error is not None:
                log.info("watch %s: Prometheus answers again", name)
            ws.error = None
            ws.refused_during_outage = False
            if not result and ws.returned != 0:
                log.warning(
                    "watch %s: the query returned no series since %s: nothing is being scored",
                    name,
                    utc_iso(start),
                )
            ws.returned = len(result)
            ws.polled_until = max((p[0] for s in result for p in s.points), default=ws.polled_until)
            for rs in result:
                key = format_labels(rs.labels)
                st = ws.series.get(key)
                if st is None:
                    st = ws.series[key] = SeriesState(
                        rs.labels, make_detector(w.detector, **w.params)
                    )
                self._feed(st, w, rs.points)
            for st in ws.series.values():
                self._evaluate(ws, st, now)

    def _feed(self, st: SeriesState, w: WatchConfig, points: Iterable[tuple[float, float]]) -> None:
        for t, v in points:
            if st.last_t is not None and t <= st.last_t:
                continue
            st.last_score = st.detector.update(t, v)
            st.last_t, st.last_value = t, v
            st.expected = st.detector.expected_range
            breach = st.last_score >= w.threshold
            st.consecutive = st.consecutive + 1 if breach else 0
            if breach:
                st.last_breach_t = t
            self._count("points", w.name)

    def _staleness(self, st: SeriesState, now: float) -> str | None:
        if st.last_t is None:
            return "no data yet"
        age = now - st.last_t
        if age > self.config.guards.max_staleness:
            return f"newest point is {age:.0f}s old (limit {self.config.guards.max_staleness:.0f}s)"
        return None

    def _evaluate(self, ws: WatchState, st: SeriesState, now: float) -> None:
        w = ws.config
        stale = self._staleness(st, now)
        if stale:
            return  # missing data is not evidence either way: no alert change, no action
        if st.firing_since is None:
            if st.consecutive >= w.consecutive:
                self._start_firing(w, st, now)
        elif self._recovered(w, st):
            log.info("watch %s: %s recovered, alert resolved", w.name, format_labels(st.labels))
            self._send_alert(w, st, now, firing=False)
            st.firing_since = None
        elif now - st.last_sent >= self.config.alertmanager.resend_every:
            self._send_alert(w, st, now, firing=True)

    def _start_firing(self, w: WatchConfig, st: SeriesState, now: float) -> None:
        """A new episode: alert, and ask for the watch's actions once."""
        st.firing_since = now
        series = format_labels(st.labels)
        log.info(
            "watch %s: %s anomalous (score %.3f, value %g), alert firing",
            w.name,
            series,
            st.last_score,
            st.last_value,
        )
        self._send_alert(w, st, now, firing=True)
        for action in w.actions:
            self.request_action(
                self.config.action(action),
                trigger=f"anomaly {w.name} {series} score {st.last_score:.3f}",
                evidence=self._evidence(w, st, now),
                context={
                    "watch": w.name,
                    "series": st.labels,
                    "score": st.last_score,
                    "value": st.last_value,
                },
            )

    @staticmethod
    def _recovered(w: WatchConfig, st: SeriesState) -> bool:
        """Below the threshold, and ``keep_firing_for`` past the last breach (in data time)."""
        if st.last_score >= w.threshold or st.last_t is None:
            return False
        return st.last_breach_t is None or st.last_t - st.last_breach_t >= w.keep_firing_for

    def _evidence(self, w: WatchConfig, st: SeriesState, now: float) -> Evidence:
        traffic = traffic_error = None
        if w.traffic is not None:
            try:
                rows = self.prom.query(w.traffic.query, now)
                traffic = sum(v for _, _, v in rows if math.isfinite(v)) if rows else None
            except PromError as exc:
                traffic_error = str(exc)
        return Evidence(
            data_error=self._staleness(st, now),
            breaches=st.consecutive,
            required_breaches=w.consecutive,
            traffic=traffic,
            traffic_min=w.traffic.min if w.traffic else None,
            traffic_error=traffic_error,
        )

    def _on_outage(self, ws: WatchState, error: str, now: float) -> None:
        # once per outage (and when the error changes), not on every poll while it lasts
        (log.debug if error == ws.error else log.warning)("watch %s: %s", ws.config.name, error)
        ws.error = error
        self._count("poll_errors", ws.config.name)
        breaching = any(st.consecutive > 0 or st.firing_since for st in ws.series.values())
        if breaching and ws.config.actions and not ws.refused_during_outage:
            ws.refused_during_outage = True
            for action in ws.config.actions:
                a = self.config.action(action)
                self._audit(
                    now,
                    a,
                    f"anomaly {ws.config.name}",
                    REFUSED,
                    f"data not trustworthy: {error}",
                    {},
                )

    # --- alerts ---------------------------------------------------------------

    def _send_alert(self, w: WatchConfig, st: SeriesState, now: float, *, firing: bool) -> None:
        am = self.config.alertmanager
        labels = {**st.labels, **w.labels, "alertname": ALERTNAME, "watch": w.name}
        labels.pop("__name__", None)
        lo, hi = st.expected if st.expected else (math.nan, math.nan)
        annotations = {
            "summary": f"Anomaly in {w.name}",
            "value": f"{st.last_value:g}",
            "expected_range": f"{lo:.6g} .. {hi:.6g}" if st.expected else "unknown",
            "score": f"{st.last_score:.3f}",
            "threshold": f"{w.threshold:g}",
            "query": w.query,
        }
        gen = ""
        base = am.generator_url or self.config.prometheus.url
        if base:
            gen = f"{base.rstrip('/')}/graph?g0.expr={urllib.parse.quote(w.query)}&g0.tab=0"
        body = alertmanager.alert(
            labels=labels,
            annotations=annotations,
            starts_at=st.firing_since or now,
            ends_at=now + am.alert_ttl if firing else now,
            generator_url=gen,
        )
        st.last_sent = now
        if am.url:
            self.store.enqueue([body], now)
            self._count("alerts_firing" if firing else "alerts_resolved", w.name)
        self.deliver_outbox()

    def deliver_outbox(self) -> int:
        """Send queued alerts in order; stop at the first failure so none overtakes another."""
        url = self.config.alertmanager.url
        if not url:
            return 0
        sent = 0
        for row in self.store.pending():
            try:
                alertmanager.post_alerts(url, _loads(row.payload), timeout=5.0)
            except BackendError as exc:
                self.store.mark_failed(row.id, str(exc))
                self._count("outbox_errors", "alertmanager")
                break
            self.store.mark_delivered(row.id, self.clock())
            sent += 1
        return sent

    # --- actions --------------------------------------------------------------

    def request_action(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        """Decide through the guards and act if they allow; returns the audited outcome.

        The decision and the hook run under the target's lease, so two ``detect serve``
        processes on one database decide one after the other: the second sees the first's
        action in the audit log and its cooldown refuses.
        """
        with self._target_lease(a) as busy:
            if busy:
                return self._audit(self.clock(), a, trigger, REFUSED, busy, context)
            return self._decide(a, trigger=trigger, evidence=evidence, context=context)

    @contextlib.contextmanager
    def _target_lease(self, a: ActionConfig) -> Iterator[str]:
        """Hold the target's lease; yields "" when held, else why it could not be taken."""
        ttl = hooks.longest_run(a.hook) + LEASE_MARGIN
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

    def _decide(
        self, a: ActionConfig, *, trigger: str, evidence: Evidence, context: dict[str, Any]
    ) -> str:
        g = self.config.guards
        now = self.clock()
        limits = Limits(
            cooldown=a.cooldown if a.cooldown is not None else g.cooldown,
            max_per_hour=a.max_actions_per_hour
            if a.max_actions_per_hour is not None
            else g.max_actions_per_hour,
        )
        recent = self.store.actions_since(a.target_key, now - max(3600.0, limits.cooldown))
        reason = refusal(evidence, limits, recent, now)
        if reason:
            return self._audit(now, a, trigger, REFUSED, reason, context)
        details = dict(context)
        if a.scaling is not None:
            try:
                current = self._current_replicas(a)
            except Exception as exc:  # unknown current scale is missing data too
                return self._audit(
                    now, a, trigger, REFUSED, f"current scale unknown: {exc}", context
                )
            wanted, why = plan_scale(
                current,
                a.scaling.step,
                a.scaling.min_replicas,
                a.scaling.max_replicas,
                a.scaling.max_step,
            )
            if wanted is None:
                return self._audit(now, a, trigger, REFUSED, why, context)
            details.update(current_replicas=current, replicas=wanted)
        if a.dry_run if a.dry_run is not None else g.dry_run:
            return self._audit(now, a, trigger, DRY_RUN, "dry-run: would act", details)
        if a.require_approval if a.require_approval is not None else g.require_approval:
            approval_id = self.store.add_approval(
                now=now, action=a.name, target=a.target_key, trigger=trigger, details=details
            )
            self._announce_approval(approval_id, a, trigger)
            return self._audit(
                now,
                a,
                trigger,
                PENDING,
                f"waiting for approval #{approval_id}",
                {**details, "approval": approval_id},
            )
        return self._execute(a, trigger, details, now)

    def _current_replicas(self, a: ActionConfig) -> int:
        assert a.scaling is not None
        if isinstance(a.hook, KubernetesHook):
            return hooks.k8s_replicas(a.hook)
        stored = self.store.scale(a.name)
        return stored if stored is not None else a.scaling.min_replicas

    def _execute(self, a: ActionConfig, trigger: str, details: dict[str, Any], now: float) -> str:
        hook = a.hook
        try:
            if isinstance(hook, WebhookHook):
                key = f"{a.name}-{int(now)}"
                result = hooks.run_webhook(
                    hook,
                    {
                        "action": a.name,
                        "target": a.target_key,
                        "trigger": trigger,
                        **_jsonable(details),
                    },
                    key,
                )
            elif isinstance(hook, CommandHook):
                env = {
                    "SLOPLANE_ACTION": a.name,
                    "SLOPLANE_TARGET": a.target_key,
                    "SLOPLANE_TRIGGER": trigger,
                }
                if "replicas" in details:
                    env["SLOPLANE_REPLICAS"] = str(details["replicas"])
                result = hooks.run_command(hook, env)
            elif isinstance(hook, KubernetesHook):
                if hook.operation == "scale":
                    result = hooks.k8s_scale(hook, int(details["replicas"]))
                else:
                    result = hooks.k8s_rollout_undo(hook)
            elif isinstance(hook, KedaHook):
                self.store.set_scale(a.name, int(details["replicas"]), now)
                result = {"replicas": details["replicas"]}
            else:  # pragma: no cover - the config schema admits no other kind
                raise hooks.HookError(f"unknown hook {hook!r}")
        except hooks.HookError as exc:
            return self._audit(now, a, trigger, FAILED, str(exc), details)
        if a.scaling is not None and not isinstance(hook, KedaHook):
            self.store.set_scale(a.name, int(details["replicas"]), now)
        return self._audit(now, a, trigger, EXECUTED, "", {**details, "result": result})

    def approve(self, approval_id: int, approved: bool) -> str | None:
        """Carry out (or reject) a pending approval; returns the outcome or None if not pending."""
        with self.lock:
            row = self.store.set_approval(approval_id, "approved" if approved else "rejected")
            if row is None:
                return None
            a = self.config.action(row.action)
            trigger = f"approval #{approval_id}: {row.trigger}"
            if not approved:
                return self._audit(
                    self.clock(), a, trigger, REFUSED, "rejected by approver", dict(row.details)
                )
            with self._target_lease(a) as busy:
                if busy:
                    return self._audit(self.clock(), a, trigger, REFUSED, busy, dict(row.details))
                return self._execute(a, trigger, dict(row.details), self.clock())

    def _announce_approval(self, approval_id: int, a: ActionConfig, trigger: str) -> None:
        """Tell approvers on Slack; a failed post is logged, the approval still waits."""
        approval = self.config.approval
        url = os.environ.get(approval.slack_webhook_env) if approval.slack_webhook_env else None
        if not url:
            return
        try:
            r = httpx.post(
                url,
                json=approval_message(approval_id, a, trigger, approval.public_url),
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            log.warning("slack announcement of approval #%d failed: %s", approval_id, exc)
            return
        if r.status_code >= 300:
            log.warning(
                "slack announcement of approval #%d refused: HTTP %d %s",
                approval_id,
                r.status_code,
                r.text[:200],
            )

    def _audit(
        self,
        now: float,
        a: ActionConfig,
        trigger: str,
        outcome: str,
        reason: str,
        details: dict[str, Any],
    ) -> str:
        self.store.record(
            at=now,
            action=a.name,
            target=a.target_key,
            trigger=trigger,
            outcome=outcome,
            reason=reason,
            details=_jsonable(details),
        )
        self._count(f"actions_{outcome}", a.name)
        log.info(
            "action %s on %s: %s%s", a.name, a.target_key, outcome, f" ({reason})" if reason else ""
        )
        return outcome

    # --- rollback on burn after deploy ----------------------------------------

    def tick_rollback(self, name: str) -> None:
        with self.lock:
            r = next(x for x in self.config.rollbacks if x.name == name)
            now = self.clock()
            a = self.config.action(r.action)
            try:
                burning = bool(self.prom.query(r.burn_query, now))
                deploy_t = self._deploy_time(r, now)
            except PromError as exc:
                if self.burning.get(name):
                    self._audit(now, a, f"burn {name}", REFUSED, f"data not trustworthy: {exc}", {})
                return
            started = burning and not self.burning.get(name, False)
            self.burning[name] = burning
            if not started or deploy_t is None or now - deploy_t > r.within:
                return
            self.request_action(
                a,
                trigger=f"burn {name} started {now - deploy_t:.0f}s after deploy",
                evidence=Evidence(breaches=1, required_breaches=1),
                context={"rollback": name, "deploy_time": deploy_t},
            )

    def _deploy_time(self, r: DeployRollback, now: float) -> float | None:
        times = []
        if r.deploy_time_query:
            times += [
                v for _, _, v in self.prom.query(r.deploy_time_query, now) if math.isfinite(v)
            ]
        if r.deploy_target:
            t = self.store.deploy_time(r.deploy_target)
            if t is not None:
                times.append(t)
        return max(times) if times else None

    # --- running --------------------------------------------------------------

    def _count(self, what: str, label: str) -> None:
        self.counters[(what, label)] = self.counters.get((what, label), 0) + 1

    def start(self, serve_http: bool = True) -> None:
        """Schedule the polls and serve HTTP; raises :class:`SloplaneError` if it cannot listen.

        The listening socket is bound before anything is scheduled, so a bad ``listen``
        stops the service instead of leaving it running with no API and no /metrics.
        """
        if serve_http:
            self._check_api_auth()
        sock = self._bind() if serve_http else None
        try:
            self._schedule()
            if sock is not None:
                self._serve_http(sock)
        except BaseException:
            if sock is not None and self._server is None:
                sock.close()
            self.stop()
            raise

    def _schedule(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        sched = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        for w in self.config.watches:
            sched.add_job(
                self.tick_watch,
                "interval",
                args=[w.name],
                seconds=w.interval or w.step,
                next_run_time=_now_dt(),
                id=f"watch:{w.name}",
            )
        for r in self.config.rollbacks:
            sched.add_job(
                self.tick_rollback,
                "interval",
                args=[r.name],
                seconds=r.interval,
                next_run_time=_now_dt(),
                id=f"rollback:{r.name}",
            )
        sched.add_job(
            self.deliver_outbox,
            "interval",
            seconds=self.config.outbox_interval,
            next_run_time=_now_dt(),
            id="outbox",
        )
        sched.start()
        self._scheduler = sched

    def _check_api_auth(self) -> None:
        api = self.config.api
        if api.read_only or api.allow_unauthenticated or api_token(api) is not None:
            return
        raise SloplaneError(
            "the detector API's POST endpoints (approvals, deploys) need a bearer token: "
            f"set api.token_file or ${api.token_env}, or api.read_only: true "
            "(or api.allow_unauthenticated: true on a listener only you can reach)"
        )

    def _bind(self) -> socket.socket:
        host, port = parse_listen(self.config.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            return socket.create_server((host, port), family=family)
        except OSError as exc:
            raise SloplaneError(
                f"cannot listen on {self.config.listen}: {exc.strerror or exc}"
            ) from exc

    def _serve_http(self, sock: socket.socket) -> None:
        import uvicorn

        from sloplane.detectors.api import create_app

        server = uvicorn.Server(uvicorn.Config(create_app(self), log_level="warning"))
        self._server = server
        self._server_thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sloplane-detect-http", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise SloplaneError(f"the HTTP server on {self.config.listen} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
            self._server = None
        self.store.engine.dispose()


class _Metrics(Collector):
    """Scores and health of every series, built at scrape time from the service state."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterable[Metric]:
        svc = self.service
        with svc.lock:
            score = GaugeMetricFamily(
                "sloplane_anomaly_score", "Latest anomaly score of a watched series (0..1)."
            )
            value = GaugeMetricFamily(
                "sloplane_anomaly_value", "Latest value seen of a watched series."
            )
            firing = GaugeMetricFamily(
                "sloplane_anomaly_firing", "1 while the series' anomaly alert fires."
            )
            up = GaugeMetricFamily(
                "sloplane_detector_up",
                "1 when the last poll of a watch succeeded.",
                labels=["watch"],
            )
            threshold = GaugeMetricFamily(
                "sloplane_anomaly_threshold",
                "Score at or above which a watch's series breach.",
                labels=["watch"],
            )
            series = GaugeMetricFamily(
                "sloplane_detector_series",
                "Series the watch's query returned on its last successful poll.",
                labels=["watch"],
            )
            warming = GaugeMetricFamily(
                "sloplane_detector_warming_up",
                "Series whose detector is still learning: they score 0 whatever happens.",
                labels=["watch"],
            )
            for ws in svc.watches.values():
                up.add_metric([ws.config.name], 0.0 if ws.error else 1.0)
                threshold.add_metric([ws.config.name], ws.config.threshold)
                series.add_metric([ws.config.name], float(ws.returned or 0))
                warming.add_metric([ws.config.name], float(ws.warming_up()))
                for st in ws.series.values():
                    labels = {
                        k: v
                        for k, v in sorted(st.labels.items())
                        if k != "__name__" and k != "watch"
                    }
                    names = ["watch", *labels]
                    vals = [ws.config.name, *labels.values()]
                    for fam, v in (
                        (score, st.last_score),
                        (value, st.last_value),
                        (firing, 1.0 if st.firing_since else 0.0),
                    ):
                        fam.samples.append(_sample(fam.name, names, vals, v))
            events = CounterMetricFamily(
                "sloplane_detector_events",
                "Points scored, alerts, poll errors and action outcomes.",
                labels=["event", "name"],
            )
            for (what, label), n in sorted(svc.counters.items()):
                events.add_metric([what, label], float(n))
        return [score, value, firing, up, threshold, series, warming, events]


def _zero_counters(config: DetectConfig) -> dict[tuple[str, str], int]:
    """Every event counter at 0 from the start, so ``increase()`` sees its first events.

    A counter that first appears already at 35 (after an outage Prometheus missed) has
    no increase in Prometheus's eyes.
    """
    counters = {(event, w.name): 0 for w in config.watches for event in WATCH_EVENTS}
    counters.update({(f"actions_{o}", a.name): 0 for a in config.actions for o in ACTION_OUTCOMES})
    if config.alertmanager.url:
        counters[("outbox_errors", "alertmanager")] = 0
    return counters


def _sample(name: str, names: list[str], vals: list[str], v: float) -> Any:
    from prometheus_client.samples import Sample

    return Sample(name, dict(zip(names, vals, strict=True)), v, None, None)


def _loads(payload: str) -> list[dict[str, Any]]:
    import json

    value: list[dict[str, Any]] = json.loads(payload)
    return value


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out


def _now_dt() -> Any:
    from datetime import datetime

    return datetime.now()


QUIET_LOGGERS = ("apscheduler", "httpx", "httpcore", "uvicorn")
"""Libraries that log every job run or request at INFO; shown only with ``--log-level debug``."""


def configure_logging(level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(level=numeric, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(
            numeric if level == "debug" else max(numeric, logging.WARNING)
        )


def run_service(config: DetectConfig, log_level: str = "info") -> None:
    """Run until SIGINT or SIGTERM."""
    configure_logging(log_level)
    svc = Service(config)
    svc.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("sloplane detect serving on %s with %d watches", config.listen, len(config.watches))
    try:
        stop.wait()
    finally:
        svc.stop()


def approval_message(
    approval_id: int, a: ActionConfig, trigger: str, public_url: str | None
) -> dict[str, Any]:
    """A Slack incoming-webhook message naming the action, its target and how to decide."""
    base = public_url.rstrip("/") if public_url else ""
    path = f"/v1/detectors/approvals/{approval_id}"
    text = (
        f"sloplane wants to run *{a.name}* on `{a.target_key}` ({trigger}).\n"
        f"Approve: `POST {base}{path}/approve`  Reject: `POST {base}{path}/reject` "
        "(with the API bearer token)"
    )
    return {"text": text}
