"""SLO steps: measurements on Prometheus over time ("the error rate of "demo-api" stays below 1% for 2 minutes")."""

from __future__ import annotations

from pytest_bdd import parsers, then

from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.phrases import Ask
from releasegate.plugins.dryrun import read_only
from releasegate.plugins.evidence import Evidence
from releasegate.steps._phrases import slo_phrase


@then(slo_phrase("threshold"))
@read_only
def slo_threshold(ask: Ask, runbook: Runbook, evidence: Evidence) -> None:
    """Measure a built-in SLO (error rate, success rate, pNN latency, request rate) against a threshold."""
    evidence.require(slo.measure(runbook, ask, ask.kind))


@then(slo_phrase("comparison"))
@read_only
def slo_comparison(ask: Ask, runbook: Runbook, evidence: Evidence) -> None:
    """Compare the new version with the previous version's live figures or the runbook's recorded baseline."""
    evidence.require(slo.measure(runbook, ask, f"{ask.kind} comparison"))


@then(slo_phrase("alerts"))
@read_only
def no_alert_firing(ask: Ask, runbook: Runbook, evidence: Evidence) -> None:
    """No ALERTS{alertstate="firing"} series (for the service's label, see prometheus.alert_service_label)."""
    evidence.require(slo.measure(runbook, ask, "alerts firing"))


@then(parsers.parse('the SLO analysis of "{service}" passes'))
@read_only
def slo_analysis_passes(service: str, runbook: Runbook, evidence: Evidence) -> None:
    """The runbook's whole SLO analysis: error rate, latency, success rate, alerts, request rate and slo.metrics."""
    evidence.require(slo.analyse_service(runbook, service))
