"""Docker target: containers on one Docker Engine, driven through the docker SDK.

Runbook::

    targets:
      - name: local
        kind: docker
        url: unix:///var/run/docker.sock   # optional; default: DOCKER_HOST, then the local socket
        options:
          project: releasegate               # container name prefix: <project>-<service>-<slot>
          network_mode: host                 # the demo listens on $PORT on the host network
          ports: {demo-api: [18101, 18102, 18103, 18104]}   # one port per slot (default: service.port + slot)
          env: {LOG_LEVEL: INFO}             # added to every container (service env wins)
          health_timeout_s: 60
          stop_timeout_s: 5

A service with ``instances: N`` has 2N slots: slots 0..N-1 are the *blue* colour and N..2N-1
the *green* one, so blue-green and canary can start the other colour next to the serving one.
An instance is healthy when its container runs, Docker's health status is ``healthy`` (only when
the image defines a HEALTHCHECK), and its readiness path (or health path) answers 200 on its port.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support.docker import docker_client
from releasegate.checks.deploy.targets.base import DeploymentRecord, Target, http_version
from releasegate.checks.errors import TargetError, TargetUnreachable, describe_error
from releasegate.checks.result import CheckResult, combine

LABEL = "org.releasegate"
COLOURS = ("blue", "green")


@dataclass
class Slot:
    index: int
    name: str
    port: int
    colour: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Instance:
    """A container in a slot, as the engine reports it."""

    slot: Slot
    container_id: str
    name: str
    image: str
    image_id: str
    version: str | None
    status: str
    health: str | None  # Docker's health status; None when the image has no HEALTHCHECK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def image_version(image: str | None) -> str | None:
    if not image or "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


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
    evidence = {"image": image, "tag": image_version(image), "digest": digest, "image_id": found.id,
                "repo_digests": digests, "created": found.attrs.get("Created"),
                "healthcheck": bool((found.attrs.get("Config") or {}).get("Healthcheck")),
                "labels": found.labels}
    return CheckResult.ok(name, f"present, digest {digest}", "image present", evidence=evidence)


def http_ok(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, describe_error(exc)


def http_json(url: str, timeout_s: float = 2.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


class DockerTarget(Target):
    NAME = "docker"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None

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
    def project(self) -> str:
        return str(self.options.get("project", "releasegate"))

    @property
    def health_timeout_s(self) -> float:
        return float(self.options.get("health_timeout_s", self.default_health_timeout_s))

    # --- slots and instances -----------------------------------------------------------------
    def slots(self, service: str) -> list[Slot]:
        spec = self.service(service)
        count = 2 * spec.instances
        ports = self.options.get("ports", {}).get(service)
        if ports is not None and len(ports) < count:
            raise TargetError(
                f"target {self.spec.name!r}: options.ports.{service} lists {len(ports)} ports; {service} has"
                f" {spec.instances} instance(s) and needs {count} (one per slot: blue then green)"
            )
        return [Slot(i, f"{self.project}-{service}-{i}", int(ports[i]) if ports else spec.port + i,
                     COLOURS[0] if i < spec.instances else COLOURS[1]) for i in range(count)]

    def colour_slots(self, service: str, colour: str) -> list[Slot]:
        return [s for s in self.slots(service) if s.colour == colour]

    def _container(self, slot: Slot) -> Any:
        import docker.errors

        try:
            return self.client.containers.get(slot.name)
        except docker.errors.NotFound:
            return None

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
                        or image_version(image), status=str(state.get("Status", "unknown")),
                        health=(state.get("Health") or {}).get("Status"))

    def instances(self, service: str) -> list[Instance]:
        found = [self.instance(service, slot) for slot in self.slots(service)]
        return [i for i in found if i is not None]

    def container_env(self, service: str, slot: Slot) -> dict[str, str]:
        """Environment of a new container: inherited, then options.env, then the service's env, then PORT.

        A rollback run from a journal has no runbook env (the journal keeps no secrets), so what
        the service's running containers were given (minus their image's defaults) is inherited.
        """
        spec = self.service(service)
        env = self._inherited_env(service)
        env.update({str(k): str(v) for k, v in self.options.get("env", {}).items()})
        env.update(spec.env)
        env["PORT"] = str(slot.port)
        return env

    def _inherited_env(self, service: str) -> dict[str, str]:
        import docker.errors

        for slot in self.slots(service):
            container = self._container(slot)
            if container is None:
                continue
            try:
                image_env = self.client.images.get(container.attrs["Image"]).attrs["Config"].get("Env") or []
            except docker.errors.ImageNotFound:
                image_env = []
            defaults = {e.split("=", 1)[0] for e in image_env}
            given = container.attrs.get("Config", {}).get("Env") or []
            pairs = (e.split("=", 1) for e in given if "=" in e)
            return {k: v for k, v in pairs if k not in defaults and k != "PORT"}
        return {}

    def start(self, service: str, slot: Slot, version: str) -> Instance:
        """Replace whatever runs in ``slot`` with a new container of ``version`` (does not wait)."""
        import docker.errors

        self.stop(service, slot)
        image = self.image_ref(service, version)
        env = self.container_env(service, slot)
        labels = {f"{LABEL}.managed": "true", f"{LABEL}.service": service, f"{LABEL}.slot": str(slot.index),
                  f"{LABEL}.colour": slot.colour, f"{LABEL}.version": version, f"{LABEL}.port": str(slot.port)}
        try:
            container = self.client.containers.run(
                image, name=slot.name, detach=True, environment=env, labels=labels,
                network_mode=str(self.options.get("network_mode", "host")),
                ports=None if self.options.get("network_mode", "host") == "host" else {
                    f"{self.service(service).port}/tcp": slot.port},
            )
        except docker.errors.ImageNotFound:
            raise TargetError(f"target {self.spec.name!r}: image {image} does not exist on the engine") from None
        except docker.errors.APIError as exc:
            raise TargetError(f"target {self.spec.name!r}: cannot start {slot.name}: {describe_error(exc)}") from None
        container.reload()
        return self._describe(slot, container)

    def stop(self, service: str, slot: Slot) -> bool:
        """Stop and remove the container in ``slot``; False when there was none."""
        import docker.errors

        container = self._container(slot)
        if container is None:
            return False
        try:
            if container.status == "running":
                container.stop(timeout=int(self.options.get("stop_timeout_s", 5)))
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise TargetError(
                    f"target {self.spec.name!r}: cannot remove {slot.name}: {describe_error(exc)}"
                ) from None
        return True

    def logs(self, slot: Slot, lines: int = 20) -> str:
        container = self._container(slot)
        if container is None:
            return ""
        try:
            return secrets.redact(container.logs(tail=lines).decode("utf-8", "replace"))
        except Exception:  # logs are evidence only
            return ""

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
        running = [i for i in self.instances(service) if i.status == "running"]
        colours = {i.slot.colour for i in running}
        colour = COLOURS[1] if colours == {COLOURS[1]} else COLOURS[0]
        if len(colours) == 2:
            served = http_version(self.service(service))
            by_version = {i.slot.colour for i in running if i.version == served}
            if len(by_version) == 1:
                colour = by_version.pop()
        return self.colour_slots(service, colour)

    def deploy(self, service: str, version: str) -> DeploymentRecord:
        """Recreate: replace every active instance with ``version`` at once, then wait for health."""
        slots = self.active_slots(service)
        before = [self.instance(service, s) for s in slots]
        previous = next((i.version for i in before if i is not None), None)
        record = DeploymentRecord(self.spec.name, self.NAME, service, "recreate", version=version,
                                  previous_version=previous, image=self.image_ref(service, version),
                                  previous_image=next((i.image for i in before if i is not None), None))
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
        versions = {i.version for i in self.instances(service) if i.status == "running"}
        return versions.pop() if len(versions) == 1 else None

    def health(self, service: str) -> CheckResult:
        name = f"{service} containers running and healthy"
        try:
            running = [i for i in self.instances(service) if i.status == "running"]
        except TargetUnreachable as exc:
            return CheckResult.unknown(name, str(exc), "every container running and healthy")
        if not running:
            return CheckResult.fail(name, "no running container", "every container running and healthy")
        return combine(name, [self.instance_health(service, i.slot) for i in running])

    def rollback(self, service: str, record: dict[str, Any] | None = None) -> DeploymentRecord:
        """Recreate the active instances with the previous version unless it already runs there.

        The previous version comes from the deployment record, else from the other colour's containers
        (a blue-green deployment keeps them running).
        """
        slots = self.active_slots(service)
        previous = (record or {}).get("previous_version")
        if not previous:
            standby = [i for i in self.instances(service) if i.status == "running" and i.slot not in slots]
            previous = standby[0].version if standby else None
        if not previous:
            raise TargetError(f"target {self.spec.name!r}: no previous version of {service} is known;"
                              " pass the deployment record")
        current = [self.instance(service, s) for s in slots]
        if all(i is not None and i.version == previous and i.status == "running" for i in current):
            out = DeploymentRecord(self.spec.name, self.NAME, service, "rollback", version=previous,
                                   previous_version=previous)
            out.details["skipped"] = f"{previous} already runs in every active slot"
            return out.finish()
        out = self.deploy(service, previous)
        out.action = "rollback"
        return out

    def image_exists(self, service: str, version: str) -> CheckResult:
        return inspect_local_image(self.image_ref(service, version), self.spec.url)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
