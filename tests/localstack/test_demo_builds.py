"""The real demo builds: 1.1.0-errors fails the error-rate analysis and load stage, 1.1.0-slow the latency ones.

Containers of the local stack's images (releasegate-demo:<version>, built when the stack comes up)
run on ports 19241-19293 (by xdist worker) with a database of their own in the stack's PostgreSQL; a Prometheus of
this test scrapes them every second while a thread sends them traffic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.slo_servers import PrometheusServer

from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.analysis import Condition, Metric, analyse
from releasegate.checks.slo.prometheus import PrometheusClient
from releasegate.localstack import StackConfig, database, images

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# one set of ports and one database per xdist worker (gw0, gw1, ...), so workers never share containers
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 10
BUILDS = {v: 19240 + 5 * _WORKER + i for i, v in enumerate(("1.0.0", "1.1.0-errors", "1.1.0-slow"), start=1)}
DATABASE = f"slo_e2e_{_WORKER}"
SCHEMA = slo.Schema()


@pytest.fixture(scope="module")
def demo_builds(stack: StackConfig, docker_client: Any) -> Iterator[PrometheusServer]:
    database.prepare(stack, DATABASE)
    code, output = database.migrate(stack, "1.1.0", docker_client, database=DATABASE)
    assert code == 0, output
    containers: list[Any] = []
    stop = threading.Event()
    workdir = Path(tempfile.mkdtemp(prefix="demo-prometheus-", dir="/tmp"))
    prometheus = PrometheusServer(workdir, {"demo-api": [f"127.0.0.1:{p}" for p in BUILDS.values()]})
    try:
        for version, port in BUILDS.items():
            for old in docker_client.containers.list(all=True, filters={"name": f"releasegate-slo-e2e-{port}"}):
                old.remove(force=True)
            containers.append(docker_client.containers.run(
                images.demo_image(version),
                name=f"releasegate-slo-e2e-{port}",
                environment={"PORT": str(port), "DATABASE_URL": stack.dsn(stack.app, DATABASE)},
                network_mode="host",
                labels={"org.releasegate.role": "slo-e2e"},
                detach=True,
            ))
        for port in BUILDS.values():
            _wait_ready(f"http://127.0.0.1:{port}/health")
        traffic = [threading.Thread(target=_traffic, args=(port, stop), daemon=True) for port in BUILDS.values()]
        for thread in traffic:
            thread.start()
        prometheus.start()
        for version in BUILDS:
            prometheus.wait_for_series(f'sum(rate(http_requests_total{{version="{version}"}}[5s])) > 0', 60)
        yield prometheus
    finally:
        stop.set()
        prometheus.stop()
        for container in containers:
            container.remove(force=True)
        shutil.rmtree(workdir, ignore_errors=True)
        database.drop(stack, DATABASE)


def _wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


def _traffic(port: int, stop: threading.Event) -> None:
    """About 10 requests a second on the items API (the slow build answers one every 1.7 s per thread)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                client.get("/api/items")
            stop.wait(0.1)


def _run(prometheus: PrometheusServer, metric: Metric) -> CheckResult:
    with PrometheusClient(prometheus.url, 2) as client:
        return analyse(client, [metric], query_timeout_s=2)


QUICK = slo.Timing(interval_s=1, count=3)


def test_errors_build_fails_the_error_rate_analysis_and_the_good_build_passes(demo_builds: PrometheusServer) -> None:
    bad = slo.builtin("error_rate", SCHEMA, "demo-api", version="1.1.0-errors", success=Condition("<", 0.05),
                      window_s=10, timing=QUICK)
    result = _run(demo_builds, bad)
    assert result.outcome is Outcome.FAIL, result.summary()
    good = slo.builtin("error_rate", SCHEMA, "demo-api", version="1.0.0", success=Condition("<", 0.05),
                       window_s=10, timing=QUICK)
    assert _run(demo_builds, good).outcome is Outcome.PASS
    compared = slo.compare("error_rate", SCHEMA, "demo-api", version="1.1.0-errors", baseline_version="1.0.0",
                           tolerance=0.1, window_s=10, timing=QUICK)
    assert _run(demo_builds, compared).outcome is Outcome.FAIL


def test_slow_build_fails_the_latency_analysis(demo_builds: PrometheusServer) -> None:
    slow = slo.builtin("latency", SCHEMA, "demo-api", version="1.1.0-slow", success=Condition("<", 1.0),
                       window_s=10, timing=QUICK)
    result = _run(demo_builds, slow)
    assert result.outcome is Outcome.FAIL, result.summary()
    assert result.evidence["metrics"][0]["measurements"][0]["value"] > 1.0
    fast = slo.builtin("latency", SCHEMA, "demo-api", version="1.0.0", success=Condition("<", 1.0),
                       window_s=10, timing=QUICK)
    assert _run(demo_builds, fast).outcome is Outcome.PASS


def test_load_stages_against_the_demo_builds(demo_builds: PrometheusServer, tmp_path: Path) -> None:
    from releasegate.checks.runbook.model import LoadProfile
    from releasegate.load.runner import run_load

    def profile(p95_ms_max: float | None) -> LoadProfile:
        return LoadProfile.model_validate({
            "endpoints": [{"path": "/api/items", "weight": 3}, {"path": "/health", "weight": 1}],
            "stages": [{"duration_s": 4, "users": 4, "spawn_rate": 20}],
            "thresholds": {"failure_ratio_max": 0.01, "p95_ms_max": p95_ms_max, "grace_s": 1},
            "wait_min_s": 0.01, "wait_max_s": 0.02,
        })

    good = run_load(profile(1000), f"http://127.0.0.1:{BUILDS['1.0.0']}", tmp_path / "good")
    assert good.check.outcome is Outcome.PASS, good.check.summary()
    errors = run_load(profile(None), f"http://127.0.0.1:{BUILDS['1.1.0-errors']}", tmp_path / "errors")
    assert errors.check.outcome is Outcome.FAIL and "failure ratio" in errors.check.detail
    slow = run_load(profile(1000), f"http://127.0.0.1:{BUILDS['1.1.0-slow']}", tmp_path / "slow")
    assert slow.check.outcome is Outcome.FAIL and "p95" in slow.check.detail
