"""The interface every deployment target implements, and the registry that finds a backend by kind.

A target is built from the runbook's ``targets[]`` entry (kind, url, options) and the runbook's
services. Backends live in one module each and are imported only when a runbook names their kind
(the registry holds dotted paths, testinfra style), so a run against Docker never imports the
Kubernetes client.

Every method that changes something returns a ``DeploymentRecord``: a JSON-serializable account
of what was done (previous version, image digest, colour...) that a rollback can use later, from
a journal file, in another process.
"""

from __future__ import annotations

import importlib
import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from releasegate.checks.errors import TargetError, UnknownTarget
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.checks.runbook.model import Target as TargetSpec

BACKENDS: dict[str, str] = {
    "docker": "releasegate.checks.deploy.targets.docker:DockerTarget",
    "compose": "releasegate.checks.deploy.targets.compose:ComposeTarget",
    "kubernetes": "releasegate.checks.deploy.targets.kubernetes:KubernetesTarget",
    "host": "releasegate.checks.deploy.targets.host:HostTarget",
}


@dataclass
class DeploymentRecord:
    """What one deploy, switch or rollback did; ``as_dict()`` is what goes into the journal."""

    target: str
    kind: str
    service: str
    action: str
    version: str | None = None
    previous_version: str | None = None
    image: str | None = None
    image_digest: str | None = None
    previous_image: str | None = None
    outcome: str = "done"
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def finish(self, outcome: str = "done") -> DeploymentRecord:
        self.outcome = outcome
        self.duration_s = round(time.time() - self.started_at, 3)
        return self

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class Target(ABC):
    """One place services are deployed to; subclasses set ``NAME`` to their runbook ``kind``."""

    NAME: ClassVar[str]

    def __init__(self, spec: TargetSpec, services: list[Service], *, health_timeout_s: float = 60) -> None:
        self.spec = spec
        self.services = {s.name: s for s in services}
        self.default_health_timeout_s = health_timeout_s  # runbook deploy.health_timeout_s

    @property
    def options(self) -> dict[str, Any]:
        return self.spec.options

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise TargetError(
                f"target {self.spec.name!r} knows no service {name!r}; services in the runbook: {sorted(self.services)}"
            ) from None

    def image_ref(self, service: str, version: str) -> str:
        """``repository:version`` for a service (runbook ``services[].image``, else the service name)."""
        repository = self.service(service).image or service
        return f"{repository.rsplit(':', 1)[0] if _has_tag(repository) else repository}:{version}"

    @abstractmethod
    def check_reachable(self) -> None:
        """Raise ``TargetUnreachable`` (one line, what to do) when the target cannot be reached."""

    @abstractmethod
    def deploy(self, service: str, version: str) -> DeploymentRecord:
        """Put ``version`` of ``service`` in place the target's own way and wait until it is healthy."""

    @abstractmethod
    def serving_version(self, service: str) -> str | None:
        """The version the target says is serving, or None when nothing serves."""

    @abstractmethod
    def health(self, service: str) -> CheckResult:
        """Are all instances of the service running and healthy?"""

    @abstractmethod
    def rollback(self, service: str, record: dict[str, Any] | None = None) -> DeploymentRecord:
        """Go back to the previous version; does nothing when the previous version already serves."""

    @abstractmethod
    def image_exists(self, service: str, version: str) -> CheckResult:
        """Is the image of this release available to the target (tag and digest as evidence)?"""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def _has_tag(image: str) -> bool:
    return ":" in image.rsplit("/", 1)[-1]


def http_version(service: Service, timeout_s: float = 2.0) -> str | None:
    """The version a service reports at ``base_url + version_endpoint`` (None when it does not answer)."""
    if not service.version_endpoint:
        return None
    url = service.base_url + service.version_endpoint
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = json.loads(response.read().decode("utf-8", "replace"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    value = body.get(service.version_field) if isinstance(body, dict) else None
    return str(value) if value is not None else None


def backend_class(kind: str) -> type[Target]:
    """The Target class for a runbook ``kind``, imported on first use."""
    path = BACKENDS.get(kind)
    if path is None:
        raise UnknownTarget(f"unknown target kind {kind!r}; use one of: {', '.join(sorted(BACKENDS))}")
    module_name, _, class_name = path.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise UnknownTarget(f"{path} is not a Target class")
    return cls


def get_target(spec: TargetSpec, runbook: Runbook | list[Service]) -> Target:
    """Build the target a runbook names (connections are made when first used)."""
    cls = backend_class(spec.kind)
    if isinstance(runbook, list):
        return cls(spec, runbook)
    return cls(spec, runbook.services, health_timeout_s=runbook.deploy.health_timeout_s)
