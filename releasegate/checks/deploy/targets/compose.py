"""Compose target: a Compose project driven with ``docker compose`` (or ``docker-compose``).

Runbook::

    targets:
      - name: prod-compose
        kind: compose
        options:
          file: deploy/docker-compose.prod.yml   # the project's compose file (relative to the project folder)
          project: docsense                      # compose project name (-p)
          services:                              # runbook service -> compose services, one per slot
            demo-api:
              - {name: api-blue, port: 18001}    # first half: blue, second half: green
              - {name: api-green, port: 18002}
          state_dir: .stack/compose              # where the image override file is written
          health_timeout_s: 60

Without ``services`` a runbook service maps to the compose service of the same name on
``services[].port`` (one slot: recreate and rolling only). A version is put in place by writing
an override file that sets the compose service's ``image`` (``<image>:<version>``), its ``PORT``
and releasegate labels, then ``up -d --no-deps <compose service>``: services are deployed one at
a time and never drag their dependencies along. Health, Docker health status and the strategies
are those of the docker target (the containers are found by their compose labels).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from releasegate.checks import secrets
from releasegate.checks.deploy.targets.containers import LABEL, ContainerTarget
from releasegate.checks.deploy.targets.slots import COLOURS, Instance, Slot
from releasegate.checks.errors import ConfigError, TargetError, TargetUnreachable
from releasegate.checks.runbook.options import ComposeOptions


def compose_command() -> list[str]:
    """``docker compose`` when the plugin is installed, else ``docker-compose``."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise TargetUnreachable("neither `docker compose` nor `docker-compose` is installed;"
                            " install Debian's docker-compose package (apt-get install docker-compose)")


def _literal(value: str) -> str:
    return value.replace("$", "$$")


class ComposeTarget(ContainerTarget):
    NAME = "compose"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command: list[str] | None = None

    @property
    def options(self) -> ComposeOptions:
        return self._options(ComposeOptions)

    @property
    def file(self) -> Path:
        return Path(self.options.file)

    @property
    def project(self) -> str:
        return self.options.project or self.file.parent.name

    @property
    def override(self) -> Path:
        return Path(self.options.state_dir) / f"{self.project}.override.yml"

    def check_reachable(self) -> None:
        super().check_reachable()
        if not self.file.is_file():
            raise ConfigError(f"target {self.spec.name!r}: compose file {self.file} does not exist")
        self._compose("config", "-q")

    def _compose(self, *args: str, timeout_s: float = 300) -> str:
        if self._command is None:
            self._command = compose_command()
        # one argument per option (--file=PATH): a path or a name is never read as an option
        files = [f"--file={self.file}"] + ([f"--file={self.override}"] if self.override.is_file() else [])
        argv = [*self._command, f"--project-name={self.project}", *files, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                                  cwd=self.file.parent)
        except subprocess.TimeoutExpired:
            raise TargetError(f"target {self.spec.name!r}: `{' '.join(argv[-3:])}` took more than {timeout_s:g}s")\
                from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise TargetError(f"target {self.spec.name!r}: `{' '.join(self._command)} {' '.join(args)}` failed:"
                              f" {secrets.redact(lines[-1] if lines else 'exit ' + str(done.returncode))}")
        return done.stdout

    # --- slots -------------------------------------------------------------------------------
    def slots(self, service: str) -> list[Slot]:
        spec = self.service(service)
        configured = self.options.services.get(service)
        if not configured:
            return [Slot(0, service, spec.port, COLOURS[0])]
        half = max(1, len(configured) // 2)
        return [Slot(index, entry.name, entry.port, COLOURS[0] if index < half else COLOURS[1])
                for index, entry in enumerate(configured)]

    def _container(self, slot: Slot) -> Any:
        found = self.client.containers.list(all=True, filters={"label": [
            f"com.docker.compose.project={self.project}", f"com.docker.compose.service={slot.name}"]})
        return found[0] if found else None

    # --- start / stop ------------------------------------------------------------------------
    def _write_override(self, slot: Slot, image: str, service: str, version: str) -> None:
        current: dict[str, Any] = {}
        if self.override.is_file():
            current = yaml.safe_load(self.override.read_text()) or {}
        base = yaml.safe_load(self.file.read_text()) or {}
        if "version" in base:  # docker-compose 1.x wants the same format version in every file
            current["version"] = base["version"]
        labels = {f"{LABEL}.managed": "true", f"{LABEL}.service": service, f"{LABEL}.slot": str(slot.index),
                  f"{LABEL}.colour": slot.colour, f"{LABEL}.version": version, f"{LABEL}.port": str(slot.port)}
        # compose interpolates $VAR and ${VAR} in every file it reads: $$ keeps a value as written
        current.setdefault("services", {})[slot.name] = {
            "image": _literal(image),
            "environment": {"PORT": str(slot.port)},
            "labels": {key: _literal(value) for key, value in labels.items()},
        }
        self.override.parent.mkdir(parents=True, exist_ok=True)
        self.override.write_text(yaml.safe_dump(current, sort_keys=True))

    def start(self, service: str, slot: Slot, version: str) -> Instance:
        image = self.image_ref(service, version)
        if not self.image_exists(service, version).passed:
            raise TargetError(f"target {self.spec.name!r}: image {image} does not exist on the engine")
        self._write_override(slot, image, service, version)
        self._compose("up", "-d", "--no-deps", "--", slot.name)
        found = self.instance(service, slot)
        if found is None:
            raise TargetError(f"target {self.spec.name!r}: `up -d --no-deps {slot.name}` left no container")
        return found

    def stop(self, service: str, slot: Slot) -> bool:
        if self._container(slot) is None:
            return False
        self._compose("rm", "-s", "-f", "--", slot.name)
        return True

    def down(self) -> None:
        """Remove the whole project (tests, ``scripts/local-stack down``)."""
        self._compose("down", "--remove-orphans", "-t", "3")
