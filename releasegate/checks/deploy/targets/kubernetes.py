"""Kubernetes target: apply Deployment manifests, wait for the rollout, undo like ``kubectl rollout undo``.

Runbook::

    targets:
      - name: cluster
        kind: kubernetes
        options:
          kubeconfig: ~/.kube/config          # default: $KUBECONFIG, then ~/.kube/config
          context: prod                       # default: the kubeconfig's current-context
          namespace: production               # default: the context's namespace, then "default"
          manifests: {demo-api: k8s/api.yaml} # optional; otherwise a Deployment is generated
          deployments: {demo-api: docsense-backend}   # Deployment name when it differs from the service
          timeout_s: 300                      # how long to wait for a rollout
          progress_deadline_s: 600            # spec.progressDeadlineSeconds of generated manifests
          images_from: docker                 # optional: check images in the local Docker engine

The official client is used for transport, authentication and kubeconfig handling; responses are
read as plain JSON (``_preload_content=False``) so the code does not depend on the client's model
classes. Rollout status follows ``kubectl rollout status``: the observed generation has caught
up, every replica is updated, no old replica is left, every updated replica is available, the
pods of the new ReplicaSet are ready, and ``ProgressDeadlineExceeded`` ends the wait as a failure.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.targets.base import Target, image_tag, previous_version_of
from releasegate.checks.errors import ConfigError, TargetError, TargetUnreachable, describe_error
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.options import KubernetesOptions

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


class KubernetesTarget(Target):
    NAME = "kubernetes"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api: Any = None
        self._namespace: str | None = None

    @property
    def options(self) -> KubernetesOptions:
        return self._options(KubernetesOptions)

    # --- connection --------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> str:
        configured = self.options.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        return os.path.expanduser(str(configured).split(os.pathsep)[0])

    def _client(self) -> Any:
        if self._api is not None:
            return self._api
        from kubernetes import client, config

        path = self.kubeconfig
        if not Path(path).is_file():
            raise TargetUnreachable(
                f"target {self.spec.name!r}: kubeconfig {path} does not exist; set options.kubeconfig or KUBECONFIG"
            )
        context = self.options.context
        configuration = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration
            )
            contexts, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        except Exception as exc:  # the loader raises ConfigException, KeyError, yaml errors
            raise ConfigError(
                f"target {self.spec.name!r}: cannot use kubeconfig {path} (context {context or 'current'}):"
                f" {describe_error(exc)}"
            ) from None
        chosen = next((c for c in contexts if c["name"] == context), active) if context else active
        self._namespace = str(
            self.options.namespace or (chosen or {}).get("context", {}).get("namespace") or "default"
        )
        self._api = client.ApiClient(configuration)
        return self._api

    @property
    def namespace(self) -> str:
        self._client()
        assert self._namespace is not None
        return self._namespace

    def _call(self, api_class: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """One call of the official client, read as plain JSON; None for 404."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        api = self._client()
        fn = getattr(getattr(client, api_class)(api), method)
        try:
            response = fn(*args, _preload_content=False,
                          _request_timeout=self.options.request_timeout_s, **kwargs)
            data = response.data
        except ApiException as exc:
            status = int(exc.status or 0)
            if status == 404:
                return None
            try:
                message = json.loads(exc.body or b"{}").get("message", "")
            except ValueError:
                message = str(exc.reason)
            if status in (401, 403):
                raise TargetUnreachable(
                    f"target {self.spec.name!r}: Kubernetes API refused {method} ({status}): {message};"
                    " check the credentials of the kubeconfig user"
                ) from None
            if status == 0:
                raise TargetUnreachable(f"target {self.spec.name!r}: Kubernetes API at {api.configuration.host}"
                                        f" is unreachable: {exc.reason}") from None
            raise TargetError(f"target {self.spec.name!r}: {method} failed ({status}): {message}") from None
        except Exception as exc:  # urllib3 raises MaxRetryError, ProtocolError... when the server is away
            raise TargetUnreachable(
                f"target {self.spec.name!r}: Kubernetes API at {api.configuration.host} is unreachable:"
                f" {describe_error(exc)}; check the kubeconfig context"
            ) from None
        return json.loads(data) if data else {}

    def check_reachable(self) -> None:
        self._call("VersionApi", "get_code")

    # --- objects -----------------------------------------------------------------------------
    def deployment_name(self, service: str) -> str:
        return self.options.deployments.get(service, service)

    def get_deployment(self, service: str) -> dict[str, Any] | None:
        found = self._call("AppsV1Api", "read_namespaced_deployment", self.deployment_name(service), self.namespace)
        return found if isinstance(found, dict) else None

    def replicasets(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        """The ReplicaSets the Deployment controls, newest revision first."""
        selector = _selector(deployment)
        listed = self._call("AppsV1Api", "list_namespaced_replica_set", self.namespace,
                            **({"label_selector": selector} if selector else {})) or {}
        uid = deployment["metadata"].get("uid")
        owned = [rs for rs in listed.get("items", [])
                 if any(o.get("uid") == uid and o.get("controller") for o in rs["metadata"].get("ownerReferences", []))]
        return sorted(owned, key=_revision, reverse=True)

    def pods(self, selector: str) -> list[dict[str, Any]]:
        listed = self._call("CoreV1Api", "list_namespaced_pod", self.namespace, label_selector=selector)
        return list((listed or {}).get("items", []))

    def manifest(self, service: str, version: str) -> dict[str, Any]:
        """The Deployment to apply: the runbook's manifest with the image set, or a generated one."""
        image = self.image_ref(service, version)
        path = self.options.manifests.get(service)
        if path:
            manifest = self._load_manifest(Path(str(path)))
            containers = manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            if not containers:
                raise ConfigError(f"manifest {path}: spec.template.spec.containers is empty")
            wanted = self.options.container
            chosen = next((c for c in containers if c.get("name") == wanted), containers[0])
            chosen["image"] = image
            manifest.setdefault("metadata", {})["name"] = self.deployment_name(service)
            return manifest
        spec = self.service(service)
        labels = {"app": self.deployment_name(service), "app.kubernetes.io/managed-by": "releasegate"}
        container: dict[str, Any] = {
            "name": service, "image": image, "ports": [{"containerPort": spec.port}],
            "env": [{"name": "PORT", "value": str(spec.port)}, *({"name": k, "value": v} for k, v in spec.env.items())],
        }
        if spec.readiness or spec.health:
            container["readinessProbe"] = {"httpGet": {"path": spec.readiness or spec.health, "port": spec.port},
                                           "periodSeconds": 2, "failureThreshold": 2}
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.deployment_name(service), "labels": dict(labels)},
            "spec": {
                "replicas": spec.instances,
                "progressDeadlineSeconds": self.options.progress_deadline_s,
                "selector": {"matchLabels": {"app": labels["app"]}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
            },
        }

    @staticmethod
    def _load_manifest(path: Path) -> dict[str, Any]:
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"manifest {path}: cannot read it: {describe_error(exc)}") from None
        found = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Deployment"]
        if len(found) != 1:
            raise ConfigError(f"manifest {path}: expected exactly one Deployment, found {len(found)}")
        return copy.deepcopy(found[0])

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create the Deployment, or strategic-merge-patch it as ``kubectl apply`` would."""
        name = manifest["metadata"]["name"]
        existing = self._call("AppsV1Api", "read_namespaced_deployment", name, self.namespace)
        if existing is None:
            return dict(self._call("AppsV1Api", "create_namespaced_deployment", self.namespace, manifest))
        # a dict body is sent as a strategic merge patch, like kubectl apply's patch
        return dict(self._call("AppsV1Api", "patch_namespaced_deployment", name, self.namespace, manifest))

    # --- rollout -----------------------------------------------------------------------------
    def rollout_state(self, service: str) -> tuple[str, str, dict[str, Any]]:
        """("done" | "waiting" | "failed", message, evidence) as ``kubectl rollout status`` decides."""
        dep = self.get_deployment(service)
        name = self.deployment_name(service)
        if dep is None:
            return "failed", f"deployment {name!r} not found in namespace {self.namespace!r}", {}
        meta, spec, status = dep["metadata"], dep.get("spec", {}), dep.get("status", {})
        evidence = {"deployment": name, "namespace": self.namespace, "generation": meta.get("generation"),
                    "observedGeneration": status.get("observedGeneration"), "replicas": spec.get("replicas", 1),
                    "updatedReplicas": status.get("updatedReplicas", 0),
                    "availableReplicas": status.get("availableReplicas", 0),
                    "statusReplicas": status.get("replicas", 0), "revision": meta.get("annotations", {}).get(REVISION),
                    "image": _image(dep)}
        if int(meta.get("generation", 0)) > int(status.get("observedGeneration", 0)):
            return "waiting", "waiting for the deployment spec update to be observed", evidence
        progressing = next((c for c in status.get("conditions", []) if c.get("type") == "Progressing"), None)
        if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            deadline = spec.get("progressDeadlineSeconds")
            return "failed", f"deployment {name!r} exceeded its progress deadline ({deadline}s)", evidence
        desired = int(spec.get("replicas", 1))
        updated = int(status.get("updatedReplicas", 0))
        if updated < desired:
            return "waiting", f"{updated} out of {desired} new replicas have been updated", evidence
        old_replicas = int(status.get("replicas", 0)) - updated
        if old_replicas > 0:
            return "waiting", f"{old_replicas} old replicas are pending termination", evidence
        available = int(status.get("availableReplicas", 0))
        if available < updated:
            return "waiting", f"{available} of {updated} updated replicas are available", evidence
        pods = self._new_pods(dep)
        evidence["pods"] = [_pod_summary(p) for p in pods]
        not_ready = [p["metadata"]["name"] for p in pods if not _pod_ready(p)]
        if not_ready or len(pods) < desired:
            return "waiting", f"pods not ready: {not_ready or 'fewer pods than replicas'}", evidence
        return "done", f"deployment {name!r} successfully rolled out", evidence

    def _new_pods(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        revision = dep["metadata"].get("annotations", {}).get(REVISION)
        current = next((rs for rs in self.replicasets(dep) if rs["metadata"].get("annotations", {}).get(REVISION)
                        == revision), None)
        if current is None:
            return []
        template_hash = current["metadata"].get("labels", {}).get(HASH)
        selector = _selector(dep)
        return self.pods(f"{selector},{HASH}={template_hash}" if selector else f"{HASH}={template_hash}")

    def wait_rollout(self, service: str, timeout_s: float | None = None) -> CheckResult:
        default = max(300.0, self.default_health_timeout_s)
        timeout = timeout_s if timeout_s is not None else self.options.timeout_s or default
        interval = self.options.poll_s
        started = time.monotonic()
        attempts = 0
        name = f"rollout of {self.deployment_name(service)}"
        while True:
            attempts += 1
            state, message, evidence = self.rollout_state(service)
            elapsed = round(time.monotonic() - started, 3)
            if state == "done":
                return CheckResult.ok(name, message, "rolled out", attempts=attempts, elapsed_s=elapsed,
                                      evidence=evidence)
            if state == "failed":
                return CheckResult.fail(name, message, "rolled out", attempts=attempts, elapsed_s=elapsed,
                                        evidence=evidence)
            if elapsed + interval > timeout:
                return CheckResult.fail(name, message, "rolled out", attempts=attempts, elapsed_s=elapsed,
                                        detail=f"still not rolled out after {timeout:g}s", evidence=evidence)
            time.sleep(interval)

    # --- the Target interface ----------------------------------------------------------------
    def deploy(self, service: str, version: str, *, strategy: str | None = None) -> DeploymentRecord:
        """Apply the manifest with the new image and wait for the rollout.

        ``strategy`` recreate or rolling sets the manifest's ``spec.strategy`` (Recreate, RollingUpdate).
        """
        before = self.get_deployment(service)
        record = self.new_record(service, version, action="apply",
                                 previous_version=image_tag(_image(before)) if before else None,
                                 previous_image=_image(before))
        record.details["previous_revision"] = (before or {}).get("metadata", {}).get("annotations", {}).get(REVISION)
        manifest = self.manifest(service, version)
        if strategy == "recreate":
            manifest["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": None}
        elif strategy == "rolling":
            manifest["spec"]["strategy"] = {"type": "RollingUpdate"}
        record.details["strategy_type"] = manifest["spec"].get("strategy", {}).get("type", "RollingUpdate")
        applied = self.apply(manifest)
        record.details["generation"] = applied["metadata"].get("generation")
        result = self.wait_rollout(service)
        record.details["rollout"] = result.as_dict()
        after = self.get_deployment(service) or {}
        record.details["revision"] = after.get("metadata", {}).get("annotations", {}).get(REVISION)
        record.image_digest = _digest_from_pods(result.evidence.get("pods", []))
        return record.finish("done" if result.passed else "failed")

    def serving_version(self, service: str) -> str | None:
        dep = self.get_deployment(service)
        if dep is None:
            return None
        state, _, _ = self.rollout_state(service)
        if state == "done":
            return image_tag(_image(dep))
        rs_list = [rs for rs in self.replicasets(dep) if rs.get("status", {}).get("availableReplicas", 0)]
        if not rs_list:
            return None
        best = max(rs_list, key=lambda rs: rs["status"]["availableReplicas"])
        return image_tag(_image(best))

    def health(self, service: str) -> CheckResult:
        name = f"{service} pods running and healthy"
        try:
            state, message, evidence = self.rollout_state(service)
        except TargetError as exc:
            return CheckResult.unknown(name, str(exc), "every pod of the current revision ready")
        return CheckResult.judge(name, state == "done", message, "every pod of the current revision ready",
                                 evidence=evidence)

    def rollback(self, service: str, record: DeploymentRecord | Mapping[str, Any] | None = None) -> DeploymentRecord:
        """``kubectl rollout undo``: put the template of the previous revision back, then wait."""
        dep = self.get_deployment(service)
        name = self.deployment_name(service)
        if dep is None:
            raise TargetError(f"target {self.spec.name!r}: deployment {name!r} does not exist; nothing to roll back")
        current_revision = _revision(dep)
        wanted_version = previous_version_of(record)
        out = self.new_record(service, wanted_version, action="undo", previous_version=image_tag(_image(dep)),
                              previous_image=_image(dep))
        out.image = None
        if wanted_version and image_tag(_image(dep)) == wanted_version:
            result = self.wait_rollout(service)
            out.details.update(skipped=f"{wanted_version} is already the deployed template", rollout=result.as_dict())
            return out.finish("done" if result.passed else "failed")
        history = self.replicasets(dep)
        candidates = [rs for rs in history if _revision(rs) < current_revision]
        if wanted_version:
            candidates = [rs for rs in candidates if image_tag(_image(rs)) == wanted_version] or candidates
        if not candidates:
            raise TargetError(f"target {self.spec.name!r}: deployment {name!r} has no revision before"
                              f" {current_revision} to go back to")
        previous = candidates[0]
        template = copy.deepcopy(previous["spec"]["template"])
        template.get("metadata", {}).get("labels", {}).pop(HASH, None)
        # a list body is sent as a JSON patch, which is what kubectl rollout undo sends
        self._call("AppsV1Api", "patch_namespaced_deployment", name, self.namespace,
                   [{"op": "replace", "path": "/spec/template", "value": template}])
        out.version = image_tag(_image(previous))
        out.image = _image(previous)
        out.details["to_revision"] = _revision(previous)
        out.details["from_revision"] = current_revision
        result = self.wait_rollout(service)
        out.details["rollout"] = result.as_dict()
        return out.finish("done" if result.passed else "failed")

    def image_exists(self, service: str, version: str) -> CheckResult:
        return self.image_check(service, version, self._image_present)

    def _image_present(self, image: str) -> CheckResult:
        if self.options.images_from == "docker":
            from releasegate.checks.deploy.targets.containers import inspect_local_image

            return inspect_local_image(image)
        return CheckResult.unknown(
            f"image {image}", "the cluster pulls images on its nodes; this target cannot see a registry"
            " (set options.images_from: docker for images loaded from the local engine)", "image present",
            evidence={"image": image})

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def _selector(obj: dict[str, Any]) -> str:
    labels = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _revision(obj: dict[str, Any]) -> int:
    try:
        return int(obj.get("metadata", {}).get("annotations", {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def _image(obj: dict[str, Any] | None) -> str | None:
    if not obj:
        return None
    containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return str(containers[0].get("image")) if containers else None


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    waiting = [s.get("state", {}).get("waiting", {}).get("reason") for s in statuses if "waiting" in s.get("state", {})]
    return {"name": pod["metadata"]["name"], "phase": pod.get("status", {}).get("phase"), "ready": _pod_ready(pod),
            "restarts": sum(int(s.get("restartCount", 0)) for s in statuses),
            "images": [s.get("imageID") or s.get("image") for s in statuses], "waiting": [w for w in waiting if w]}


def _digest_from_pods(pods: list[dict[str, Any]]) -> str | None:
    for pod in pods:
        for image in pod.get("images", []):
            if image and "@sha256:" in str(image):
                return str(image).split("@", 1)[1]
    return None
