"""What the docker and compose targets share: containers in blue/green slots on one Docker Engine.

An instance is healthy when its container runs, Docker's health status is ``healthy`` (only when
the image defines a HEALTHCHECK), and its readiness path (or health path) answers 2xx on its
port. The backends say how slots map to containers and how a container is started and stopped
(``slots``, ``_container``, ``start``, ``stop``); the rest is here.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

import httpx

from releasegate.checks import secrets
from releasegate.checks._support import http
from releasegate.checks._support.docker import docker_client
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.targets.base import Target, http_version, image_tag
from releasegate.checks.deploy.targets.slots import COLOURS, Instance, Slot
from releasegate.checks.errors import TargetUnreachable, describe_error
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.options import ContainerOptions

LABEL = "org.releasegate"
MB = 1024 * 1024


def inspect_local_image(image: str, url: str | None = None) -> CheckResult:
    """Is ``image`` in the engine's image store? Evidence: tag, image id, repo digests, labels."""
    import docker.errors

    name = f"image {image}"
    try:
        client = docker_client(url)
    except TargetUnreachable as exc:
        return CheckResult.unknown(name, str(exc), "image present")
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        return CheckResult.fail(name, "not found in the engine's image store", "image present",
                                detail="build or pull it before the release", evidence={"image": image})
    except docker.errors.APIError as exc:
        return CheckResult.unknown(name, describe_error(exc), "image present")
    finally:
        client.close()
    digests = list(found.attrs.get("RepoDigests") or [])
    digest = digests[0].split("@", 1)[1] if digests else str(found.id)
    evidence = {"image": image, "tag": image_tag(image), "digest": digest, "image_id": found.id,
                "repo_digests": digests, "created": found.attrs.get("Created"),
                "healthcheck": bool((found.attrs.get("Config") or {}).get("Healthcheck")),
                "labels": found.labels}
    return CheckResult.ok(name, f"present, digest {digest}", "image present", evidence=evidence)


