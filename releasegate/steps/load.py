"""Load steps: a runbook load profile run by Locust out of process, alone or while an SLO analysis measures."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import allure
import pytest
from pytest_bdd import parsers, then, when

from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics as slo
from releasegate.load.runner import LoadResult, LoadRun, profile_for
from releasegate.plugins.evidence import Evidence
from releasegate.steps._slo_phrases import measure, slo_phrase

_ATTACHMENTS = {
    "html": ("Locust report", allure.attachment_type.HTML),
    "stats_json": ("Locust statistics (JSON)", allure.attachment_type.JSON),
    "stats_csv": ("Locust statistics (CSV)", allure.attachment_type.CSV),
    "failures_csv": ("Locust failures (CSV)", allure.attachment_type.CSV),
    "stages_json": ("load stages", allure.attachment_type.JSON),
}


def _out_dir(config: pytest.Config, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    return config.rootpath / "reports" / "load" / f"{time.strftime('%Y%m%dT%H%M%S')}-{safe}"


def _start(runbook: Runbook, name: str, config: pytest.Config, evidence: Evidence) -> LoadRun:
    try:
        profile, host = profile_for(runbook, name)
    except ConfigError as exc:
        evidence.require(CheckResult.unknown(f'load profile "{name}"', str(exc)))
        raise  # not reached: require raises for an inconclusive result
    return LoadRun(profile, host, _out_dir(config, name), name=f'load profile "{name}"').start()


def _record(result: LoadResult, evidence: Evidence) -> None:
    evidence.record(result.check)
    for key, (title, kind) in _ATTACHMENTS.items():
        if key in result.files:
            evidence.attach_file(title, str(result.files[key]), kind)


@when(parsers.parse('the load profile "{name}" runs'), target_fixture="load_result")
def load_profile_runs(name: str, runbook: Runbook, evidence: Evidence, pytestconfig: pytest.Config) -> LoadResult:
    """Run the profile's stages (load.NAME in the runbook); the verdict is left to "the load stage passed"."""
    result = _start(runbook, name, pytestconfig, evidence).wait()
    _record(result, evidence)
    return result


@pytest.fixture
def load_result() -> LoadResult | None:
    """The last load run of the scenario (replaced by the steps that run one); None before any ran."""
    return None


@then("the load stage passed its thresholds")
def load_stage_passed(load_result: LoadResult | None, evidence: Evidence) -> None:
    """Every stage kept its failure ratio, p95 and request-rate thresholds, and the run was not aborted."""
    if load_result is None:
        evidence.require(CheckResult.unknown("load stage", 'no load ran in this scenario: put When the load profile'
                                             ' "NAME" runs before this step'))
        return
    evidence.require(load_result.check)


@when(slo_phrase("threshold", under_load=True), target_fixture="load_result")
@then(slo_phrase("threshold", under_load=True), target_fixture="load_result")
def slo_under_load(ask: slo.Ask, load: str, runbook: Runbook, evidence: Evidence,
                   pytestconfig: pytest.Config) -> LoadResult:
    """Measure an SLO while the load profile runs; the analysis spans the load unless the phrase gives a duration."""
    run = _start(runbook, load, pytestconfig, evidence)
    started = run.wait_started()
    scrape = runbook.prometheus.scrape_interval_s if runbook.prometheus else 1.0
    # the first measurement needs two scrapes of the load's traffic inside the query window
    delay = ask.initial_delay_s if ask.initial_delay_s is not None else max(runbook.slo.initial_delay_s, 3 * scrape + 1)
    duration = ask.duration_s if ask.duration_s is not None else max(0.0, run.planned_s - delay)
    if not started:
        result = run.wait()
        _record(result, evidence)
        evidence.require(CheckResult.unknown(ask.kind, f"the load did not start: {result.check.detail}"))
    analysis: CheckResult | None = None
    try:
        analysis = measure(runbook, replace(ask, initial_delay_s=delay, duration_s=duration), ask.kind)
    finally:
        if analysis is None or not analysis.passed:
            # the analysis has its verdict: more load on a failing service proves nothing
            run.request_stop(f"the analysis ended {analysis.outcome.value if analysis else 'with an error'}")
        result = run.wait()
        _record(result, evidence)
    evidence.require(analysis)
    return result
