"""Typed ``options`` of targets and routers: one model per ``kind``, a discriminated union on it.

The runbook writes ``kind`` beside ``options``::

    targets:
      - {name: local, kind: docker, options: {project: releasegate, ports: {demo-api: [18001, 18002]}}}
    deploy:
      router: {kind: nginx, options: {listen: 127.0.0.1:8080, config_dir: .stack/nginx}}

``runbook.model.Target`` and ``Router`` validate ``options`` with the model of their ``kind``: an
unknown or misspelt option is reported with its file and line like every other runbook field.
Relative paths in options are relative to the project folder (the one above the runbooks folder); a
target resolves them when it is built (``resolved``), so a deployment record holds absolute paths
and a rollback from the journal finds the same files from any working directory.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from releasegate.checks._support import shell


def project_dir(runbook_path: Path | None) -> Path:
    """The folder relative paths of a runbook are relative to: the one above its folder, else the cwd."""
    return runbook_path.resolve().parent.parent if runbook_path is not None else Path.cwd()


def _absolute(base: Path, path: str) -> str:
    expanded = os.path.expanduser(path)
    return expanded if Path(expanded).is_absolute() else str(base / expanded)


class Options(BaseModel):
    """The options of one kind of target or router (unknown options are errors)."""

    model_config = ConfigDict(extra="forbid")

    def resolved(self, base: Path) -> Self:
        """A copy with relative paths made absolute against ``base`` (nothing to resolve by default)."""
        return self


class ContainerOptions(Options):
    project: str | None = Field(default=None, description="container name prefix / compose project name")
    health_timeout_s: float | None = Field(default=None, gt=0, description="default: deploy.health_timeout_s")


class DockerOptions(ContainerOptions):
    network_mode: str = "host"
    ports: dict[str, list[int]] = Field(default_factory=dict, description="service -> one port per slot")
    env: dict[str, str] = Field(default_factory=dict, description="added to every container (service env wins)")
    stop_timeout_s: int = Field(default=5, ge=0)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value


class ComposeService(Options):
    name: str
    port: int = Field(ge=1, le=65535)


class ComposeOptions(ContainerOptions):
    file: str = Field(description="the project's compose file")
    services: dict[str, list[ComposeService]] = Field(
        default_factory=dict, description="runbook service -> compose services, one per slot (first half blue)"
    )
    state_dir: str = Field(default=".stack/compose", description="where the image override file is written")

    def resolved(self, base: Path) -> Self:
        return self.model_copy(update={"file": _absolute(base, self.file),
                                       "state_dir": _absolute(base, self.state_dir)})


class KubernetesOptions(Options):
    kubeconfig: str | None = Field(default=None, description="default: $KUBECONFIG, then ~/.kube/config")
    context: str | None = None
    namespace: str | None = None
    manifests: dict[str, str] = Field(default_factory=dict, description="service -> Deployment manifest file")
    deployments: dict[str, str] = Field(default_factory=dict, description="service -> Deployment name")
    container: str | None = Field(default=None, description="the container of a manifest that gets the image")
    timeout_s: float | None = Field(default=None, gt=0, description="rollout wait; default max(300, health)")
    progress_deadline_s: int = Field(default=600, gt=0)
    images_from: Literal["docker"] | None = None
    request_timeout_s: float = Field(default=10, gt=0)
    poll_s: float = Field(default=0.5, gt=0)

    def resolved(self, base: Path) -> Self:
        update: dict[str, Any] = {"manifests": {k: _absolute(base, v) for k, v in self.manifests.items()}}
        if self.kubeconfig:
            update["kubeconfig"] = _absolute(base, self.kubeconfig)
        return self.model_copy(update=update)


DEPLOY_COMMAND_FIELDS = ("service", "version", "image")
VERSION_COMMAND_FIELDS = ("service",)


class HostOptions(Options):
    deploy_command: str | None = Field(default=None, description="shell; {service}, {version}, {image} quoted in")
    version_command: str | None = Field(default=None, description="shell; {service} quoted in")

    @field_validator("deploy_command", "version_command")
    @classmethod
    def _shell_template(cls, value: str | None, info: ValidationInfo) -> str | None:
        fields = DEPLOY_COMMAND_FIELDS if info.field_name == "deploy_command" else VERSION_COMMAND_FIELDS
        return None if value is None else shell.check_template(value, fields)


TargetOptions = DockerOptions | ComposeOptions | KubernetesOptions | HostOptions
TARGET_OPTIONS: dict[str, type[TargetOptions]] = {
    "compose": ComposeOptions, "docker": DockerOptions, "host": HostOptions, "kubernetes": KubernetesOptions,
}
TARGET_KINDS = tuple(TARGET_OPTIONS)


class RouterOptions(Options):
    probe_path: str | None = Field(default=None, description="default: the service's version endpoint")
    probe_rate_per_s: float = Field(default=50, gt=0, description="prober during deploy/switch/rollback steps")


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# nginx reads "$" in a path as a variable (access_log), "*?[" in an include as a glob
_NGINX_PATH_FORBIDDEN = "$*?["


def nginx_listen(value: str) -> str:
    """``value`` when it is ``host:port`` (an IPv4 address, ``[IPv6]`` or a host name); else ValueError."""
    host, sep, port = value.rpartition(":")
    what = f"expected host:port such as 127.0.0.1:8080, got {value!r}"
    if not sep or not host:
        raise ValueError(f"{what}: give the host and the port")
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{what}: the port must be a number from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{what}: {host} is not an IPv6 address") from None
        return value
    try:
        ipaddress.IPv4Address(host)
        return value
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"{what}: the host must be an IP address ([...] for IPv6) or a host name"
                         " of letters, digits, '-' and '.'")
    return value


def nginx_path(value: str) -> str:
    """``value`` when nginx can be given it as a quoted path; else ValueError saying why."""
    if not value.strip():
        raise ValueError("expected a folder path, got an empty value")
    if not value.isprintable():
        raise ValueError(f"the path {value!r} has a line break or control character: give one folder path")
    found = sorted({c for c in value if c in _NGINX_PATH_FORBIDDEN})
    if found:
        raise ValueError(f"the path {value!r} has {' '.join(found)}, which nginx would read as a variable or"
                         " a pattern: choose a folder without them")
    return value


NginxListen = Annotated[str, AfterValidator(nginx_listen)]
NginxPath = Annotated[str, AfterValidator(nginx_path)]


class NginxService(Options):
    listen: NginxListen | None = None
    root: NginxPath | None = None


class NginxOptions(RouterOptions):
    listen: NginxListen | None = Field(default=None, description="host:port; default: the router url's")
    root: NginxPath | None = Field(default=None, description="config folder (default .stack/nginx)")
    config_dir: NginxPath | None = Field(default=None, description="the same as root")
    services: dict[str, NginxService] = Field(default_factory=dict, description="one router per service")
    verify_sample: int = Field(default=10, ge=1, le=1000,
                               description="requests sent through the router after each switch; each must be"
                                           " answered by an address given traffic")


class NoRouterOptions(RouterOptions):
    """``kind: none``: nothing to configure but the prober."""


RouterOptionsOfKind = NginxOptions | NoRouterOptions
ROUTER_OPTIONS: dict[str, type[RouterOptionsOfKind]] = {"nginx": NginxOptions, "none": NoRouterOptions}


class OptionsOfKind(BaseModel):
    """A runbook entry whose ``options`` are validated by the model of its ``kind`` (a target, the router)."""

    OPTIONS_BY_KIND: ClassVar[Mapping[str, type[Options]]]
    DEFAULT_KIND: ClassVar[str | None] = None

    @field_validator("options", mode="plain", check_fields=False)
    @classmethod
    def _options_of_kind(cls, value: Any, info: ValidationInfo) -> Options:
        model = cls.OPTIONS_BY_KIND[str(info.data.get("kind", cls.DEFAULT_KIND))]
        return value if isinstance(value, model) else model.model_validate(value or {})

    @field_serializer("options", check_fields=False)
    def _options_as_written(self, options: Options) -> dict[str, Any]:
        return options.model_dump(mode="json", exclude_unset=True)
