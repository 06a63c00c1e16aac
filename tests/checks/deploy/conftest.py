"""Fixtures of the deploy-stage tests: the simulated Kubernetes API, Docker, test images, routers."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import docker_engine as docker_engine_support
from support.k8s_sim import SimulatedCluster
from support.ports import worker_index

from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec


@pytest.fixture
def k8s_sim(tmp_path: Path) -> Iterator[SimulatedCluster]:
    sim = SimulatedCluster().start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def kubeconfig(k8s_sim: SimulatedCluster, tmp_path: Path) -> Path:
    return k8s_sim.write_kubeconfig(tmp_path / "kubeconfig")


# --- Docker ---------------------------------------------------------------------------------------

WORK = Path("/tmp/releasegate-targets")
DEMO_IMAGES = ("releasegate-demo:1.0.0", "releasegate-demo:1.1.0", "releasegate-demo:1.1.0-crash")


ROUTER_FIRST, ROUTER_LAST = 18200 + 10 * worker_index(), 18209 + 10 * worker_index()
INSTANCE_FIRST, INSTANCE_LAST = 18100 + 32 * worker_index(), 18131 + 32 * worker_index()
TAKEN: set[int] = set()  # ports held by fixtures that are still alive


def _reserve(first: int, last: int, count: int, step: int) -> list[int]:
    """``count`` consecutive free ports in first..last, held until ``_release``."""
    for start in range(first, last - count + 2, step):
        ports = list(range(start, start + count))
        if not TAKEN.intersection(ports) and all(_free(p) for p in ports):
            TAKEN.update(ports)
            return ports
    pytest.fail(f"no {count} free ports left in {first}-{last}")


def _release(ports: list[int]) -> None:
    TAKEN.difference_update(ports)
PROJECTS = itertools.count(1)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A running Docker engine: started here when it is not (it is never stopped)."""
    docker_engine_support.ensure_running()


@pytest.fixture(scope="session")
def demo_images(docker_engine: None) -> None:
    result = subprocess.run(["docker", "image", "inspect", *DEMO_IMAGES], capture_output=True, timeout=30)
    if result.returncode != 0:
        pytest.fail(f"demo images missing ({', '.join(DEMO_IMAGES)}): build them with scripts/setup"
                    " (releasegate.localstack.images) before these tests")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def router() -> Iterator[Router]:
    """A real nginx router of our own on a port in 18200-18219."""
    port = _reserve(ROUTER_FIRST, ROUTER_LAST, 1, 1)[0]
    root = WORK / f"nginx-{port}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    WORK.chmod(0o755)
    instance = Router(root=root, listen=f"127.0.0.1:{port}")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        _release([port])


@pytest.fixture
def docker_target(demo_images: None, router: Router) -> Iterator[Callable[..., DockerTarget]]:
    """Build DockerTargets whose containers are removed after the test."""
    made: list[DockerTarget] = []
    reserved: list[list[int]] = []

    def make(instances: int = 1, **options: Any) -> DockerTarget:
        ports = _reserve(INSTANCE_FIRST, INSTANCE_LAST, 2 * instances, 2)
        reserved.append(ports)
        first = ports[0]
        spec = TargetSpec(name="local", kind="docker",
                          options={"project": f"rgtest{next(PROJECTS)}-{first}", "ports": {"demo-api": ports},
                                   "health_timeout_s": 30, "stop_timeout_s": 3, **options})
        service = Service(name="demo-api", base_url=router.url, image="releasegate-demo", instances=instances,
                          readiness=None)
        target = DockerTarget(spec, [service])
        made.append(target)
        return target

    yield make
    for target in made:
        for slot in target.slots("demo-api"):
            target.stop("demo-api", slot)
        target.close()
    for ports in reserved:
        _release(ports)
