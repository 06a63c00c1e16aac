"""The Docker engine: Debian's ``dockerd``, started when it does not answer, never stopped (shared)."""

from __future__ import annotations

import os
import shutil
import time

from releasegate.checks._support.docker import docker_client
from releasegate.checks.errors import CheckError, TargetUnreachable
from releasegate.localstack._process import start_detached
from releasegate.localstack.component import ComponentStatus, Log, say
from releasegate.localstack.config import StackConfig


def ready() -> bool:
    """The engine answers a ping."""
    try:
        client = docker_client(timeout=5)
    except TargetUnreachable:
        return False
    client.close()
    return True


def ensure(config: StackConfig, log: Log = say, timeout_s: float = 60) -> None:
    if ready():
        return
    if shutil.which("dockerd") is None:
        raise CheckError("the Docker engine is not running and dockerd is not installed: apt-get install docker.io")
    if os.geteuid() != 0:
        raise CheckError("the Docker engine is not running and only root can start dockerd; run as root")
    log(f"starting dockerd (log: {config.docker_log})")
    start_detached(["dockerd"], config.docker_log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise CheckError(f"dockerd did not answer within {timeout_s:g}s; see {config.docker_log}")


def status() -> ComponentStatus:
    engine = ready()
    return ComponentStatus("docker engine", engine, "dockerd answers" if engine else "dockerd not running")
