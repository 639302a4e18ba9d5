"""The kubernetes hook, with the official client, against a stand-in apps/v1 API server.

No cluster runs here; ``kube_api.py`` serves the calls the hook makes and checks them
as the API documents them. The hook finds it through a generated kubeconfig.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloplane.detect import hooks
from sloplane.detect.audit import list_decisions
from sloplane.detect.config import KubernetesHook, parse_config
from sloplane.detect.guards import Evidence
from sloplane.detect.hooks import HookError
from sloplane.detect.service import Service
from tests.detectors.kube_api import HASH, REVISION, Fault, KubeApi, KubeApiServer
from tests.support.processes import free_port

pytestmark = pytest.mark.timeout(60)

GOOD = Evidence(breaches=3, required_breaches=3)
NS = "shop"


def template(image: str, feature: str = "0", sidecar: bool = False) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [
        {
            "name": "api",
            "image": image,
            "env": [{"name": "FEATURE_X", "value": feature}],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m"}},
        }
    ]
    if sidecar:
        containers.append({"name": "proxy", "image": "envoyproxy/envoy:v1.31"})
    return {
        "metadata": {"labels": {"app": "api", "tier": "web"}},
        "spec": {"containers": containers, "restartPolicy": "Always"},
    }


REV1 = template("registry.example/api:1.0")
REV2 = template("registry.example/api:1.1")
REV3 = template("registry.example/api:1.2", feature="1", sidecar=True)  # the bad release


@pytest.fixture()
def kube() -> Iterator[KubeApi]:
    with KubeApiServer() as api:
        api.add_deployment(NS, "api", [REV1, REV2, REV3], labels={"app": "api"})
        # same labels, another owner, a higher revision: must never be picked
        api.add_foreign_replicaset(NS, {"app": "api"}, template("evil:9"), revision=9)
        api.add_deployment(NS, "solo", [template("registry.example/solo:1")])
        yield api


def hook(kube: KubeApi, tmp_path: Path, deployment: str = "api", **over: Any) -> KubernetesHook:
    config = kube.kubeconfig(tmp_path / "kubeconfig", namespace="default")
    fields: dict[str, Any] = {
        "kind": "kubernetes",
        "operation": "scale",
        "namespace": NS,
        "deployment": deployment,
        "kubeconfig": str(config),
        "timeout": 2,
        **over,
    }
    return KubernetesHook(**fields)


def calls(kube: KubeApi) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in kube.requests]


BASE = f"/apis/apps/v1/namespaces/{NS}"


def test_scale_reads_and_sets_replicas(kube: KubeApi, tmp_path: Path) -> None:
    h = hook(kube, tmp_path)
    assert hooks.k8s_replicas(h) == 3
    assert hooks.k8s_scale(h, 5) == {"replicas": 5}
    assert hooks.k8s_replicas(h) == 5
    assert kube.deployments[(NS, "api")]["spec"]["replicas"] == 5
    assert calls(kube) == [
        ("GET", f"{BASE}/deployments/api/scale"),
        ("PATCH", f"{BASE}/deployments/api/scale"),
        ("GET", f"{BASE}/deployments/api/scale"),
    ]
    patch = kube.requests[1]
    assert patch.headers["content-type"] == "application/strategic-merge-patch+json"
    assert patch.body == {"spec": {"replicas": 5}}
    assert all(r.headers["authorization"] == f"Bearer {kube.token}" for r in kube.requests)
    # the current ReplicaSet runs the new count, the old ones none
    assert [rs["spec"]["replicas"] for rs in kube.owned(NS, "api")] == [0, 0, 5]


def test_rollout_undo_puts_the_previous_template_back_whole(kube: KubeApi, tmp_path: Path) -> None:
    h = hook(kube, tmp_path, operation="rollout_undo")
    assert hooks.k8s_rollout_undo(h) == {"rolled_back_to_revision": "2"}
    dep = kube.deployments[(NS, "api")]
    # exactly revision 2: the sidecar and the flag the bad release added are gone
    assert dep["spec"]["template"] == REV2
    assert HASH not in dep["spec"]["template"]["metadata"]["labels"]
    assert dep["metadata"]["annotations"][REVISION] == "4"  # the old ReplicaSet, now newest
    assert dep["spec"]["replicas"] == 3
    assert calls(kube) == [
        ("GET", f"{BASE}/deployments/api"),
        ("GET", f"{BASE}/replicasets"),
        ("PATCH", f"{BASE}/deployments/api"),
    ]
    listing, patch = kube.requests[1], kube.requests[2]
    assert listing.query == {"labelSelector": ["app=api"]}
    assert patch.headers["content-type"] == "application/json-patch+json"
    assert patch.body == [{"op": "replace", "path": "/spec/template", "value": REV2}]

    # like kubectl, a second undo goes back to what was current before the first
    assert hooks.k8s_rollout_undo(h) == {"rolled_back_to_revision": "3"}
    assert kube.deployments[(NS, "api")]["spec"]["template"] == REV3
    revisions = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["annotations"][
            REVISION
        ]
        for rs in kube.owned(NS, "api")
    }
    assert revisions == {
        "registry.example/api:1.0": "1",
        "registry.example/api:1.1": "4",
        "registry.example/api:1.2": "5",
    }


def test_rollout_undo_keeps_fields_the_client_does_not_know(kube: KubeApi, tmp_path: Path) -> None:
    """The previous template is sent back as the server gave it, not re-serialised."""
    newer = copy.deepcopy(REV2)
    newer["spec"]["futureField"] = {"enabled": True}
    newer["spec"]["containers"][0]["futureContainerField"] = "x"
    kube.add_deployment(NS, "edge", [newer, REV3], labels={"app": "api", "tier": "web"})
    h = hook(kube, tmp_path, deployment="edge", operation="rollout_undo")
    assert hooks.k8s_rollout_undo(h) == {"rolled_back_to_revision": "1"}
    assert kube.deployments[(NS, "edge")]["spec"]["template"] == newer


def test_no_previous_revision_is_a_clear_hook_error(kube: KubeApi, tmp_path: Path) -> None:
    h = hook(kube, tmp_path, deployment="solo", operation="rollout_undo")
    with pytest.raises(HookError) as err:
        hooks.k8s_rollout_undo(h)
    assert str(err.value) == "kubernetes rollout undo shop/solo: no previous revision"
    assert [m for m, _ in calls(kube)] == ["GET", "GET"]  # nothing was patched


@pytest.mark.parametrize(
    ("method", "resource", "status", "message"),
    [
        (
            "PATCH",
            "scale",
            403,
            'deployments.apps "api" is forbidden: User "system:serviceaccount:ops:sloplane" '
            'cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop"',
        ),
        ("GET", "scale", 500, "Internal error occurred: etcdserver: request timed out"),
        ("GET", "replicasets", 403, 'replicasets.apps is forbidden: User "x" cannot list'),
        ("PATCH", "deployment", 500, "Internal error occurred: etcdserver: leader changed"),
    ],
)
def test_api_errors_name_the_deployment(
    kube: KubeApi, tmp_path: Path, method: str, resource: str, status: int, message: str
) -> None:
    kube.faults[(method, resource)] = Fault(status, message)
    h = hook(kube, tmp_path)
    reason = {403: "Forbidden", 500: "Internal Server Error"}[status]
    with pytest.raises(HookError) as err:
        if resource == "scale" and method == "GET":
            hooks.k8s_replicas(h)
        elif resource == "scale":
            hooks.k8s_scale(h, 4)
        else:
            hooks.k8s_rollout_undo(h)
    text = str(err.value)
    assert text.startswith("kubernetes ") and " shop/api: " in text
    assert text.endswith(f": HTTP {status} {reason}: {message}")
    assert "\n" not in text
    assert kube.deployments[(NS, "api")]["spec"]["template"] == REV3
    assert kube.deployments[(NS, "api")]["spec"]["replicas"] == 3


@pytest.mark.parametrize("operation", ["read", "scale", "rollout_undo"])
def test_a_missing_deployment_is_a_404_hook_error(
    kube: KubeApi, tmp_path: Path, operation: str
) -> None:
    h = hook(kube, tmp_path, deployment="gone")
    with pytest.raises(HookError) as err:
        if operation == "read":
            hooks.k8s_replicas(h)
        elif operation == "scale":
            hooks.k8s_scale(h, 2)
        else:
            hooks.k8s_rollout_undo(h)
    assert 'shop/gone: HTTP 404 Not Found: deployments.apps "gone" not found' in str(err.value)


def test_a_wrong_token_is_a_401_hook_error(kube: KubeApi, tmp_path: Path) -> None:
    h = hook(kube, tmp_path)
    kube.token = "rotated"
    with pytest.raises(HookError, match=r"kubernetes scale shop/api: HTTP 401 Unauthorized"):
        hooks.k8s_scale(h, 2)


def test_an_unreachable_api_server_is_a_hook_error(kube: KubeApi, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = kube.kubeconfig(tmp_path / "dead", server=dead)
    h = KubernetesHook(
        kind="kubernetes",
        operation="scale",
        namespace=NS,
        deployment="api",
        kubeconfig=str(config),
        timeout=1,
    )
    with pytest.raises(HookError, match=r"^kubernetes scale shop/api: .*(refused|Max retries)"):
        hooks.k8s_scale(h, 2)
    with pytest.raises(HookError, match=r"^kubernetes read scale shop/api: "):
        hooks.k8s_replicas(h)


def test_a_hanging_api_server_times_out(tmp_path: Path) -> None:
    """The client waits forever by default; the hook's timeout bounds every request."""
    with KubeApiServer() as kube:
        kube.hang = True
        for operation in ("scale", "rollout_undo"):
            h = hook(kube, tmp_path, operation=operation, timeout=0.5)
            with pytest.raises(HookError, match=r"shop/api: .*[Tt]imed? ?out"):
                if operation == "scale":
                    hooks.k8s_scale(h, 2)
                else:
                    hooks.k8s_rollout_undo(h)
        assert kube.requests  # the requests did arrive; no answer came


