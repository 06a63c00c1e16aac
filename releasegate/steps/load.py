"""Load steps: a runbook load profile run by Locust out of process, alone or while an SLO analysis measures."""

from __future__ import annotations

import allure
import pytest
from pytest_bdd import parsers, then, when

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo.phrases import Ask
from releasegate.load.runner import LoadResult, report_dir, run_profile
from releasegate.load.under_load import analysis_under_load, measure_under_load
from releasegate.plugins.dryrun import changes, read_only
from releasegate.plugins.evidence import Evidence
from releasegate.steps._phrases import slo_phrase

_ATTACHMENTS = {
    "html": ("Locust report", allure.attachment_type.HTML),
    "stats_json": ("Locust statistics (JSON)", allure.attachment_type.JSON),
    "stats_csv": ("Locust statistics (CSV)", allure.attachment_type.CSV),
    "failures_csv": ("Locust failures (CSV)", allure.attachment_type.CSV),
    "stages_json": ("load stages", allure.attachment_type.JSON),
}


def _record(result: LoadResult | CheckResult | None, evidence: Evidence) -> LoadResult | None:
    """Attach a load run's verdict and files to the report; a profile that could not run is required."""
    if isinstance(result, CheckResult):
        evidence.require(result)
        return None
    if result is not None:
        evidence.record(result.check)
        for key, (title, kind) in _ATTACHMENTS.items():
            if key in result.files:
                evidence.attach_file(title, str(result.files[key]), kind)
    return result


@when(parsers.parse('the load profile "{name}" runs'), target_fixture="load_result")
@changes
def load_profile_runs(name: str, runbook: Runbook, evidence: Evidence,
                      pytestconfig: pytest.Config) -> LoadResult | None:
    """Run the profile's stages (load.NAME in the runbook); the verdict is left to "the load stage passed"."""
    return _record(run_profile(runbook, name, report_dir(pytestconfig.rootpath, name)), evidence)


@pytest.fixture
def load_result() -> LoadResult | None:
    """The last load run of the scenario (replaced by the steps that run one); None before any ran."""
    return None


@then("the load stage passed its thresholds")
@read_only
def load_stage_passed(load_result: LoadResult | None, evidence: Evidence) -> None:
    """Every stage kept its failure ratio, p95 and request-rate thresholds, and the run was not aborted."""
    if load_result is None:
        evidence.require(CheckResult.unknown("load stage", 'no load ran in this scenario: put When the load profile'
                                             ' "NAME" runs before this step'))
        return
    evidence.require(load_result.check)


@when(slo_phrase("threshold", under_load=True), target_fixture="load_result")
@then(slo_phrase("threshold", under_load=True), target_fixture="load_result")
@then(slo_phrase("comparison", under_load=True), target_fixture="load_result")
@changes
def slo_under_load(ask: Ask, load: str, runbook: Runbook, evidence: Evidence,
                   pytestconfig: pytest.Config) -> LoadResult | None:
    """Measure an SLO while the load profile runs; the analysis spans the load unless the phrase gives a duration."""
    analysis, result = measure_under_load(runbook, ask, load, report_dir(pytestconfig.rootpath, load))
    _record(result, evidence)
    evidence.require(analysis)
    return result


@when(parsers.parse('while the load profile "{name}" runs, the SLO analysis of "{service}" passes'),
      target_fixture="load_result")
@then(parsers.parse('while the load profile "{name}" runs, the SLO analysis of "{service}" passes'),
      target_fixture="load_result")
@changes
def slo_analysis_under_load(name: str, service: str, runbook: Runbook, evidence: Evidence,
                            pytestconfig: pytest.Config) -> LoadResult | None:
    """The runbook's whole SLO analysis of the service (one slo.window_s) judged on the profile's traffic."""
    analysis, result = analysis_under_load(runbook, service, name, report_dir(pytestconfig.rootpath, name))
    _record(result, evidence)
    evidence.require(analysis)
    return result
