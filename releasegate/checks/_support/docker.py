"""The one Docker client factory: the engine at ``url`` (or DOCKER_HOST / the local socket), pinged."""

from __future__ import annotations

from typing import Any

from releasegate.checks.errors import TargetUnreachable, describe_error


def docker_client(url: str | None = None, timeout: int = 60) -> Any:
    """A connected ``docker.DockerClient``; ``TargetUnreachable`` in one line when the engine does not answer."""
    import docker

    try:
        client = docker.DockerClient(base_url=url, timeout=timeout) if url else docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, FileNotFoundError for the socket
        where = url or "DOCKER_HOST or the local socket"
        raise TargetUnreachable(
            f"cannot reach the Docker engine at {where}: {describe_error(exc)}; start dockerd or set DOCKER_HOST"
        ) from None
    return client
