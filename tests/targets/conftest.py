"""Fixtures of the deployment-target tests: the simulated Kubernetes API, Docker, test images, routers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from k8s_sim import SimulatedCluster


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
