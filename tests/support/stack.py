"""Helpers of the local-stack tests (tests/localstack): demo containers on a test database, Prometheus queries."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from releasegate.localstack import StackConfig, database, instance_labels

TEST_PREFIX = "rg-e2e-"


@dataclass
class Instance:
    container: Any
    port: int
    version: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def health_status(self) -> str:
        self.container.reload()
        state = self.container.attrs.get("State", {})
        return str((state.get("Health") or {}).get("Status") or state.get("Status"))


@dataclass
class Demo:
    """Starts demo containers against one test database; removes them afterwards."""

    stack: StackConfig
    client: Any
    database: str
    started: list[Instance] = field(default_factory=list)

    @property
    def app_dsn(self) -> str:
        return self.stack.dsn(self.stack.app, self.database)

    @property
    def owner_dsn(self) -> str:
        return self.stack.dsn(self.stack.owner, self.database)

    def migrate(self, version: str) -> tuple[int, str]:
        return database.migrate(self.stack, version, self.client, database=self.database)

    def start(self, version: str, port: int, colour: str | None = None) -> Instance:
        name = f"{TEST_PREFIX}{port}"
        _remove(self.client, name)
        container = self.client.containers.run(
            f"releasegate-demo:{version}",
            name=name,
            detach=True,
            network_mode="host",
            environment={"PORT": str(port), "DATABASE_URL": self.app_dsn},
            labels=instance_labels(self.stack, port, version, colour),
        )
        instance = Instance(container, port, version)
        self.started.append(instance)
        return instance

    def wait_healthy(self, instance: Instance, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        status = "?"
        while time.monotonic() < deadline:
            status = instance.health_status()
            if status == "healthy":
                return
            if status in {"exited", "dead"}:
                break
            time.sleep(0.2)
        logs = instance.container.logs(tail=5).decode(errors="replace")
        raise AssertionError(f"{instance.version} on :{instance.port} not healthy ({status}): {logs}")

    def stop_all(self) -> None:
        for instance in self.started:
            _remove(self.client, instance.container.name)
        self.started.clear()


def _remove(client: Any, name: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)


def prometheus_query(stack: StackConfig, query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": query}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(condition: Any, timeout_s: float, interval_s: float = 0.5) -> Any:
    """Poll ``condition()`` until it returns something truthy; returns it (or the last falsy value)."""
    deadline = time.monotonic() + timeout_s
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = condition()
    return value
