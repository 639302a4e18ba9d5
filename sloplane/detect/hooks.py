"""Ways to act: signed webhooks, commands, the Kubernetes API, and KEDA's metrics-api.

Hooks do exactly one thing and report how it went; whether to call them at all
is :mod:`sloplane.detect.guards`'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from sloplane.detect import signing
from sloplane.detect.config import (
    ActionConfig,
    CommandHook,
    Hook,
    KedaHook,
    KubernetesHook,
    WebhookHook,
)
from sloplane.errors import SloplaneError


class HookError(SloplaneError):
    """The hook ran and failed."""


REVISION = "deployment.kubernetes.io/revision"


#: Kubernetes API requests one action makes at most (rollout undo: get, list, patch).
K8S_REQUESTS_PER_ACTION = 4


#: The deprecated body-only signature header, sent only with ``legacy_signature: true``.
LEGACY_HEADER = "X-Sloplane-Signature"


def legacy_sign(secret: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC of the body>``: what receivers written before
    :mod:`sloplane.detect.signing` check; it covers neither time nor idempotency key."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def run_webhook(hook: WebhookHook, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """POST the payload; retry network errors, 429 and 5xx with exponential backoff.

    The same ``Idempotency-Key`` goes with every retry so a receiver can drop
    duplicates when a response was lost rather than the request. With a secret, each
    attempt is signed anew over its timestamp, the key and the body
    (:mod:`sloplane.detect.signing`). The deprecated body-only ``X-Sloplane-Signature``
    is added only with ``legacy_signature: true``: it does not protect against a replay.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    key: bytes | None = None
    if hook.secret_env:
        secret = os.environ.get(hook.secret_env)
        if not secret:
            raise HookError(f"webhook secret variable {hook.secret_env} is not set")
        key = secret.encode()
        if hook.legacy_signature:
            headers[LEGACY_HEADER] = legacy_sign(key, body)
    last = ""
    for attempt in range(hook.retries + 1):
        if attempt:
            time.sleep(hook.backoff * 2 ** (attempt - 1))
        try:
            if key is not None:
                stamp = int(time.time())
                headers[signing.HEADER] = signing.sign(key, stamp, idempotency_key, body)
            resp = httpx.post(hook.url, content=body, headers=headers, timeout=hook.timeout)
        except httpx.HTTPError as exc:
            last = str(exc)
            continue
        if 200 <= resp.status_code < 300:
            return {"status": resp.status_code, "attempts": attempt + 1}
        last = f"HTTP {resp.status_code}"
        if resp.status_code != 429 and resp.status_code < 500:
            break
    raise HookError(f"webhook {hook.url}: {last}")


