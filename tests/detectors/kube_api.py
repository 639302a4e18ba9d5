"""A local stand-in of the Kubernetes apps/v1 API: just what the detector's kubernetes hook calls.

It serves, on a free loopback port, over plain HTTP with a bearer token:

- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`` (an
  ``autoscaling/v1`` Scale);
- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}``;
- ``GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=...``.

Requests are checked as the API documents them
(https://kubernetes.io/docs/reference/using-api/api-concepts/): a PATCH must be
``application/json-patch+json`` (a list of RFC 6902 operations),
``application/merge-patch+json`` (RFC 7386) or
``application/strategic-merge-patch+json`` (an object; lists of containers, env,
volumes and ports merge by key), else 415; a malformed body is 400; an invalid
result (negative replicas, a changed selector, template labels outside the
selector) is 422. Errors are ``Status`` objects. A template change plays the
deployment controller's part: the ReplicaSet with that template (ignoring
``pod-template-hash``) becomes the newest revision, or a new one is created.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
CREATED = "2026-01-05T10:00:00Z"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
#: Strategic merge keys of the pod template lists the tests touch (from the API's patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Fault:
    status: int
    message: str


@dataclass
class KubeApi:
    """State and behaviour; :func:`serve` puts it behind an HTTP server."""

    token: str = field(default_factory=lambda: f"standin-{uuid.uuid4().hex}")
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    """(method, resource) -> answer instead; resource is deployment, scale or replicasets."""
    hang: bool = False
    """Accept requests and never answer (until the server stops)."""
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    _version: int = 1000

    # --- objects --------------------------------------------------------------------------------

    def add_deployment(
        self,
        namespace: str,
        name: str,
        revisions: list[dict[str, Any]],
        replicas: int = 3,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Deployment whose pod template is the last of ``revisions``, one ReplicaSet each."""
        selector = dict(labels or {"app": name})
        dep = {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": len(revisions),
                "creationTimestamp": CREATED,
                "labels": dict(selector),
                "annotations": {REVISION: str(len(revisions))},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": copy.deepcopy(revisions[-1]),
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": {},
        }
        self.deployments[(namespace, name)] = dep
        for template in revisions:
            self._new_replicaset(dep, template)
        self._status(dep)
        return dep

    def add_foreign_replicaset(
        self, namespace: str, labels: dict[str, str], template: dict[str, Any], revision: int
    ) -> None:
        """A ReplicaSet whose labels match but which another Deployment owns."""
        owner = {"metadata": {"name": "other", "namespace": namespace, "uid": str(uuid.uuid4())}}
        rs = self._new_replicaset(owner, template, labels=labels)
        rs["metadata"]["annotations"][REVISION] = str(revision)

    def template_hash(self, template: dict[str, Any]) -> str:
        plain = _without_hash(template)
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]

    def owned(self, namespace: str, name: str) -> list[dict[str, Any]]:
        uid = self.deployments[(namespace, name)]["metadata"]["uid"]
        return sorted(
            (
                rs
                for (ns, _), rs in self.replicasets.items()
                if ns == namespace
                and any(o["uid"] == uid for o in rs["metadata"]["ownerReferences"])
            ),
            key=lambda rs: int(rs["metadata"]["annotations"][REVISION]),
        )

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _new_replicaset(
        self,
        dep: dict[str, Any],
        template: dict[str, Any],
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        meta = dep["metadata"]
        ns, name = meta["namespace"], meta["name"]
        h = self.template_hash(template)
        tpl = copy.deepcopy(template)
        tpl.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
        revision = 1 + max(
            (int(rs["metadata"]["annotations"][REVISION]) for rs in self._owned_by(meta["uid"])),
            default=0,
        )
        match = {**(labels or dep.get("spec", {}).get("selector", {}).get("matchLabels", {}))}
        rs = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": f"{name}-{h}",
                "namespace": ns,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": 1,
                "creationTimestamp": CREATED,
                "labels": {**tpl["metadata"]["labels"]},
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": "3",
                    "deployment.kubernetes.io/max-replicas": "4",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {**match, HASH: h}},
                "template": tpl,
            },
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        self.replicasets[(ns, rs["metadata"]["name"])] = rs
        return rs

    def _owned_by(self, uid: str) -> list[dict[str, Any]]:
        return [
            rs
            for rs in self.replicasets.values()
            if any(o["uid"] == uid for o in rs["metadata"]["ownerReferences"])
        ]

    def _status(self, dep: dict[str, Any]) -> None:
        """What the controller reports once the rollout is done: the newest ReplicaSet runs."""
        n = dep["spec"]["replicas"]
        for rs in self._owned_by(dep["metadata"]["uid"]):
            newest = (
                rs["metadata"]["annotations"][REVISION] == dep["metadata"]["annotations"][REVISION]
            )
            rs["spec"]["replicas"] = rs["status"]["replicas"] = n if newest else 0
        dep["status"] = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": n,
            "updatedReplicas": n,
            "readyReplicas": n,
            "availableReplicas": n,
        }

    def _rolled_out(self, dep: dict[str, Any]) -> None:
        """The deployment controller's answer to a new pod template."""
        meta = dep["metadata"]
        template = dep["spec"]["template"]
        owned = self._owned_by(meta["uid"])
        top = max(int(rs["metadata"]["annotations"][REVISION]) for rs in owned)
        same = [rs for rs in owned if _without_hash(rs["spec"]["template"]) == template]
        if same:  # rolling back: the old ReplicaSet becomes the newest revision
            rs = same[0]
            annotations = rs["metadata"]["annotations"]
            if int(annotations[REVISION]) != top:
                annotations["deployment.kubernetes.io/revision-history"] = annotations[REVISION]
                annotations[REVISION] = str(top + 1)
        else:
            rs = self._new_replicaset(dep, template)
        meta["annotations"][REVISION] = rs["metadata"]["annotations"][REVISION]
        meta["generation"] += 1
        self._status(dep)

    # --- requests -------------------------------------------------------------------------------

    def handle(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(seen)
            if seen.headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Unauthorized")
            parts = seen.path.strip("/").split("/")
            if parts[:4] != ["apis", "apps", "v1", "namespaces"] or len(parts) < 6:
                raise ApiError(404, "the server could not find the requested resource")
            ns, kind, rest = parts[4], parts[5], parts[6:]
            if kind == "replicasets" and not rest and seen.method == "GET":
                self._fault(seen.method, "replicasets")
                return 200, self._list_replicasets(ns, seen.query)
            if kind != "deployments" or len(rest) not in (1, 2) or rest[1:] not in ([], ["scale"]):
                raise ApiError(404, "the server could not find the requested resource")
            resource = "scale" if rest[1:] == ["scale"] else "deployment"
            if seen.method not in ("GET", "PATCH"):
                raise ApiError(405, f"{seen.method} is not supported here")
            self._fault(seen.method, resource)
            dep = self.deployments.get((ns, rest[0]))
            if dep is None:
                raise ApiError(404, f'deployments.apps "{rest[0]}" not found')
            if seen.method == "PATCH":
                patched = _apply_patch(
                    _scale(dep) if resource == "scale" else copy.deepcopy(dep),
                    seen.headers.get("content-type", ""),
                    seen.body,
                )
                if resource == "scale":
                    self._set_replicas(dep, patched)
                else:
                    self._set_deployment(dep, patched)
            return 200, _scale(dep) if resource == "scale" else copy.deepcopy(dep)

    def _fault(self, method: str, resource: str) -> None:
        fault = self.faults.get((method, resource))
        if fault is not None:
            raise ApiError(fault.status, fault.message)

    def _list_replicasets(self, ns: str, query: dict[str, list[str]]) -> dict[str, Any]:
        wanted = _parse_selector(query.get("labelSelector", [""])[-1])
        items = [
            copy.deepcopy(rs)
            for (rs_ns, _), rs in sorted(self.replicasets.items())
            if rs_ns == ns and _matches(rs["metadata"]["labels"], wanted)
        ]
        return {
            "kind": "ReplicaSetList",
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": str(self._version)},
            "items": items,
        }

    def _set_replicas(self, dep: dict[str, Any], scale: dict[str, Any]) -> None:
        replicas = scale.get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                f'Scale.autoscaling "{dep["metadata"]["name"]}" is invalid: spec.replicas: '
                f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0",
            )
        if scale.get("metadata", {}).get("name") != dep["metadata"]["name"]:
            raise ApiError(422, "metadata.name: Invalid value: the name may not be changed")
        if replicas != dep["spec"]["replicas"]:
            dep["spec"]["replicas"] = replicas
            dep["metadata"]["generation"] += 1
            dep["metadata"]["resourceVersion"] = self._next_version()
            self._status(dep)

    def _set_deployment(self, dep: dict[str, Any], new: dict[str, Any]) -> None:
        name = dep["metadata"]["name"]
        spec = new.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("template"), dict):
            raise ApiError(
                422, f'Deployment.apps "{name}" is invalid: spec.template: Required value'
            )
        if spec.get("selector") != dep["spec"]["selector"]:
            raise ApiError(
                422, f'Deployment.apps "{name}" is invalid: spec.selector: field is immutable'
            )
        labels = spec["template"].get("metadata", {}).get("labels", {})
        if not _matches(labels, [(k, "=", v) for k, v in spec["selector"]["matchLabels"].items()]):
            raise ApiError(
                422,
                f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: '
                "Invalid value: `selector` does not match template `labels`",
            )
        containers = spec["template"].get("spec", {}).get("containers")
        if not containers or not all(isinstance(c, dict) and c.get("name") for c in containers):
            raise ApiError(
                422,
                f'Deployment.apps "{name}" is invalid: spec.template.spec.containers: '
                "Required value",
            )
        changed = spec["template"] != dep["spec"]["template"]
        dep["spec"] = spec
        dep["metadata"]["resourceVersion"] = self._next_version()
        if changed:
            self._rolled_out(dep)

    # --- configuration --------------------------------------------------------------------------

    def kubeconfig(self, path: Path, namespace: str = "default", server: str = "") -> Path:
        """A kubeconfig file pointing at this stand-in (or at ``server``) with its token."""
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "standin", "cluster": {"server": server or self.url}}],
                    "users": [{"name": "sloplane", "user": {"token": self.token}}],
                    "contexts": [
                        {
                            "name": "standin",
                            "context": {
                                "cluster": "standin",
                                "user": "sloplane",
                                "namespace": namespace,
                            },
                        }
                    ],
                    "current-context": "standin",
                }
            )
        )
        return path


