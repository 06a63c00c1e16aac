"""Real Prometheus and nginx processes with fake services, as fixtures of the SLO and load tests.

``slo_stack``: a Prometheus scraping every second demo-api (1.0.0 and 1.1.0, both good),
demo-errors (1.1.0 fails 20%) and demo-slow (1.1.0 takes 2 s), with an alert rule on the error
rate. ``nginx``: static content and an endpoint that always fails. Conftests import the fixtures.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.fake_service import FakeService
from support.slo_servers import NginxServer, PrometheusServer

BASE = Path("/tmp/releasegate-slo")
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


def workdir(name: str) -> Path:
    """A new folder under /tmp/releasegate-slo for one server's files."""
    BASE.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=BASE))


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
    folder = workdir("prometheus")
    prometheus = PrometheusServer(folder, targets, rules=ALERT_RULES).start()
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
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx() -> Iterator[NginxServer]:
    folder = workdir("nginx")
    server = NginxServer(folder).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