def test_a_listener_that_never_accepts_times_out(tmp_path: Path) -> None:
    """A full backlog: the TCP handshake completes, no HTTP server ever reads."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = KubeApi(url=url).kubeconfig(tmp_path / "blackhole")
        h = KubernetesHook(
            kind="kubernetes",
            operation="scale",
            namespace=NS,
            deployment="api",
            kubeconfig=str(config),
            timeout=0.5,
        )
        with pytest.raises(HookError, match=r"^kubernetes read scale shop/api: "):
            hooks.k8s_replicas(h)


def test_a_bad_kubeconfig_is_a_hook_error(tmp_path: Path) -> None:
    h = KubernetesHook(
        kind="kubernetes",
        operation="scale",
        namespace=NS,
        deployment="api",
        kubeconfig=str(tmp_path / "missing.yaml"),
    )
    with pytest.raises(HookError, match=r"^kubernetes scale shop/api: "):
        hooks.k8s_scale(h, 2)


def test_hooks_on_two_clusters_keep_their_own_credentials(kube: KubeApi, tmp_path: Path) -> None:
    with KubeApiServer() as other:
        other.add_deployment(NS, "api", [REV1], replicas=7)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first, second = hook(kube, tmp_path / "a"), hook(other, tmp_path / "b")
        assert hooks.k8s_replicas(first) == 3
        assert hooks.k8s_replicas(second) == 7
        assert hooks.k8s_replicas(first) == 3
        assert {r.headers["authorization"] for r in other.requests} == {f"Bearer {other.token}"}


# --- the stand-in checks requests as the API does ---------------------------------------------


def test_the_stand_in_refuses_what_the_real_api_refuses(kube: KubeApi) -> None:
    auth = {"Authorization": f"Bearer {kube.token}"}
    url = f"{kube.url}{BASE}/deployments/api"
    with httpx.Client(timeout=5) as c:
        assert c.get(url).status_code == 401
        wrong_type = {**auth, "Content-Type": "application/json"}
        r = c.patch(url, headers=wrong_type, content=b'{"spec": {}}')
        assert r.status_code == 415 and r.json()["kind"] == "Status"
        json_patch = {**auth, "Content-Type": "application/json-patch+json"}
        assert c.patch(url, headers=json_patch, content=b'{"spec": {}}').status_code == 400
        smp = {**auth, "Content-Type": "application/strategic-merge-patch+json"}
        assert c.patch(url, headers=smp, content=b"[]").status_code == 400
        assert c.patch(url, headers=smp, content=b"{not json").status_code == 400
        negative = b'{"spec": {"replicas": -1}}'
        assert c.patch(f"{url}/scale", headers=smp, content=negative).status_code == 422
        selector = b'{"spec": {"selector": {"matchLabels": {"app": "other"}}}}'
        assert c.patch(url, headers=smp, content=selector).status_code == 422
        bad = c.get(
            f"{kube.url}{BASE}/replicasets", params={"labelSelector": "app in (x"}, headers=auth
        )
        assert bad.status_code == 400

        # why undo sends a JSON patch: a strategic merge of the old template keeps the sidecar
        body = {"spec": {"template": REV2}}
        assert c.patch(url, headers=smp, json=body).status_code == 200
    containers = kube.deployments[(NS, "api")]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["api", "proxy"]
    assert containers[0]["env"] == [{"name": "FEATURE_X", "value": "0"}]


# --- through the service and its guards -----------------------------------------------------


def test_kubernetes_actions_through_the_guards(kube: KubeApi, tmp_path: Path) -> None:
    config = str(kube.kubeconfig(tmp_path / "kubeconfig"))
    k8s = {"kind": "kubernetes", "namespace": NS, "deployment": "api", "kubeconfig": config}
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'audit.db'}",
            "guards": {"cooldown": "10m", "max_actions_per_hour": 10, "dry_run": False},
            "actions": [
                {
                    "name": "scale-out",
                    "target": "shop/api-scale",
                    "hook": {**k8s, "operation": "scale", "timeout": "2s"},
                    "scaling": {"min_replicas": 2, "max_replicas": 6, "max_step": 2, "step": 3},
                },
                {
                    "name": "undo",
                    "target": "shop/api",
                    "hook": {**k8s, "operation": "rollout_undo"},
                },
                {
                    "name": "undo-rehearsal",
                    "target": "shop/api-rehearsal",
                    "dry_run": True,
                    "hook": {**k8s, "operation": "rollout_undo"},
                },
            ],
        }
    )
    t = [1_700_000_000.0]
    svc = Service(cfg, clock=lambda: t[0])

    def ask(action: str) -> str:
        return svc.request_action(cfg.action(action), trigger="test", evidence=GOOD, context={})

    try:
        assert ask("scale-out") == "executed"
        assert kube.deployments[(NS, "api")]["spec"]["replicas"] == 5  # 3 + at most 2
        t[0] += 601
        assert ask("scale-out") == "executed"
        assert kube.deployments[(NS, "api")]["spec"]["replicas"] == 6  # bounded
        t[0] += 601
        assert ask("scale-out") == "refused"  # already at the bound: no PATCH
        t[0] += 601
        kube.faults[("GET", "scale")] = Fault(500, "Internal error occurred: etcd")
        assert ask("scale-out") == "refused"  # current scale unknown: never guess
        del kube.faults[("GET", "scale")]

        before = len(kube.requests)
        assert ask("undo-rehearsal") == "dry_run"
        assert len(kube.requests) == before  # a dry run does not touch the cluster

        kube.faults[("PATCH", "deployment")] = Fault(403, 'deployments.apps "api" is forbidden')
        assert ask("undo") == "failed"
        del kube.faults[("PATCH", "deployment")]
        t[0] += 1
        assert ask("undo") == "refused"  # a failed attempt starts the cooldown too (issue 12)
        t[0] += 601
        assert ask("undo") == "executed"
        assert kube.deployments[(NS, "api")]["spec"]["template"] == REV2
        t[0] += 1
        assert ask("undo") == "refused"  # the cooldown holds

        log = [(d.action, d.outcome, d.reason, d.details) for d in list_decisions(svc.store)]
        assert [(a, o) for a, o, _, _ in log] == [
            ("undo", "refused"),
            ("undo", "executed"),
            ("undo", "refused"),
            ("undo", "failed"),
            ("undo-rehearsal", "dry_run"),
            ("scale-out", "refused"),
            ("scale-out", "refused"),
            ("scale-out", "executed"),
            ("scale-out", "executed"),
        ]
        assert log[1][3]["result"] == {"rolled_back_to_revision": "2"}
        assert log[2][2].startswith("cooldown: last action 1s ago")
        assert log[3][2] == (
            'kubernetes rollout undo shop/api: HTTP 403 Forbidden: deployments.apps "api" '
            "is forbidden"
        )
        assert log[5][2] == (
            "current scale unknown: kubernetes read scale shop/api: "
            "HTTP 500 Internal Server Error: Internal error occurred: etcd"
        )
        assert log[6][2] == "at bound: 6 replicas (bounds 2..6)"
        assert (log[7][3]["current_replicas"], log[7][3]["replicas"]) == (5, 6)
        assert (log[8][3]["current_replicas"], log[8][3]["replicas"]) == (3, 5)
        patches = [r for r in kube.requests if r.method == "PATCH"]
        assert [r.body for r in patches if r.path.endswith("/scale")] == [
            {"spec": {"replicas": 5}},
            {"spec": {"replicas": 6}},
        ]
    finally:
        svc.stop()
