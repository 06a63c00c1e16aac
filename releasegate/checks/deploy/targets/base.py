"""The interface every deployment target implements, and the registry that finds a backend by kind.

A target is built from the runbook's ``targets[]`` entry (kind, url, typed options) and the
runbook's services. Backends live in one module each and are imported only when a runbook names
their kind (the registry holds dotted paths, testinfra style), so a run against Docker never
imports the Kubernetes client.

Every method that changes something returns a ``DeploymentRecord`` (``checks.deploy.record``):
a JSON-serializable account of what was done (previous version, image digest, colour...) that a
rollback can use later, from a journal file, in another process.

What a strategy needs from a target is here: ``deploy`` (the target's own way, ``strategy``
naming the Deployment strategy where the backend has one), ``rollback``, ``health``,
``image_exists``; and, from backends whose instances run in blue/green slots (docker, compose),
``slot_control()``. Logs and resource usage of a service are read through the target too.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sized
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from releasegate.checks._support import http
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.targets.slots import SlotControl
from releasegate.checks.errors import ReleaseGateError, TargetError, UnknownTarget
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.checks.runbook.model import Target as TargetSpec
from releasegate.checks.runbook.options import Options, project_dir

BACKENDS: dict[str, str] = {
    "docker": "releasegate.checks.deploy.targets.docker:DockerTarget",
    "compose": "releasegate.checks.deploy.targets.compose:ComposeTarget",
    "kubernetes": "releasegate.checks.deploy.targets.kubernetes:KubernetesTarget",
    "host": "releasegate.checks.deploy.targets.host:HostTarget",
}

# the tag grammar of distribution/reference (Docker, OCI registries, Kubernetes image fields)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

OptionsT = TypeVar("OptionsT", bound=Options)
T = TypeVar("T", bound=Sized)


class Target(ABC):
    """One place services are deployed to; subclasses set ``NAME`` to their runbook ``kind``."""

    NAME: ClassVar[str]
    NO_PREVIOUS_HINT: ClassVar[str] = ""
    """Added to the error of a rollback that knows no previous version."""

    def __init__(self, spec: TargetSpec, services: list[Service], *, health_timeout_s: float = 60,
                 base_dir: Path | None = None) -> None:
        # relative paths in the options are the project's; absolute from here on (and in every record)
        self.spec = spec.model_copy(update={"options": spec.options.resolved(base_dir or Path.cwd())})
        self.services = {s.name: s for s in services}
        self.default_health_timeout_s = health_timeout_s  # runbook deploy.health_timeout_s

    @property
    def options(self) -> Options:
        return self.spec.options

    def _options(self, model: type[OptionsT]) -> OptionsT:
        options = self.spec.options
        if not isinstance(options, model):
            raise TargetError(f"target {self.spec.name!r} ({self.NAME}) was given {type(options).__name__}")
        return options

    @property
    def label(self) -> str:
        """How messages name this target."""
        return f"target {self.spec.name!r}"

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise TargetError(
                f"target {self.spec.name!r} knows no service {name!r}; services in the runbook: {sorted(self.services)}"
            ) from None

    def _reference(self, service: str, version: str) -> str:
        repository = self.service(service).image or service
        return f"{repository.rsplit(':', 1)[0] if _has_tag(repository) else repository}:{version}"

    def image_ref(self, service: str, version: str) -> str:
        """``repository:version`` for a service (runbook ``services[].image``, else the service name).

        Raises ``TargetError`` when ``version`` is not a valid image tag, before any engine or API sees it.
        """
        if not _TAG.fullmatch(version):
            raise TargetError(f"{self.label}: version {version!r} of {service} cannot be an image tag: a tag is"
                              " letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')")
        return self._reference(service, version)

    def image_check(self, service: str, version: str, look: Callable[[str], CheckResult]) -> CheckResult:
        """``look(image)`` for ``image_exists``; FAIL, not an error, when ``version`` cannot be a tag."""
        try:
            image = self.image_ref(service, version)
        except TargetError as exc:
            return CheckResult.fail(f"image of {service} {version!r}", str(exc), "image present")
        return look(image)

    def new_record(self, service: str, version: str | None, **fields: Any) -> DeploymentRecord:
        """A record of a change to ``service`` on this target, with what a rollback needs to rebuild it."""
        spec = self.service(service)
        return DeploymentRecord(
            target=self.spec.model_dump(mode="json"),
            # env values may be secrets and the journal redacts them: keep only the names
            service=spec.model_dump(mode="json", exclude={"env"}) | {"env_names": sorted(spec.env)},
            version=version, image=self._reference(service, version) if version else None, **fields)

    @abstractmethod
    def check_reachable(self) -> None:
        """Raise ``TargetUnreachable`` (one line, what to do) when the target cannot be reached."""

    @abstractmethod
    def deploy(self, service: str, version: str, *, strategy: str | None = None) -> DeploymentRecord:
        """Put ``version`` of ``service`` in place the target's own way and wait until it is healthy.

        ``strategy`` (recreate, rolling) is the Deployment strategy to use where the backend has
        one (Kubernetes); other backends have one way.
        """

    @abstractmethod
    def serving_version(self, service: str) -> str | None:
        """The version the target says is serving, or None when nothing serves."""

    @abstractmethod
    def health(self, service: str) -> CheckResult:
        """Are all instances of the service running and healthy?"""

    @abstractmethod
    def image_exists(self, service: str, version: str) -> CheckResult:
        """Is the image of this release available to the target (tag and digest as evidence)?"""

    def rollback(self, service: str, record: DeploymentRecord | Mapping[str, Any] | None = None) -> DeploymentRecord:
        """Go back to the previous version; does nothing when the previous version already serves.

        The previous version comes from the deployment record, else from what the target still
        runs (``_standby_version``). Already running it everywhere it should: a record with
        ``details.skipped``; otherwise it is deployed again the target's own way.
        """
        previous = previous_version_of(record) or self._standby_version(service)
        if not previous:
            raise TargetError(f"{self.label}: no previous version of {service} is known{self.NO_PREVIOUS_HINT}")
        skipped = self._already_running(service, previous)
        if skipped:
            out = self.new_record(service, previous, previous_version=previous, action="rollback")
            out.image = None
            out.details["skipped"] = skipped
            return out.finish("done")
        out = self.deploy(service, previous)
        out.action = "rollback"
        return out

    def _standby_version(self, service: str) -> str | None:
        """A version the target still runs besides the serving one (blue-green keeps it), if any."""
        return None

    def _already_running(self, service: str, version: str) -> str | None:
        """Why a rollback to ``version`` has nothing to do (it already serves), or None."""
        return f"{version} already runs" if self.serving_version(service) == version else None

    def slot_control(self) -> SlotControl | None:
        """The blue/green slots of this target for blue-green, canary and slot-by-slot rolling.

        None when the backend deploys a service as a whole (Kubernetes, host): recreate and
        rolling then use ``deploy(strategy=...)``, blue-green and canary are refused.
        """
        return None

    def instance_logs(self, service: str, tail: int) -> dict[str, list[str]] | None:
        """The last ``tail`` log lines of every running instance by instance name; None: no logs to read."""
        return None

    def instance_usage(self, service: str) -> dict[str, dict[str, float]] | None:
        """Memory (``memory_mb``) and CPU (``cpu_percent``) of every running instance; None: not measurable."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def ask_instances(target: Target, check: str, expected: str, cannot: str,
                  question: Callable[[], T | None]) -> T | CheckResult:
    """The target's answer about a service's running instances, or the result saying why there is none.

    INCONCLUSIVE when the target cannot answer or has nothing to ask (``cannot``: what it lacks), FAIL
    when no instance runs.
    """
    try:
        answer = question()
    except ReleaseGateError as exc:
        return CheckResult.unknown(check, str(exc), expected)
    except Exception as exc:  # the backend's SDK errors: the engine did not answer
        return CheckResult.unknown(check, f"{type(exc).__name__}: {exc}", expected)
    if answer is None:
        return CheckResult.unknown(check, f"target kind {target.spec.kind!r} has {cannot}",
                                   "a docker or compose target")
    if not answer:
        return CheckResult.fail(check, "no running container", expected)
    return answer


def previous_version_of(record: DeploymentRecord | Mapping[str, Any] | None) -> str | None:
    """The version a rollback given this record goes back to (a journal's dict or a record)."""
    if record is None:
        return None
    return DeploymentRecord.from_dict(dict(record) if isinstance(record, Mapping) else record).previous_version


def _has_tag(image: str) -> bool:
    return ":" in image.rsplit("/", 1)[-1]


def image_tag(image: str | None) -> str | None:
    """The tag of an image reference ("latest" when it has none); None for a digest reference."""
    if not image or "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def http_version(service: Service, timeout_s: float = 2.0) -> str | None:
    """The version a service reports at ``base_url + version_endpoint`` (None when it does not answer)."""
    if not service.version_endpoint:
        return None
    body = http.get_json(service.base_url + service.version_endpoint, timeout_s=timeout_s)
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
    return cls(spec, runbook.services, health_timeout_s=runbook.deploy.health_timeout_s,
               base_dir=project_dir(runbook.path))


def target_from_record(record: DeploymentRecord) -> Target:
    """The target and service a deployment record names, rebuilt (for its undo, in any process)."""
    service = dict(record.service)
    service.pop("env_names", None)
    return get_target(TargetSpec.model_validate(record.target), [Service.model_validate(service)])
