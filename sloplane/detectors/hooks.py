"""Ways to act: signed webhooks, commands, the Kubernetes API, and KEDA's metrics-api.

Hooks do exactly one thing and report how it went; whether to call them at all
is :mod:`sloplane.detectors.guards`'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from typing import Any

import httpx

from sloplane.detectors.config import CommandHook, KubernetesHook, WebhookHook
from sloplane.errors import SloplaneError


class HookError(SloplaneError):
    """The hook ran and failed."""


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def run_webhook(hook: WebhookHook, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """POST the payload; retry network errors, 429 and 5xx with exponential backoff.

    The same ``Idempotency-Key`` goes with every retry so a receiver can drop
    duplicates when a response was lost rather than the request.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    if hook.secret_env:
        secret = os.environ.get(hook.secret_env)
        if not secret:
            raise HookError(f"webhook secret variable {hook.secret_env} is not set")
        headers["X-Sloplane-Signature"] = sign(secret.encode(), body)
    last = ""
    for attempt in range(hook.retries + 1):
        if attempt:
            time.sleep(hook.backoff * 2 ** (attempt - 1))
        try:
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
    """Run argv (no shell) with a timeout; context is passed as SLOPLANE_* variables."""
    try:
        proc = subprocess.run(
            hook.argv,
            capture_output=True,
            text=True,
            timeout=hook.timeout,
            env={**os.environ, **env},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HookError(f"command {hook.argv[0]} timed out after {hook.timeout:g}s") from exc
    except OSError as exc:
        raise HookError(f"command {hook.argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise HookError(
            f"command {hook.argv[0]} exited {proc.returncode}: {proc.stderr.strip()[:500]}"
        )
    return {"returncode": 0, "stdout": proc.stdout[-2000:]}


def _apps_api(hook: KubernetesHook) -> Any:
    from kubernetes import client, config

    if hook.kubeconfig:
        config.load_kube_config(config_file=hook.kubeconfig)
    else:
        config.load_incluster_config()
    return client.AppsV1Api()


def k8s_replicas(hook: KubernetesHook) -> int:
    scale = _apps_api(hook).read_namespaced_deployment_scale(hook.deployment, hook.namespace)
    return int(scale.spec.replicas or 0)


def k8s_scale(hook: KubernetesHook, replicas: int) -> dict[str, Any]:
    try:
        _apps_api(hook).patch_namespaced_deployment_scale(
            hook.deployment, hook.namespace, {"spec": {"replicas": replicas}}
        )
    except Exception as exc:  # the client raises ApiException, urllib3 errors, config errors
        raise HookError(f"kubernetes scale {hook.namespace}/{hook.deployment}: {exc}") from exc
    return {"replicas": replicas}


def k8s_rollout_undo(hook: KubernetesHook) -> dict[str, Any]:
    """What ``kubectl rollout undo`` does: put the previous ReplicaSet's pod template back."""
    try:
        api = _apps_api(hook)
        dep = api.read_namespaced_deployment(hook.deployment, hook.namespace)
        selector = ",".join(
            f"{k}={v}" for k, v in sorted((dep.spec.selector.match_labels or {}).items())
        )
        rss = api.list_namespaced_replica_set(hook.namespace, label_selector=selector).items
        owned = [
            rs
            for rs in rss
            if any(o.uid == dep.metadata.uid for o in (rs.metadata.owner_references or []))
        ]
        revs = sorted(
            owned,
            key=lambda rs: int(
                (rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "0")
            ),
        )
        if len(revs) < 2:
            raise HookError(
                f"kubernetes rollout undo {hook.namespace}/{hook.deployment}: no previous revision"
            )
        prev = revs[-2]
        template = api.api_client.sanitize_for_serialization(prev.spec.template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        api.patch_namespaced_deployment(
            hook.deployment, hook.namespace, {"spec": {"template": template}}
        )
    except HookError:
        raise
    except Exception as exc:
        raise HookError(
            f"kubernetes rollout undo {hook.namespace}/{hook.deployment}: {exc}"
        ) from exc
    revision = (prev.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "")
    return {"rolled_back_to_revision": revision}
