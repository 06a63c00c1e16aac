"""A simulated Kubernetes API server for the kubernetes target's tests (no cluster can run here).

It serves the REST paths the official client calls (``/version``, apps/v1 Deployments with
GET/list/POST/PUT/PATCH/DELETE, ReplicaSets, core/v1 Pods) and runs a small deployment
controller in a thread: a change of the pod template bumps ``metadata.generation``; the
controller observes it (``status.observedGeneration``), finds or creates the ReplicaSet for the
template with the next ``deployment.kubernetes.io/revision`` (an old ReplicaSet whose template
comes back gets the new revision, as on a real cluster), scales it up one pod at a time with
maxSurge 1 / maxUnavailable 0, scales the old ones down as new pods become ready, and sets the
``Progressing`` condition to ``ProgressDeadlineExceeded`` when no pod became ready for
``progressDeadlineSeconds``. Pods of an image listed in ``stuck_images`` never become ready
(their container waits in CrashLoopBackOff), which is how a stuck rollout is simulated.

What it does not do: admission, field validation, server-side apply, Services, watches.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template_key(template: dict[str, Any]) -> str:
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(HASH, None)
    return json.dumps(clean, sort_keys=True)


def _merge(base: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386); lists of named items (containers) are merged by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(base.get(key), value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        by_name = {i.get("name"): i for i in base if isinstance(i, dict)}
        return [_merge(by_name.get(i["name"]), i) for i in patch]
    return copy.deepcopy(patch)


def _json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        if op["op"] in ("replace", "add"):
            if isinstance(parent, list) and op["op"] == "add":
                parent.insert(int(last), op["value"])
            elif isinstance(parent, list):
                parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise ValueError(f"unsupported json-patch op {op['op']}")
    return doc


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip().lstrip("="):
            return False
    return True


class Cluster:
    """The objects and the controller; all access under one lock."""

    def __init__(self, step_s: float = 0.05, pod_ready_s: float = 0.15) -> None:
        self.lock = threading.RLock()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.stuck_images: set[str] = set()
        self.step_s = step_s
        self.pod_ready_s = pod_ready_s
        self.requests: list[tuple[str, str]] = []
        self._version = 1
        self._progress: dict[tuple[str, str], float] = {}
        self._last_step: dict[tuple[str, str], float] = {}

    def _rv(self) -> str:
        self._version += 1
        return str(self._version)

    # --- deployments -------------------------------------------------------------------------
    def create_deployment(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if (namespace, name) in self.deployments:
            raise KeyError("exists")
        dep = copy.deepcopy(body)
        meta = dep.setdefault("metadata", {})
        meta.update(namespace=namespace, uid=str(uuid.uuid4()), generation=1, resourceVersion=self._rv(),
                    creationTimestamp=_now())
        meta.setdefault("annotations", {})
        spec = dep.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        dep["status"] = {"observedGeneration": 0}
        self.deployments[(namespace, name)] = dep
        return dep

    def update_deployment(self, namespace: str, name: str, new: dict[str, Any]) -> dict[str, Any]:
        old = self.deployments[(namespace, name)]
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        for key in ("uid", "creationTimestamp", "namespace", "generation"):
            meta[key] = old["metadata"][key]
        meta.setdefault("annotations", {})
        if REVISION in old["metadata"].get("annotations", {}):
            meta["annotations"].setdefault(REVISION, old["metadata"]["annotations"][REVISION])
        if json.dumps(new.get("spec"), sort_keys=True) != json.dumps(old.get("spec"), sort_keys=True):
            meta["generation"] = old["metadata"]["generation"] + 1
        meta["resourceVersion"] = self._rv()
        new["status"] = old.get("status", {})
        self.deployments[(namespace, name)] = new
        return new

    # --- controller --------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self.lock:
            now = time.monotonic()
            for key, dep in list(self.deployments.items()):
                self._reconcile_one(key, dep, now)

    def _owned(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        uid = dep["metadata"]["uid"]
        return [rs for rs in self.replicasets.values()
                if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences", []))]

    def _reconcile_one(self, key: tuple[str, str], dep: dict[str, Any], now: float) -> None:
        namespace = key[0]
        spec, status, meta = dep["spec"], dep["status"], dep["metadata"]
        owned = self._owned(dep)
        template_key = _template_key(spec["template"])
        new_rs = next((rs for rs in owned if _template_key(rs["spec"]["template"]) == template_key), None)
        if status.get("observedGeneration", 0) < meta["generation"] or new_rs is None:
            revisions = [int(rs["metadata"]["annotations"].get(REVISION, "0")) for rs in owned]
            next_revision = str(max(revisions, default=0) + 1)
            if new_rs is None:
                new_rs = self._create_rs(namespace, dep, next_revision)
            elif new_rs["metadata"]["annotations"].get(REVISION) != str(max(revisions, default=0)):
                new_rs["metadata"]["annotations"][REVISION] = next_revision
            meta["annotations"][REVISION] = new_rs["metadata"]["annotations"][REVISION]
            status["observedGeneration"] = meta["generation"]
            self._progress[key] = now
            self._set_condition(dep, "Progressing", "True", "ReplicaSetUpdated",
                                f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.')
        old = [rs for rs in owned if rs is not new_rs]
        desired = int(spec.get("replicas", 1))
        self._mark_ready(now)
        recreate = spec.get("strategy", {}).get("type") == "Recreate"
        if recreate and now - self._last_step.get(key, 0.0) >= self.step_s:
            self._last_step[key] = now
            for rs in old:  # Recreate: every old pod goes first, then the new ones come up together
                if rs["spec"]["replicas"] > 0:
                    self._scale(rs, 0)
            if not any(self._pods_of(rs) for rs in old) and new_rs["spec"]["replicas"] != desired:
                self._scale(new_rs, desired)
        elif now - self._last_step.get(key, 0.0) >= self.step_s:
            self._last_step[key] = now
            new_ready = self._ready_count(new_rs)
            old_ready = sum(self._ready_count(rs) for rs in old)
            total = new_rs["spec"]["replicas"] + sum(rs["spec"]["replicas"] for rs in old)
            if new_rs["spec"]["replicas"] < desired and total < desired + 1:
                self._scale(new_rs, new_rs["spec"]["replicas"] + 1)
            elif new_rs["spec"]["replicas"] > desired:
                self._scale(new_rs, desired)
            for rs in old:
                if rs["spec"]["replicas"] > 0 and new_ready + old_ready > desired:
                    self._scale(rs, rs["spec"]["replicas"] - 1)
                    break
                if rs["spec"]["replicas"] > 0 and self._ready_count(rs) == 0 and new_ready >= 1:
                    self._scale(rs, rs["spec"]["replicas"] - 1)
                    break
        self._status(key, dep, new_rs, old, now)

    def _create_rs(self, namespace: str, dep: dict[str, Any], revision: str) -> dict[str, Any]:
        template = copy.deepcopy(dep["spec"]["template"])
        digest = hashlib.sha256(_template_key(template).encode()).hexdigest()[:10]
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = digest
        labels = dict(template["metadata"]["labels"])
        selector = copy.deepcopy(dep["spec"].get("selector", {"matchLabels": {}}))
        selector.setdefault("matchLabels", {})[HASH] = digest
        name = f"{dep['metadata']['name']}-{digest}"
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels,
                         "annotations": {REVISION: revision}, "generation": 1, "resourceVersion": self._rv(),
                         "creationTimestamp": _now(),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "controller": True,
                                              "name": dep["metadata"]["name"], "uid": dep["metadata"]["uid"]}]},
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        self.replicasets[(namespace, name)] = rs
        return rs

    def _pods_of(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        uid = rs["metadata"]["uid"]
        return [p for p in self.pods.values() if p["metadata"]["ownerReferences"][0]["uid"] == uid]

    def _ready_count(self, rs: dict[str, Any]) -> int:
        return sum(1 for p in self._pods_of(rs) if p["_ready"])

    def _scale(self, rs: dict[str, Any], replicas: int) -> None:
        rs["spec"]["replicas"] = replicas
        pods = self._pods_of(rs)
        while len(pods) < replicas:
            pods.append(self._create_pod(rs))
        for pod in sorted(pods, key=lambda p: p["_ready"])[: max(0, len(pods) - replicas)]:
            del self.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])]

    def _create_pod(self, rs: dict[str, Any]) -> dict[str, Any]:
        template = rs["spec"]["template"]
        namespace = rs["metadata"]["namespace"]
        name = f"{rs['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        containers = template["spec"]["containers"]
        stuck = any(c.get("image") in self.stuck_images for c in containers)
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                         "labels": dict(template["metadata"]["labels"]), "creationTimestamp": _now(),
                         "resourceVersion": self._rv(),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                              "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"]}]},
            "spec": copy.deepcopy(template["spec"]),
            "status": {},
            "_ready": False,
            "_ready_at": None if stuck else time.monotonic() + self.pod_ready_s,
        }
        self._pod_status(pod)
        self.pods[(namespace, name)] = pod
        return pod

    def _pod_status(self, pod: dict[str, Any]) -> None:
        ready = pod["_ready"]
        stuck = pod["_ready_at"] is None
        statuses = []
        for c in pod["spec"]["containers"]:
            state = ({"running": {"startedAt": _now()}} if ready else
                     {"waiting": {"reason": "CrashLoopBackOff" if stuck else "ContainerCreating"}})
            statuses.append({"name": c["name"], "image": c["image"], "imageID": f"sim://{c['image']}",
                             "ready": ready, "restartCount": 3 if stuck else 0, "started": ready, "state": state})
        pod["status"] = {
            "phase": "Running" if ready or stuck else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": _now()}],
            "containerStatuses": statuses,
        }

    def _mark_ready(self, now: float) -> None:
        for key, pod in self.pods.items():
            if not pod["_ready"] and pod["_ready_at"] is not None and now >= pod["_ready_at"]:
                pod["_ready"] = True
                self._pod_status(pod)
                dep_key = (key[0], self._deployment_of_pod(pod))
                self._progress[dep_key] = now

    def _deployment_of_pod(self, pod: dict[str, Any]) -> str:
        rs = self.replicasets.get((pod["metadata"]["namespace"], pod["metadata"]["ownerReferences"][0]["name"]))
        return rs["metadata"]["ownerReferences"][0]["name"] if rs else ""

    def _set_condition(self, dep: dict[str, Any], kind: str, status: str, reason: str, message: str) -> None:
        conditions = [c for c in dep["status"].get("conditions", []) if c["type"] != kind]
        conditions.append({"type": kind, "status": status, "reason": reason, "message": message,
                           "lastUpdateTime": _now(), "lastTransitionTime": _now()})
        dep["status"]["conditions"] = conditions

    def _status(self, key: tuple[str, str], dep: dict[str, Any], new_rs: dict[str, Any],
                old: list[dict[str, Any]], now: float) -> None:
        for rs in [new_rs, *old]:
            pods = self._pods_of(rs)
            ready = sum(1 for p in pods if p["_ready"])
            rs["status"] = {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                            "fullyLabeledReplicas": len(pods), "observedGeneration": rs["metadata"]["generation"]}
        replicas = sum(rs["status"]["replicas"] for rs in [new_rs, *old])
        available = sum(rs["status"]["availableReplicas"] for rs in [new_rs, *old])
        desired = int(dep["spec"].get("replicas", 1))
        status = dep["status"]
        status.update(replicas=replicas, updatedReplicas=new_rs["status"]["replicas"], readyReplicas=available,
                      availableReplicas=available, unavailableReplicas=max(0, desired - available))
        complete = (new_rs["status"]["availableReplicas"] == desired and replicas == desired)
        progressing = next((c for c in status.get("conditions", []) if c["type"] == "Progressing"), None)
        if complete:
            if progressing is None or progressing["reason"] != "NewReplicaSetAvailable":
                self._set_condition(dep, "Progressing", "True", "NewReplicaSetAvailable",
                                    f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.')
        elif progressing is not None and progressing["reason"] != "ProgressDeadlineExceeded":
            deadline = float(dep["spec"].get("progressDeadlineSeconds", 600))
            if now - self._progress.get(key, now) > deadline:
                self._set_condition(dep, "Progressing", "False", "ProgressDeadlineExceeded",
                                    f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.')
        is_available = "True" if available >= desired else "False"
        current = next((c for c in status.get("conditions", []) if c["type"] == "Available"), None)
        if current is None or current["status"] != is_available:
            reason = "MinimumReplicasAvailable" if is_available == "True" else "MinimumReplicasUnavailable"
            self._set_condition(dep, "Available", is_available, reason, "Deployment availability changed.")


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


_DEPLOYMENTS = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments(?:/(?P<name>[^/]+))?$")
_REPLICASETS = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/replicasets(?:/(?P<name>[^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _handle(self, method: str) -> None:
        cluster = self.server.cluster
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        cluster.requests.append((method, path))
        if self.server.token and self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._status(401, "Unauthorized", "Unauthorized")
            return
        cluster.reconcile()
        with cluster.lock:
            if path == "/version":
                self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-releasegate-sim",
                                 "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": _now(),
                                 "goVersion": "go1.22", "compiler": "gc", "platform": "linux/amd64"})
                return
            for pattern, store, kind in ((_DEPLOYMENTS, cluster.deployments, "Deployment"),
                                         (_REPLICASETS, cluster.replicasets, "ReplicaSet"),
                                         (_PODS, cluster.pods, "Pod")):
                match = pattern.match(path)
                if match:
                    self._resource(method, match["ns"], match["name"], store, kind, query)
                    return
            self._status(404, "NotFound", f"the server could not find the requested resource ({path})")

    def _resource(self, method: str, ns: str, name: str | None, store: dict[tuple[str, str], dict[str, Any]],
                  kind: str, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        plural = kind.lower() + "s"
        group = "apps" if kind != "Pod" else ""
        if name is None and method == "GET":
            items = [_public(o) for (n, _), o in sorted(store.items())
                     if n == ns and _matches(o["metadata"].get("labels", {}), query.get("labelSelector"))]
            self._send(200, {"kind": f"{kind}List", "apiVersion": "apps/v1" if group else "v1",
                             "metadata": {"resourceVersion": str(cluster._version)}, "items": items})
            return
        if name is None and method == "POST" and kind == "Deployment":
            body = self._body()
            try:
                created = cluster.create_deployment(ns, body)
            except KeyError:
                self._status(409, "AlreadyExists", f'{plural}.{group} "{body["metadata"]["name"]}" already exists')
                return
            self._send(201, _public(created))
            return
        obj = store.get((ns, name or ""))
        if obj is None:
            self._status(404, "NotFound", f'{plural}.{group} "{name}" not found'.replace(". ", " "))
            return
        if method == "GET":
            self._send(200, _public(obj))
        elif method == "DELETE":
            del store[(ns, name or "")]
            self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        elif kind == "Deployment" and method in ("PUT", "PATCH"):
            body = self._body()
            content_type = self.headers.get("Content-Type", "")
            if method == "PUT":
                new = body
            elif "json-patch" in content_type:
                new = _json_patch(_public(obj), body)
            elif "merge-patch" in content_type:
                new = _merge(_public(obj), body)
            else:
                self._status(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")
                return
            self._send(200, _public(cluster.update_deployment(ns, name or "", new)))
        else:
            self._status(405, "MethodNotAllowed", f"{method} is not supported on {plural}")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    cluster: Cluster
    token: str


class SimulatedCluster:
    """Start with ``start()``; ``url``, ``write_kubeconfig(path)``; ``stop()`` when done."""

    def __init__(self, token: str = "sim-token-releasegate", **timing: float) -> None:
        self.cluster = Cluster(**timing)
        self.token = token
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatedCluster:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.cluster = self.cluster
        self._server.token = self.token
        serve = threading.Thread(target=self._server.serve_forever, name="k8s-sim", daemon=True)
        tick = threading.Thread(target=self._tick, name="k8s-sim-controller", daemon=True)
        self._threads = [serve, tick]
        for t in self._threads:
            t.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(self.cluster.step_s / 2):
            self.cluster.reconcile()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def write_kubeconfig(self, path: Path, namespace: str = "releasegate", context: str = "sim") -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "sim", "cluster": {"server": self.url}}],
            "users": [{"name": "sim-user", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "sim", "user": "sim-user", "namespace": namespace}},
                         {"name": "other", "context": {"cluster": "sim", "user": "sim-user", "namespace": "other"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path
