"""A real Prometheus scraping fake services every second, for the analysis tests (``support.slo_stack``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from support.fake_service import FakeService
from support.slo_servers import PrometheusServer
from support.slo_stack import slo_stack, workdir  # noqa: F401  (slo_stack: a fixture)


@pytest.fixture
def lone_prometheus() -> Iterator[tuple[PrometheusServer, FakeService]]:
    """A Prometheus of its own (a test may stop it) scraping one good service."""
    service = FakeService("1.1.0", latency_s=0.02, synthetic_rps=40).start()
    folder = workdir("lone")
    prometheus = PrometheusServer(folder, {"demo-api": [f"127.0.0.1:{service.port}"]}).start()
    try:
        prometheus.wait_for_series('sum(rate(http_requests_total{service="demo-api"}[5s])) > 0')
        yield prometheus, service
    finally:
        prometheus.stop()
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)
