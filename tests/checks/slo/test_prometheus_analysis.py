"""Analyses against a real Prometheus scraping fake services every second."""

from __future__ import annotations

import threading
import time

from support.fake_service import FakeService
from support.slo_servers import PrometheusServer
from support.slo_stack import Stack

from releasegate.checks.result import Outcome
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.analysis import Condition, Metric, analyse
from releasegate.checks.slo.prometheus import PrometheusClient

SCHEMA = slo.Schema()
QUICK = slo.Timing(interval_s=0.5, count=3)


def run(url: str, *metrics: Metric, timeout_s: float = 2.0):  # type: ignore[no-untyped-def]
    with PrometheusClient(url, timeout_s) as client:
        return analyse(client, list(metrics), name="analysis", query_timeout_s=timeout_s)


def test_error_rate_of_a_failing_version_fails_and_a_good_one_passes(slo_stack: Stack) -> None:
    bad = slo.builtin("error_rate", SCHEMA, "demo-errors", version="1.1.0", success=Condition("<", 0.01),
                      window_s=5, timing=QUICK.with_(failure_limit=1))
    result = run(slo_stack.prometheus.url, bad)
    assert result.outcome is Outcome.FAIL, result.summary()
    metric = result.evidence["metrics"][0]
    assert metric["counts"]["failed"] == 2 and metric["decision"] == "FAIL"
    assert 'status=~"5.."' in metric["query"] and 'version="1.1.0"' in metric["query"]
    assert all(abs(m["value"] - 0.2) < 0.05 for m in metric["measurements"])
    assert metric["measurements"][0]["samples"][0]["time"].endswith("Z")

    good = slo.builtin("error_rate", SCHEMA, "demo-api", success=Condition("<", 0.01), window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, good)
    assert result.outcome is Outcome.PASS, result.summary()
    assert [m["value"] for m in result.evidence["metrics"][0]["measurements"]] == [0.0, 0.0, 0.0]


def test_latency_quantile_of_a_slow_version_fails(slo_stack: Stack) -> None:
    slow = slo.builtin("latency", SCHEMA, "demo-slow", success=Condition("<", 1.0), window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, slow)
    assert result.outcome is Outcome.FAIL, result.summary()
    assert result.evidence["metrics"][0]["measurements"][0]["value"] > 1.0
    assert "histogram_quantile(0.95" in result.evidence["metrics"][0]["query"]

    fast = slo.builtin("latency", SCHEMA, "demo-api", success=Condition("<", 1.0), window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, fast)
    assert result.outcome is Outcome.PASS, result.summary()
    assert result.evidence["metrics"][0]["measurements"][0]["value"] < 0.05


def test_success_rate_and_request_rate(slo_stack: Stack) -> None:
    success = slo.builtin("success_rate", SCHEMA, "demo-errors", version="1.1.0",
                          success=Condition(">=", 0.995), window_s=5, timing=QUICK)
    rate = slo.builtin("request_rate", SCHEMA, "demo-api", success=Condition(">", 1), window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, rate)
    assert result.outcome is Outcome.PASS, result.summary()
    assert 60 < result.evidence["metrics"][0]["measurements"][0]["value"] < 100  # 2 x 40 requests/s
    result = run(slo_stack.prometheus.url, success)
    assert result.outcome is Outcome.FAIL
    assert abs(result.evidence["metrics"][0]["measurements"][0]["value"] - 0.8) < 0.05


def test_a_metric_that_does_not_exist_is_inconclusive_never_a_pass(slo_stack: Stack) -> None:
    missing = slo.custom("queue depth", 'sum(no_such_metric_total{service="{service}"})', service="demo-api",
                         success="< 10", timing=QUICK)
    result = run(slo_stack.prometheus.url, missing)
    assert result.outcome is Outcome.INCONCLUSIVE, result.summary()
    assert "never returned samples" in result.detail
    assert result.evidence["metrics"][0]["measurements"][0]["no_data"] is True

    result = run(slo_stack.prometheus.url, slo.custom("queue depth", "sum(no_such_metric_total)", success="< 10",
                                                      timing=QUICK.with_(no_data="fail")))
    assert result.outcome is Outcome.FAIL

    result = run(slo_stack.prometheus.url, slo.custom("queue depth", "sum(no_such_metric_total)", success="< 10",
                                                      timing=QUICK.with_(no_data="pass")))
    assert result.outcome is Outcome.PASS
    assert "never returned samples" in result.detail and "no_data: pass" in result.detail

    # a service with no traffic at all: the error-rate ratio has nothing to divide by
    idle = slo.builtin("error_rate", SCHEMA, "no-such-service", success=Condition("<", 0.01), window_s=5,
                       timing=QUICK)
    assert run(slo_stack.prometheus.url, idle).outcome is Outcome.INCONCLUSIVE


def test_a_query_prometheus_rejects_is_inconclusive_at_once(slo_stack: Stack) -> None:
    broken = slo.custom("broken", "sum(rate(http_requests_total[5s]) by", success="< 1",
                        timing=slo.Timing(interval_s=5, count=10))
    started = time.monotonic()
    result = run(slo_stack.prometheus.url, broken)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "rejected" in result.detail and "fix the query" in result.detail
    assert time.monotonic() - started < 2


