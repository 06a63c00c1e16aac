"""The one Docker client factory: the engine at ``url`` (or DOCKER_HOST / the local socket).

``connect`` builds the client and raises what the SDK raises (``connected`` closes it again), for
checks that judge the engine themselves; ``docker_client`` also pings it and turns a silent engine
into ``TargetUnreachable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from releasegate.checks.errors import TargetUnreachable, describe_error


def engine_address(url: str | None) -> str:
    """Where the engine is looked for, as messages name it."""
    return url or "DOCKER_HOST or the local socket"


def connect(url: str | None = None, timeout: int = 60) -> Any:
    """A ``docker.DockerClient`` for the engine at ``url`` (else DOCKER_HOST, else the local socket)."""
    import docker

    return docker.DockerClient(base_url=url, timeout=timeout) if url else docker.from_env(timeout=timeout)


@contextmanager
def connected(url: str | None = None, timeout: int = 60) -> Iterator[Any]:
    """``connect``, closed when the block ends."""
    client = connect(url, timeout)
    try:
        yield client
    finally:
        client.close()


def docker_client(url: str | None = None, timeout: int = 60) -> Any:
    """A connected ``docker.DockerClient``; ``TargetUnreachable`` in one line when the engine does not answer."""
    try:
        client = connect(url, timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, FileNotFoundError for the socket
        raise TargetUnreachable(
            f"cannot reach the Docker engine at {engine_address(url)}: {describe_error(exc)};"
            " start dockerd or set DOCKER_HOST"
        ) from None
    return client
