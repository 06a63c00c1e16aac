"""Demo containers on the stack's instance ports: their labels, and finding them again.

Prometheus scrapes any container labelled ``org.releasegate.port=<port>`` with a port in
``instance_ports`` (Docker service discovery, see prometheus.py); ``org.releasegate.service`` and
``org.releasegate.colour`` become the series labels ``service`` and ``colour``. The docker target
sets such labels on what it deploys (and ``org.releasegate.slot``); the e2e tests use
``instance_labels``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from releasegate.checks.errors import CheckError
from releasegate.localstack.component import ComponentStatus, Log
from releasegate.localstack.config import StackConfig

LABEL = "org.releasegate"


def instance_labels(config: StackConfig, port: int, version: str, colour: str | None = None) -> dict[str, str]:
    """Labels that make a demo container part of the stack: Prometheus scrapes it, ``down()`` removes it."""
    if port not in config.instance_ports:
        raise CheckError(f"port {port} is not one of the stack's instance ports {_ports_text(config.instance_ports)}")
    labels = {
        f"{LABEL}.managed": "true",
        f"{LABEL}.stack": "local",
        f"{LABEL}.service": config.service,
        f"{LABEL}.port": str(port),
        f"{LABEL}.version": version,
    }
    if colour:
        labels[f"{LABEL}.colour"] = colour
    return labels


def stack_containers(config: StackConfig, client: Any, *, all_states: bool = True) -> list[Any]:
    """Containers labelled with one of the stack's instance ports."""
    found = client.containers.list(all=all_states, filters={"label": f"{LABEL}.port"})
    ports = {str(p) for p in config.instance_ports}
    return [c for c in found if (c.labels or {}).get(f"{LABEL}.port") in ports]


def remove(config: StackConfig, client: Any, log: Log, *, deployed_services: Collection[str] | None = None) -> None:
    """Remove the stack's containers; with ``deployed_services``, only what a docker target deployed for them."""
    for container in stack_containers(config, client):
        labels = container.labels or {}
        if deployed_services is not None and (
            f"{LABEL}.slot" not in labels or labels.get(f"{LABEL}.service") not in deployed_services
        ):
            continue
        log(f"removing container {container.name}")
        container.remove(force=True)


def status(config: StackConfig, client: Any) -> list[ComponentStatus]:
    found = []
    for container in stack_containers(config, client):
        labels = container.labels or {}
        health = (container.attrs.get("State", {}).get("Health") or {}).get("Status", "")
        found.append(
            ComponentStatus(
                f"instance :{labels.get(f'{LABEL}.port')}",
                container.status == "running",
                f"{container.name} {labels.get(f'{LABEL}.version', '?')} {container.status} {health}".strip(),
            )
        )
    return found


def _ports_text(ports: tuple[int, ...]) -> str:
    return f"{ports[0]}-{ports[-1]}" if ports == tuple(range(ports[0], ports[-1] + 1)) else ",".join(map(str, ports))
