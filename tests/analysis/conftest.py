"""A real Prometheus scraping fake services every second, for the analysis tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.slo_support.fake_service import FakeService
from tests.slo_support.servers import PrometheusServer

ALERT_RULES = """\
groups:
  - name: demo
    interval: 1s
    rules:
      - alert: HighErrorRate
        expr: >-
          sum by (service) (rate(http_requests_total{status=~"5.."}[5s]))
          / sum by (service) (rate(http_requests_total[5s])) > 0.05
        labels:
          severity: critical
"""


@dataclass
class Stack:
    prometheus: PrometheusServer
    services: dict[str, FakeService]


def _workdir(name: str) -> Path:
    base = Path("/tmp/releasegate-slo")
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))


@pytest.fixture(scope="module")
def slo_stack() -> Iterator[Stack]:
    """demo-api (1.0.0 and 1.1.0, both good), demo-errors (1.1.0 fails 20%), demo-slow (1.1.0 takes 2 s)."""
    services = {
        "good-1.0.0": FakeService("1.0.0", latency_s=0.02, synthetic_rps=40).start(),
        "good-1.1.0": FakeService("1.1.0", latency_s=0.02, synthetic_rps=40).start(),
        "errors-1.0.0": FakeService("1.0.0", latency_s=0.02, synthetic_rps=40).start(),
        "errors-1.1.0": FakeService("1.1.0", error_ratio=0.2, latency_s=0.02, synthetic_rps=40).start(),
        "slow-1.1.0": FakeService("1.1.0", latency_s=2.0, synthetic_rps=40).start(),
    }
    targets = {
        "demo-api": [f"127.0.0.1:{services['good-1.0.0'].port}", f"127.0.0.1:{services['good-1.1.0'].port}"],
        "demo-errors": [f"127.0.0.1:{services['errors-1.0.0'].port}", f"127.0.0.1:{services['errors-1.1.0'].port}"],
        "demo-slow": [f"127.0.0.1:{services['slow-1.1.0'].port}"],
    }
    workdir = _workdir("prometheus")
    prometheus = PrometheusServer(workdir, targets, rules=ALERT_RULES).start()
    try:
        # rate() over 5s needs two scrapes of every series; the alert needs one evaluation after that
        for service in targets:
            prometheus.wait_for_series(f'sum(rate(http_requests_total{{service="{service}"}}[5s])) > 0')
        prometheus.wait_for_series('ALERTS{alertstate="firing",service="demo-errors"}')
        yield Stack(prometheus, services)
    finally:
        prometheus.stop()
        for service in services.values():
            service.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def lone_prometheus() -> Iterator[tuple[PrometheusServer, FakeService]]:
    """A Prometheus of its own (a test may stop it) scraping one good service."""
    service = FakeService("1.1.0", latency_s=0.02, synthetic_rps=40).start()
    workdir = _workdir("lone")
    prometheus = PrometheusServer(workdir, {"demo-api": [f"127.0.0.1:{service.port}"]}).start()
    try:
        prometheus.wait_for_series('sum(rate(http_requests_total{service="demo-api"}[5s])) > 0')
        yield prometheus, service
    finally:
        prometheus.stop()
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
