"""Load stages run out of process against real nginx and a slow service, judged per stage."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.fake_service import FakeService
from support.slo_servers import NginxServer

from releasegate.checks.result import Outcome
from releasegate.checks.runbook.model import LoadProfile
from releasegate.load.runner import run_load
from releasegate.load.stats import StageRecord, percentile, stage_figures


def profile(**overrides: Any) -> LoadProfile:
    data: dict[str, Any] = {
        "endpoints": [{"path": "/", "weight": 3}, {"path": "/index.html", "weight": 1}],
        "stages": [{"duration_s": 3, "users": 2, "spawn_rate": 20}, {"duration_s": 3, "users": 4, "spawn_rate": 20}],
        "thresholds": {"failure_ratio_max": 0.01, "p95_ms_max": 1000, "min_rps": 50, "grace_s": 1},
        "wait_min_s": 0.005,
        "wait_max_s": 0.01,
    }
    data.update(overrides)
    return LoadProfile.model_validate(data)


def test_stages_within_thresholds_pass_with_every_report_file(nginx: NginxServer, out_dir: Path) -> None:
    result = run_load(profile(), nginx.url, out_dir)
    assert result.check.outcome is Outcome.PASS, result.check.summary()
    assert [s["users"] for s in result.stages] == [2, 4]
    assert all(s["requests"] > 100 and s["failures"] == 0 for s in result.stages)
    assert set(result.files) >= {"stats_json", "stats_csv", "html", "stages_json"}
    names = {e["name"] for e in json.loads(result.files["stats_json"].read_text())}
    assert names == {"GET /", "GET /index.html"}
    assert "locust" not in sys.modules  # never imported in the pytest process


def test_a_failing_endpoint_aborts_the_run_after_the_grace_delay(nginx: NginxServer, out_dir: Path) -> None:
    failing = profile(
        endpoints=[{"path": "/", "weight": 1}, {"path": "/error", "weight": 1}],
        stages=[{"duration_s": 20, "users": 2, "spawn_rate": 20}],
        thresholds={"failure_ratio_max": 0.05, "grace_s": 1.5},
    )
    started = time.monotonic()
    result = run_load(failing, nginx.url, out_dir)
    assert result.check.outcome is Outcome.FAIL
    assert result.aborted is not None and "failure ratio" in result.aborted["reason"]
    assert 1.5 <= result.aborted["at_s"] < 5
    assert time.monotonic() - started < 15  # far less than the 20 s stage
    assert "aborted at" in result.check.detail
    assert 0.4 < result.stages[0]["failure_ratio"] < 0.6


def test_p95_and_request_rate_thresholds_fail_against_a_slow_service(slow_service: FakeService,
                                                                     out_dir: Path) -> None:
    slow = profile(
        endpoints=[{"path": "/api/items"}],
        stages=[{"duration_s": 3, "users": 2, "spawn_rate": 10}],
        thresholds={"failure_ratio_max": 0.01, "p95_ms_max": 5000, "min_rps": 100, "grace_s": 1},
        user_class="http",
    )
    result = run_load(slow, slow_service.url, out_dir)
    assert result.check.outcome is Outcome.FAIL
    assert "requests/s < 100/s" in result.check.detail and result.aborted is None  # rate is judged at the end
    assert 140 <= result.stages[0]["p95_ms"] < 1500

    strict = profile(endpoints=[{"path": "/api/items"}], stages=[{"duration_s": 10, "users": 2, "spawn_rate": 10}],
                     thresholds={"p95_ms_max": 50, "grace_s": 1})
    result = run_load(strict, slow_service.url, out_dir)
    assert result.check.outcome is Outcome.FAIL
    assert result.aborted is not None and "p95" in result.aborted["reason"]


def test_distributed_mode_with_two_workers(nginx: NginxServer, out_dir: Path) -> None:
    result = run_load(profile(workers=2, stages=[{"duration_s": 4, "users": 4, "spawn_rate": 20}]), nginx.url, out_dir)
    assert result.check.outcome is Outcome.PASS, result.check.summary()
    assert (out_dir / "worker-1.log").is_file() and (out_dir / "worker-2.log").is_file()
    assert "master.log" in str(result.files["log"])
    assert result.stages[0]["requests"] > 200
    totals = result.check.evidence["totals"]
    assert totals["requests"] >= result.stages[0]["requests"]


def test_a_target_that_does_not_answer_fails(out_dir: Path) -> None:
    result = run_load(profile(stages=[{"duration_s": 2, "users": 1, "spawn_rate": 10}]), "http://127.0.0.1:9", out_dir)
    assert result.check.outcome is Outcome.FAIL
    assert result.stages[0]["failure_ratio"] == 1.0


def test_locust_that_cannot_start_is_inconclusive(nginx: NginxServer, out_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    from releasegate.load import runner as load

    monkeypatch.setattr(load, "LOCUSTFILE", out_dir / "missing.py")
    result = run_load(profile(), nginx.url, out_dir)
    assert result.check.outcome is Outcome.INCONCLUSIVE
    assert "exited with code" in result.check.detail


def test_stage_figures_and_percentile() -> None:
    histogram = {"10": 90, "20": 6, "500": 4}  # Locust: the p95 of 100 is the 96th
    assert percentile(histogram, 0.95) == 20
    assert percentile(histogram, 0.99) == 500
    assert percentile({}, 0.95) is None
    record = StageRecord(0, 4, 10, started_s=0, ended_s=10, steady_from_s=2, requests=1000, failures=10,
                         steady_requests=800, response_times_ms=histogram)
    figures = stage_figures(record)
    assert figures["rps"] == 100 and figures["failure_ratio"] == 0.01 and figures["p95_ms"] == 20