def run_command(hook: CommandHook, env: dict[str, str]) -> dict[str, Any]:
    """Run argv (no shell) with a timeout; context is passed as SLOPLANE_* variables.

    The command runs in a process group of its own and a timeout kills the whole
    group: a wrapper's children cannot finish a rollback after it was reported as
    timed out. The command is not done while anything it started still holds its
    output open.
    """
    try:
        proc = subprocess.Popen(
            hook.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **env},
            start_new_session=True,
        )
    except OSError as exc:
        raise HookError(f"command {hook.argv[0]}: {exc}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=hook.timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise HookError(f"command {hook.argv[0]} timed out after {hook.timeout:g}s") from exc
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        raise HookError(f"command {hook.argv[0]} exited {proc.returncode}: {stderr.strip()[:500]}")
    return {"returncode": 0, "stdout": stdout[-2000:]}


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the command's process group, then reap the command."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


@contextmanager
def _apps_api(hook: KubernetesHook, what: str) -> Iterator[Any]:
    """``AppsV1Api`` on the hook's cluster; any failure is a HookError naming the deployment.

    The configuration is the hook's own, not the client's process-wide default, so
    hooks on different clusters do not borrow each other's credentials.
    """
    from kubernetes import client, config

    try:
        cfg = client.Configuration()
        if hook.kubeconfig:
            config.load_kube_config(config_file=hook.kubeconfig, client_configuration=cfg)
        else:
            config.load_incluster_config(client_configuration=cfg)
        with client.ApiClient(cfg) as api_client:
            yield client.AppsV1Api(api_client)
    except HookError:
        raise
    except Exception as exc:  # ApiException, urllib3 errors (timeouts), config errors
        raise HookError(
            f"kubernetes {what} {hook.namespace}/{hook.deployment}: {_k8s_error(exc)}"
        ) from exc


def _k8s_error(exc: Exception) -> str:
    """One line: ``HTTP 403 Forbidden: <the Status message>``, or the client's error."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        message = ""
        with suppress(ValueError, AttributeError):  # the body is a Status object, or not
            message = str(json.loads(exc.body or "").get("message", ""))
        return f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")
    return (str(exc) or type(exc).__name__).replace("\n", " ")[:500]


def k8s_replicas(hook: KubernetesHook) -> int:
    with _apps_api(hook, "read scale") as api:
        scale = api.read_namespaced_deployment_scale(
            hook.deployment, hook.namespace, _request_timeout=hook.timeout
        )
    return int(scale.spec.replicas or 0)


def k8s_scale(hook: KubernetesHook, replicas: int) -> dict[str, Any]:
    with _apps_api(hook, "scale") as api:
        api.patch_namespaced_deployment_scale(
            hook.deployment,
            hook.namespace,
            {"spec": {"replicas": replicas}},
            _request_timeout=hook.timeout,
        )
    return {"replicas": replicas}


def _revision(rs: dict[str, Any]) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))


def k8s_rollout_undo(hook: KubernetesHook) -> dict[str, Any]:
    """What ``kubectl rollout undo`` does: put the previous ReplicaSet's pod template back.

    Like kubectl, the template is replaced whole (a JSON patch): a container, variable
    or volume that the bad revision added goes too, which a merge patch would keep.
    The ReplicaSets are read as raw JSON so fields this client does not know survive.
    """
    where = f"kubernetes rollout undo {hook.namespace}/{hook.deployment}"
    with _apps_api(hook, "rollout undo") as api:
        dep = api.read_namespaced_deployment(
            hook.deployment, hook.namespace, _request_timeout=hook.timeout
        )
        selector = ",".join(
            f"{k}={v}" for k, v in sorted((dep.spec.selector.match_labels or {}).items())
        )
        listed = api.list_namespaced_replica_set(
            hook.namespace,
            label_selector=selector,
            _preload_content=False,
            _request_timeout=hook.timeout,
        )
        owned = [
            rs
            for rs in json.loads(listed.data)["items"]
            if any(
                o.get("uid") == dep.metadata.uid
                for o in rs["metadata"].get("ownerReferences") or []
            )
        ]
        revs = sorted(owned, key=_revision)
        if len(revs) < 2:
            raise HookError(f"{where}: no previous revision")
        prev = revs[-2]
        template = prev["spec"]["template"]
        (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
        api.patch_namespaced_deployment(
            hook.deployment,
            hook.namespace,
            [{"op": "replace", "path": "/spec/template", "value": template}],
            _request_timeout=hook.timeout,
        )
    return {"rolled_back_to_revision": str(_revision(prev))}


# --- the registry: one entry per hook ``kind`` -----------------------------------------


@dataclass(frozen=True)
class HookCall:
    """One run of an action's hook: what the gate decided, for the hook to carry out."""

    action: ActionConfig
    trigger: str
    details: dict[str, Any]
    """The trigger's context plus the gate's plan (``replicas`` when scaling)."""
    now: float


class HookKind(Protocol):
    """What the gate needs of a hook kind; no caller asks which kind it has."""

    def longest_run(self, hook: Any) -> float:
        """Seconds a run can take at most, timeouts, retries and backoff included.

        The target lease must outlast it, or a second process could act while the
        first still is.
        """
        ...

    def run(self, hook: Any, call: HookCall) -> dict[str, Any]:
        """Act; returns what the audit log records as the result, raises :class:`HookError`."""
        ...

    def current_replicas(self, hook: Any) -> int | None:
        """The target's replicas as the hook's system reports them; None: ask the store."""
        ...


class _Webhook:
    def longest_run(self, hook: WebhookHook) -> float:
        backoff = sum(hook.backoff * 2 ** (n - 1) for n in range(1, hook.retries + 1))
        return (hook.retries + 1) * hook.timeout + backoff

    def run(self, hook: WebhookHook, call: HookCall) -> dict[str, Any]:
        a = call.action
        payload = {"action": a.name, "target": a.target_key, "trigger": call.trigger}
        return run_webhook(hook, {**payload, **call.details}, f"{a.name}-{int(call.now)}")

    def current_replicas(self, hook: WebhookHook) -> int | None:
        return None


class _Command:
    def longest_run(self, hook: CommandHook) -> float:
        return hook.timeout

    def run(self, hook: CommandHook, call: HookCall) -> dict[str, Any]:
        a = call.action
        env = {
            "SLOPLANE_ACTION": a.name,
            "SLOPLANE_TARGET": a.target_key,
            "SLOPLANE_TRIGGER": call.trigger,
        }
        if "replicas" in call.details:
            env["SLOPLANE_REPLICAS"] = str(call.details["replicas"])
        return run_command(hook, env)

    def current_replicas(self, hook: CommandHook) -> int | None:
        return None


class _Kubernetes:
    def longest_run(self, hook: KubernetesHook) -> float:
        return K8S_REQUESTS_PER_ACTION * hook.timeout

    def run(self, hook: KubernetesHook, call: HookCall) -> dict[str, Any]:
        if hook.operation == "scale":
            return k8s_scale(hook, int(call.details["replicas"]))
        return k8s_rollout_undo(hook)

    def current_replicas(self, hook: KubernetesHook) -> int | None:
        return k8s_replicas(hook)


class _Keda:
    """KEDA reads the desired scale from the API; acting is recording it (the gate does)."""

    def longest_run(self, hook: KedaHook) -> float:
        return 0.0

    def run(self, hook: KedaHook, call: HookCall) -> dict[str, Any]:
        return {"replicas": call.details["replicas"]}

    def current_replicas(self, hook: KedaHook) -> int | None:
        return None


#: Every hook kind ``detect.yaml`` accepts, by its ``kind`` field.
KINDS: dict[str, HookKind] = {
    "webhook": _Webhook(),
    "command": _Command(),
    "kubernetes": _Kubernetes(),
    "keda": _Keda(),
}


def kind_of(hook: Hook) -> HookKind:
    return KINDS[hook.kind]


def longest_run(hook: Hook) -> float:
    """Seconds ``hook`` can take at most (see :meth:`HookKind.longest_run`)."""
    return kind_of(hook).longest_run(hook)
