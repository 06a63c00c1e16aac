"""The load step phrases as feature files: nginx for plain load, a scraped fake service for SLO under load."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.fake_service import FakeService
from support.slo_servers import NginxServer, PrometheusServer

PROFILES = """\
load:
  quick:
    host: {nginx}
    endpoints:
      - path: /
        weight: 2
      - path: /index.html
    stages:
      - {{duration_s: 2, users: 2, spawn_rate: 10}}
      - {{duration_s: 2, users: 3, spawn_rate: 10}}
    thresholds: {{failure_ratio_max: 0.01, p95_ms_max: 500, min_rps: 20, grace_s: 1}}
    wait_min_s: 0.01
    wait_max_s: 0.02
  broken:
    host: {nginx}
    endpoints:
      - path: /error
    stages:
      - {{duration_s: 10, users: 2, spawn_rate: 10}}
    thresholds: {{failure_ratio_max: 0.01, grace_s: 1}}
    wait_min_s: 0.01
    wait_max_s: 0.02
  good-api:
    service: demo-api
    endpoints:
      - path: /api/items
    stages:
      - {{duration_s: 9, users: 2, spawn_rate: 10}}
    thresholds: {{failure_ratio_max: 0.01, grace_s: 1}}
    user_class: http
    wait_min_s: 0.01
    wait_max_s: 0.02
  bad-api:
    service: demo-bad
    endpoints:
      - path: /api/items
    stages:
      - {{duration_s: 20, users: 2, spawn_rate: 10}}
    thresholds: {{failure_ratio_max: 0.5, grace_s: 1}}
    wait_min_s: 0.01
    wait_max_s: 0.02
"""

RUNBOOK = """\
name: local
services:
  - name: demo-api
    base_url: {good}
  - name: demo-bad
    base_url: {bad}
prometheus:
  url: {prometheus}
slo:
  window_s: 5
  interval_s: 1
"""

FEATURE = """\
Feature: load stages
  @load
  Scenario: load within thresholds
    When the load profile "quick" runs
    Then the load stage passed its thresholds

  @load
  Scenario: load on a failing endpoint
    When the load profile "broken" runs
    Then the load stage passed its thresholds

  @load @slo
  Scenario: SLO under load holds
    Then while the load profile "good-api" runs, the error rate of "demo-api" stays below 1%
    And the load stage passed its thresholds

  @load @slo
  Scenario: SLO under load breaks
    Then while the load profile "bad-api" runs, the error rate of "demo-bad" stays below 1%, sampled every 1 second

  @load
  Scenario: unknown profile
    When the load profile "nope" runs

  @load
  Scenario: thresholds without a load
    Then the load stage passed its thresholds
"""


@pytest.fixture(scope="module")
def scraped_services(nginx: NginxServer) -> Iterator[tuple[PrometheusServer, FakeService, FakeService]]:
    good = FakeService("1.1.0").start()
    bad = FakeService("1.1.0-errors", error_ratio=0.3).start()
    workdir = Path(tempfile.mkdtemp(prefix="load-prometheus-", dir="/tmp/releasegate-slo"))
    prometheus = PrometheusServer(workdir, {"demo-api": [f"127.0.0.1:{good.port}"],
                                            "demo-bad": [f"127.0.0.1:{bad.port}"]}).start()
    try:
        for service in ("demo-api", "demo-bad"):
            prometheus.wait_for_series(f'up{{service="{service}"}} == 1')
        yield prometheus, good, bad
    finally:
        prometheus.stop()
        good.stop()
        bad.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_load_phrases(nginx: NginxServer, scraped_services: tuple[PrometheusServer, FakeService, FakeService],
                      rg_project: Callable[..., pytest.Pytester]) -> None:
    prometheus, good, bad = scraped_services
    runbook = RUNBOOK.format(good=good.url, bad=bad.url, prometheus=prometheus.url) + PROFILES.format(nginx=nginx.url)
    project = rg_project(runbooks={"local": runbook}, features={"load": FEATURE})
    result = project.runpytest("features/load.feature", "--env", "local", "-p", "no:cacheprovider", "-rA")
    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 and outcomes.get("failed") == 4, text
    assert "PASSED features/load.feature::test_load_within_thresholds" in text
    assert "PASSED features/load.feature::test_slo_under_load_holds" in text
    assert 'load profile "broken": FAIL' in text and "aborted at" in text
    assert 'error rate of "demo-bad": FAIL' in text
    assert "no load profile named 'nope'" in text
    assert "no load ran in this scenario" in text
    reports = sorted((project.path / "reports" / "load").iterdir())
    assert len(reports) == 4 and all((r / "report.html").is_file() for r in reports)
    # the failing analysis stopped the 20 s load early
    bad_run = next(r for r in reports if r.name.endswith("bad-api"))
    assert "stages.json" in {p.name for p in bad_run.iterdir()}