def test_dry_run_metric_is_measured_but_not_acted_on(slo_stack: Stack) -> None:
    shadow = slo.builtin("error_rate", SCHEMA, "demo-errors", version="1.1.0", success=Condition("<", 0.01),
                         window_s=5, timing=QUICK.with_(dry_run=True))
    real = slo.builtin("latency", SCHEMA, "demo-api", success=Condition("<", 1.0), window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, shadow, real)
    assert result.outcome is Outcome.PASS, result.summary()
    by_name = {m["name"]: m for m in result.evidence["metrics"]}
    assert by_name[shadow.name]["decision"] == "FAIL" and by_name[shadow.name]["acted_on"] is False
    assert by_name[real.name]["decision"] == "PASS"
    assert "not acted on" in result.detail

    alone = run(slo_stack.prometheus.url, shadow)
    assert alone.outcome is Outcome.PASS and "dry run" in alone.detail


def test_new_version_against_the_previous_version(slo_stack: Stack) -> None:
    worse = slo.compare("error_rate", SCHEMA, "demo-errors", version="1.1.0", baseline_version="1.0.0",
                        tolerance=0.1, window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, worse)
    assert result.outcome is Outcome.FAIL, result.summary()
    first = result.evidence["metrics"][0]["measurements"][0]
    assert first["baseline_value"] == 0.0 and first["value"] > 0.1
    assert result.evidence["metrics"][0]["baseline_query"].count('version="1.0.0"') == 2

    same = slo.compare("latency", SCHEMA, "demo-api", version="1.1.0", baseline_version="1.0.0", tolerance=0.1,
                       window_s=5, timing=QUICK)
    assert run(slo_stack.prometheus.url, same).outcome is Outcome.PASS

    recorded = slo.compare("error_rate", SCHEMA, "demo-errors", version="1.1.0", recorded=0.25, tolerance=0.1,
                           window_s=5, timing=QUICK)
    result = run(slo_stack.prometheus.url, recorded)
    assert result.outcome is Outcome.PASS, result.summary()
    assert "recorded figure 0.25" in result.evidence["metrics"][0]["baseline"]["description"]


def test_alerts_firing(slo_stack: Stack) -> None:
    calm = slo.builtin("alerts", SCHEMA, "demo-api", success=Condition("==", 0), timing=QUICK)
    result = run(slo_stack.prometheus.url, calm)
    assert result.outcome is Outcome.PASS, result.summary()
    assert result.evidence["metrics"][0]["query"] == 'ALERTS{alertstate="firing",service="demo-api"}'

    noisy = slo.builtin("alerts", SCHEMA, "demo-errors", success=Condition("==", 0), timing=QUICK)
    result = run(slo_stack.prometheus.url, noisy)
    assert result.outcome is Outcome.FAIL
    sample = result.evidence["metrics"][0]["measurements"][0]["samples"][0]
    assert sample["labels"]["alertname"] == "HighErrorRate"


def test_prometheus_stopped_mid_analysis_ends_inconclusive_after_the_error_limit(
    lone_prometheus: tuple[PrometheusServer, FakeService],
) -> None:
    prometheus, _ = lone_prometheus
    metric = slo.builtin("error_rate", SCHEMA, "demo-api", success=Condition("<", 0.01), window_s=5,
                         timing=slo.Timing(interval_s=0.5, count=20, consecutive_error_limit=3, error_retry_s=0.2))
    threading.Timer(1.2, prometheus.stop).start()
    result = run(prometheus.url, metric, timeout_s=1.0)
    assert result.outcome is Outcome.INCONCLUSIVE, result.summary()
    evidence = result.evidence["metrics"][0]
    assert evidence["counts"]["successful"] >= 1
    assert evidence["counts"]["error"] == 4  # the limit is 3: the fourth error in a row ends it
    assert "4 provider errors in a row (limit 3)" in evidence["reason"]
    assert result.elapsed_s < 8


def test_no_alert_firing_is_inconclusive_when_no_alert_rule_is_loaded(
    lone_prometheus: tuple[PrometheusServer, FakeService], slo_stack: Stack,
) -> None:
    from releasegate.checks.runbook.model import Runbook

    alerts = slo.builtin("alerts", SCHEMA, "demo-api", success=Condition("==", 0), timing=QUICK)
    without_rules = Runbook.model_validate({"name": "t", "prometheus": {"url": lone_prometheus[0].url}})
    result = slo.run(without_rules, [alerts], "alerts")
    assert result.outcome is Outcome.INCONCLUSIVE and "no alerting rule loaded" in result.detail
    with_rules = Runbook.model_validate({"name": "t", "prometheus": {"url": slo_stack.prometheus.url}})
    result = slo.run(with_rules, [alerts], "alerts")
    assert result.outcome is Outcome.PASS and result.evidence["alert_rules"] == ["HighErrorRate"]