def http_ok(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Does ``url`` answer 2xx? With the status (``HTTP 200``) or why it did not answer."""
    try:
        with http.client(timeout_s=timeout_s, retries=0, follow_redirects=True) as client:
            status = client.get(url).status_code
    except httpx.HTTPError as exc:
        return False, describe_error(exc)
    return 200 <= status < 300, f"HTTP {status}"


def container_stats(container: Any) -> dict[str, float]:
    """Memory (MB, less the page cache, as ``docker stats`` shows) and CPU (% of one core) of one sample."""
    stats = container.stats(stream=False)
    memory = stats.get("memory_stats", {}) or {}
    usage = float(memory.get("usage", 0))
    cache = float((memory.get("stats") or {}).get("inactive_file", (memory.get("stats") or {}).get("cache", 0)))
    cpu, pre = stats.get("cpu_stats", {}) or {}, stats.get("precpu_stats", {}) or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage", 0)) - float(
        (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
    cores = float(cpu.get("online_cpus") or 1)
    percent = (cpu_delta / system_delta) * cores * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    return {"memory_mb": round(max(0.0, usage - cache) / MB, 1), "cpu_percent": round(percent, 1)}


class ContainerTarget(Target):
    """Services as containers in blue/green slots, driven through the docker SDK."""

    NO_PREVIOUS_HINT = "; pass the deployment record"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None

    @property
    def options(self) -> ContainerOptions:
        return self._options(ContainerOptions)

    # --- connection --------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client(self.spec.url)
        return self._client

    def check_reachable(self) -> None:
        _ = self.client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    @abstractmethod
    def project(self) -> str:
        """The prefix of this target's container names (compose: the project name)."""

    @property
    def health_timeout_s(self) -> float:
        configured = self.options.health_timeout_s
        return self.default_health_timeout_s if configured is None else configured

    # --- slots and instances -----------------------------------------------------------------
    @abstractmethod
    def slots(self, service: str) -> list[Slot]:
        """Every slot of the service, blue first."""

    @abstractmethod
    def _container(self, slot: Slot) -> Any:
        """The docker SDK container in ``slot``, or None."""

    @abstractmethod
    def start(self, service: str, slot: Slot, version: str) -> Instance:
        """Replace whatever runs in ``slot`` with a new container of ``version`` (does not wait)."""

    @abstractmethod
    def stop(self, service: str, slot: Slot) -> bool:
        """Stop and remove the container in ``slot``; False when there was none."""

    def slot_control(self) -> ContainerTarget:
        return self

    def colour_slots(self, service: str, colour: str) -> list[Slot]:
        return [s for s in self.slots(service) if s.colour == colour]

    def instance(self, service: str, slot: Slot) -> Instance | None:
        container = self._container(slot)
        if container is None:
            return None
        return self._describe(slot, container)

    def _describe(self, slot: Slot, container: Any) -> Instance:
        attrs = container.attrs
        state = attrs.get("State", {})
        image = str(attrs.get("Config", {}).get("Image", ""))
        labels = attrs.get("Config", {}).get("Labels") or {}
        return Instance(slot=slot, container_id=str(container.id)[:12], name=container.name, image=image,
                        image_id=str(attrs.get("Image", "")), version=labels.get(f"{LABEL}.version")
                        or image_tag(image), status=str(state.get("Status", "unknown")),
                        health=(state.get("Health") or {}).get("Status"))

    def instances(self, service: str) -> list[Instance]:
        found = [self.instance(service, slot) for slot in self.slots(service)]
        return [i for i in found if i is not None]

    def _running(self, service: str) -> list[Instance]:
        return [i for i in self.instances(service) if i.status == "running"]

    def logs(self, slot: Slot, lines: int = 20) -> str:
        container = self._container(slot)
        if container is None:
            return ""
        try:
            return secrets.redact(container.logs(tail=lines).decode("utf-8", "replace"))
        except Exception:  # logs are evidence only
            return ""

    def instance_logs(self, service: str, tail: int) -> dict[str, list[str]]:
        return {i.name: self.client.containers.get(i.container_id).logs(tail=tail).decode("utf-8", "replace")
                .splitlines() for i in self._running(service)}

    def instance_usage(self, service: str) -> dict[str, dict[str, float]]:
        return {i.name: container_stats(self.client.containers.get(i.container_id)) for i in self._running(service)}

    # --- health ------------------------------------------------------------------------------
    def instance_health(self, service: str, slot: Slot, version: str | None = None) -> CheckResult:
        """One look at an instance: running, Docker health, HTTP readiness, version."""
        spec = self.service(service)
        name = f"{service} {slot.colour} slot {slot.index} ({slot.address})"
        expected = f"running, healthy{', version ' + version if version else ''}"
        found = self.instance(service, slot)
        if found is None:
            return CheckResult.fail(name, "no container", expected)
        evidence: dict[str, Any] = {"instance": found.as_dict()}
        if found.status != "running":
            evidence["logs"] = self.logs(slot)
            return CheckResult.fail(name, f"container {found.status}", expected, evidence=evidence,
                                    detail=_last_line(evidence["logs"]))
        if found.health is not None and found.health != "healthy":
            return CheckResult.fail(name, f"docker health {found.health}", expected, evidence=evidence)
        path = spec.readiness or spec.health
        ok, status = http_ok(f"http://{slot.address}{path}")
        evidence["http"] = {"path": path, "status": status}
        if not ok:
            return CheckResult.fail(name, f"{path} {status}", expected, evidence=evidence)
        if version and found.version != version:
            return CheckResult.fail(name, f"version {found.version}", expected, evidence=evidence)
        observed = f"running, {'docker health healthy, ' if found.health else ''}{path} {status}"
        return CheckResult.ok(name, observed, expected, evidence=evidence)

    def wait_healthy(self, service: str, slot: Slot, version: str | None = None,
                     timeout_s: float | None = None) -> CheckResult:
        """Poll an instance until it is healthy; a container that exited fails at once."""
        timeout = self.health_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            result = self.instance_health(service, slot, version)
            elapsed = time.monotonic() - started
            exited = result.failed and str(result.observed).startswith(("container exited", "container dead",
                                                                        "no container"))
            if result.passed or exited or elapsed > timeout:
                break
            time.sleep(0.2)
        result.attempts, result.elapsed_s = attempts, round(elapsed, 3)
        if not result.passed and not exited:
            result.detail = (result.detail + "; " if result.detail else "") + f"not healthy after {timeout:g}s"
        return result

    # --- the Target interface ----------------------------------------------------------------
    def active_slots(self, service: str) -> list[Slot]:
        """Slots of the colour that serves: the one that runs; when both run, the one whose version the
        service's base_url (the router) answers with; blue when that does not decide."""
        running = self._running(service)
        colours = {i.slot.colour for i in running}
        colour = COLOURS[1] if colours == {COLOURS[1]} else COLOURS[0]
        if len(colours) == 2:
            served = http_version(self.service(service))
            by_version = {i.slot.colour for i in running if i.version == served}
            if len(by_version) == 1:
                colour = by_version.pop()
        return self.colour_slots(service, colour)

    def deploy(self, service: str, version: str, *, strategy: str | None = None) -> DeploymentRecord:
        """Recreate: replace every active instance with ``version`` at once, then wait for health."""
        self.image_ref(service, version)  # a version that cannot be a tag is refused before anything stops
        slots = self.active_slots(service)
        before = [i for i in (self.instance(service, s) for s in slots) if i is not None]
        record = self.new_record(service, version, action="recreate",
                                 previous_version=before[0].version if before else None,
                                 previous_image=before[0].image if before else None)
        for slot in slots:
            self.stop(service, slot)
        started = [self.start(service, slot, version) for slot in slots]
        record.image_digest = started[0].image_id if started else None
        results = [self.wait_healthy(service, slot, version) for slot in slots]
        verdict = combine(f"{service} {version} healthy", results)
        record.details.update(colour=slots[0].colour if slots else None, slots=[s.index for s in slots],
                              health=verdict.as_dict())
        return record.finish("done" if verdict.passed else "failed")

    def serving_version(self, service: str) -> str | None:
        served = http_version(self.service(service))
        if served is not None:
            return served
        versions = {i.version for i in self._running(service)}
        return versions.pop() if len(versions) == 1 else None

    def health(self, service: str) -> CheckResult:
        name = f"{service} containers running and healthy"
        try:
            running = self._running(service)
        except TargetUnreachable as exc:
            return CheckResult.unknown(name, str(exc), "every container running and healthy")
        if not running:
            return CheckResult.fail(name, "no running container", "every container running and healthy")
        return combine(name, [self.instance_health(service, i.slot) for i in running])

    def _standby_version(self, service: str) -> str | None:
        active = self.active_slots(service)
        standby = [i for i in self._running(service) if i.slot not in active]
        return standby[0].version if standby else None

    def _already_running(self, service: str, version: str) -> str | None:
        current = [self.instance(service, s) for s in self.active_slots(service)]
        if all(i is not None and i.version == version and i.status == "running" for i in current):
            return f"{version} already runs in every active slot"
        return None

    def image_exists(self, service: str, version: str) -> CheckResult:
        return self.image_check(service, version, lambda image: inspect_local_image(image, self.spec.url))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
