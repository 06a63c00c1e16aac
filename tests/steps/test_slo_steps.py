"""The SLO step phrases, run as a feature file against the real Prometheus of the analysis tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.slo_stack import Stack

RUNBOOK = """\
name: local
release:
  version: "1.1.0"
  previous_version: "1.0.0"
services:
  - name: demo-api
    base_url: http://127.0.0.1:8080
prometheus:
  url: {url}
  timeout_s: 2
slo:
  window_s: 5
  interval_s: 1
  baseline:
    error_rate: 0.25
"""

FEATURE = """\
Feature: SLO gates
  @slo
  Scenario: a good release
    Then the error rate of "demo-api" stays below 1% for 2 seconds, sampled every 1 second, tolerating 1 failure
    And the p95 latency of "demo-api" stays below 1 second for 1 seconds
    And no alert is firing for "demo-api"
    And the success rate of "demo-api" is at least 99.5%
    And the request rate of "demo-api" is above 1 per second
    And the error rate of version "1.1.0" of "demo-api" is within 10% of version "1.0.0"
    And the error rate of "demo-errors" version "1.1.0" stays below 1% for 1 seconds (dry run)

  @slo
  Scenario: a release with errors
    Then the error rate of "demo-errors" stays below 1% for 3 seconds, sampled every 1 second, tolerating 1 failure

  @slo
  Scenario: an alert fires
    Then no alert is firing for "demo-errors"

  @slo
  Scenario: a metric nobody exports
    Then the p95 latency of "nothing-here" is below 1 second

  @slo
  Scenario: within the recorded baseline
    Then the error rate of version "1.1.0" of "demo-errors" is within 10% of the recorded baseline for 1 seconds

  @slo
  Scenario: no recorded figure
    Then the p95 latency of version "1.1.0" of "demo-errors" is within 10% of the recorded baseline
"""


def test_slo_phrases_gate_the_release(slo_stack: Stack, rg_project: Callable[..., pytest.Pytester]) -> None:
    project = rg_project(runbooks={"local": RUNBOOK.format(url=slo_stack.prometheus.url)},
                         features={"slo": FEATURE})
    result = project.runpytest("features/slo.feature", "--env", "local", "-p", "no:cacheprovider", "-rA")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 and outcomes.get("failed") == 4, result.stdout.str()
    text = result.stdout.str()
    assert "PASSED features/slo.feature::test_a_good_release" in text
    assert "PASSED features/slo.feature::test_within_the_recorded_baseline" in text
    assert 'error rate of "demo-errors": FAIL' in text
    assert 'alerts of "demo-errors": FAIL' in text
    assert "p95 latency of \"nothing-here\": INCONCLUSIVE" in text
    assert "slo.baseline has no recorded 'latency' figure" in text