def _scale(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": dep["spec"]["replicas"]},
        "status": {"replicas": dep["status"]["replicas"], "selector": selector},
    }


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    plain = copy.deepcopy(template)
    plain.get("metadata", {}).get("labels", {}).pop(HASH, None)
    return plain


def _parse_selector(text: str) -> list[tuple[str, str, str]]:
    """Equality-based label selectors (``a=b``, ``a==b``, ``a!=b``, comma-separated)."""
    out: list[tuple[str, str, str]] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        for op in ("==", "!=", "="):
            key, sep, value = term.partition(op)
            if sep:
                break
        if not sep or not key.strip() or any(c in value for c in "=!() "):
            raise ApiError(400, f"unable to parse requirement: {term!r}")
        out.append((key.strip(), "!=" if op == "!=" else "=", value.strip()))
    return out


def _matches(labels: dict[str, str], wanted: list[tuple[str, str, str]]) -> bool:
    return all((labels.get(k) == v) == (op == "=") for k, op, v in wanted)


def _apply_patch(target: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
    media = content_type.split(";")[0].strip().lower()
    if media not in PATCH_TYPES:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(PATCH_TYPES),
        )
    if media == "application/json-patch+json":
        if not isinstance(body, list):
            raise ApiError(
                400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        for op in body:
            target = _json_patch_op(target, op)
        return target
    if not isinstance(body, dict):
        raise ApiError(
            400, "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    return _merge(target, body, strategic=media.startswith("application/strategic"))


def _merge(target: Any, patch: Any, *, strategic: bool, key: str = "") -> Any:
    if isinstance(patch, dict):
        out = dict(target) if isinstance(target, dict) else {}
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(out.get(k), v, strategic=strategic, key=k)
        return out
    if strategic and isinstance(patch, list) and key in MERGE_KEYS and isinstance(target, list):
        merge_key = MERGE_KEYS[key]
        merged = [dict(item) for item in target]
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                raise ApiError(400, f"{key}: every item needs its merge key {merge_key!r}")
            old = next((m for m in merged if m.get(merge_key) == item[merge_key]), None)
            if old is None:
                merged.append(item)
            else:
                merged[merged.index(old)] = _merge(old, item, strategic=True)
        return merged
    return copy.deepcopy(patch)


def _json_patch_op(doc: dict[str, Any], op: Any) -> dict[str, Any]:
    if not isinstance(op, dict) or not isinstance(op.get("path"), str):
        raise ApiError(400, f"invalid JSON patch operation: {json.dumps(op)}")
    kind, path = op.get("op"), op["path"]
    if kind not in ("add", "replace", "remove", "test") or not path.startswith("/"):
        raise ApiError(400, f"unsupported JSON patch operation: {json.dumps(op)}")
    if kind != "remove" and "value" not in op:
        raise ApiError(400, f"JSON patch operation {kind} needs a value: {json.dumps(op)}")
    doc = copy.deepcopy(doc)
    keys = [k.replace("~1", "/").replace("~0", "~") for k in path[1:].split("/")]
    parent: Any = doc
    for k in keys[:-1]:
        if not isinstance(parent, dict) or k not in parent:
            raise ApiError(
                422, f"jsonpatch {kind} operation does not apply: doc is missing path: {path}"
            )
        parent = parent[k]
    last = keys[-1]
    if not isinstance(parent, dict) or (kind != "add" and last not in parent):
        raise ApiError(
            422, f"jsonpatch {kind} operation does not apply: doc is missing key: {path}"
        )
    if kind == "test":
        if parent[last] != op["value"]:
            raise ApiError(422, f"testing value {path} failed")
    elif kind == "remove":
        del parent[last]
    else:
        parent[last] = copy.deepcopy(op["value"])
    return doc


class _Handler(BaseHTTPRequestHandler):
    api: KubeApi
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        seen = Seen(
            self.command,
            url.path,
            urllib.parse.parse_qs(url.query),
            {k.lower(): v for k, v in self.headers.items()},
        )
        if self.api.hang:
            with self.api.lock:
                self.api.requests.append(seen)
            self.api.released.wait(60)
            self.close_connection = True
            return
        try:
            if raw:
                try:
                    seen.body = json.loads(raw)
                except ValueError as exc:
                    raise ApiError(400, f"the request body is not JSON: {exc}") from exc
            code, obj = self.api.handle(seen)
        except ApiError as err:
            code, obj = err.code, _status(err.code, err.message)
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "Unknown"),
        "code": code,
    }


class KubeApiServer:
    """The stand-in behind a threaded HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, api: KubeApi | None = None) -> None:
        self.api = api or KubeApi()
        handler = type("Handler", (_Handler,), {"api": self.api})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.api.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kube-api-standin", daemon=True
        )

    def __enter__(self) -> KubeApi:
        self._thread.start()
        return self.api

    def __exit__(self, *exc: object) -> None:
        self.api.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
