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
the *green* one (``checks.deploy.targets.slots``), so blue-green and canary can start the other
colour next to the serving one. Health, the recreate deploy and the rollback are those of every
container target (``checks.deploy.targets.containers``).
"""

from __future__ import annotations

import re
from typing import Any

from releasegate.checks.deploy.targets.containers import LABEL, ContainerTarget
from releasegate.checks.deploy.targets.slots import COLOURS, Instance, Slot
from releasegate.checks.errors import TargetError, describe_error
from releasegate.checks.runbook.options import DockerOptions

_CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]+")  # the engine's own rule (moby daemon/names)


class DockerTarget(ContainerTarget):
    NAME = "docker"

    @property
    def options(self) -> DockerOptions:
        return self._options(DockerOptions)

    @property
    def project(self) -> str:
        return self.options.project or "releasegate"

    def slots(self, service: str) -> list[Slot]:
        spec = self.service(service)
        count = 2 * spec.instances
        ports = self.options.ports.get(service)
        if ports is not None and len(ports) < count:
            raise TargetError(
                f"target {self.spec.name!r}: options.ports.{service} lists {len(ports)} ports; {service} has"
                f" {spec.instances} instance(s) and needs {count} (one per slot: blue then green)"
            )
        name = f"{self.project}-{service}"
        if not _CONTAINER_NAME.fullmatch(name):
            # the engine's API takes the name in its URL path: "a/../b" would address another container
            raise TargetError(f"target {self.spec.name!r}: {name!r} (options.project, service name) cannot name a"
                              " container: use letters, digits, '_', '.' and '-', starting with a letter or digit")
        return [Slot(i, f"{name}-{i}", ports[i] if ports else spec.port + i,
                     COLOURS[0] if i < spec.instances else COLOURS[1]) for i in range(count)]

    def _container(self, slot: Slot) -> Any:
        import docker.errors

        try:
            return self.client.containers.get(slot.name)
        except docker.errors.NotFound:
            return None

    def container_env(self, service: str, slot: Slot) -> dict[str, str]:
        """Environment of a new container: inherited, then options.env, then the service's env, then PORT.

        A rollback run from a journal has no runbook env (the journal keeps no secrets), so what
        the service's running containers were given (minus their image's defaults) is inherited.
        """
        env = self._inherited_env(service)
        env.update(self.options.env)
        env.update(self.service(service).env)
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
        import docker.errors

        self.stop(service, slot)
        image = self.image_ref(service, version)
        env = self.container_env(service, slot)
        labels = {f"{LABEL}.managed": "true", f"{LABEL}.service": service, f"{LABEL}.slot": str(slot.index),
                  f"{LABEL}.colour": slot.colour, f"{LABEL}.version": version, f"{LABEL}.port": str(slot.port)}
        network_mode = self.options.network_mode
        try:
            container = self.client.containers.run(
                image, name=slot.name, detach=True, environment=env, labels=labels, network_mode=network_mode,
                ports=None if network_mode == "host" else {f"{self.service(service).port}/tcp": slot.port},
            )
        except docker.errors.ImageNotFound:
            raise TargetError(f"target {self.spec.name!r}: image {image} does not exist on the engine") from None
        except docker.errors.APIError as exc:
            raise TargetError(f"target {self.spec.name!r}: cannot start {slot.name}: {describe_error(exc)}") from None
        container.reload()
        return self._describe(slot, container)

    def stop(self, service: str, slot: Slot) -> bool:
        import docker.errors

        container = self._container(slot)
        if container is None:
            return False
        try:
            if container.status == "running":
                container.stop(timeout=self.options.stop_timeout_s)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise TargetError(
                    f"target {self.spec.name!r}: cannot remove {slot.name}: {describe_error(exc)}"
                ) from None
        return True
