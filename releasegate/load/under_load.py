"""An SLO measured while a load profile runs: the load is the traffic, the analysis the verdict.

The analysis begins once the first stage has started and Prometheus has scraped the load's
traffic twice, and spans the rest of the load unless the phrase gives a duration
(``checks.slo.metrics.during_load``). As soon as the analysis has a verdict other than PASS the
load is stopped: more load on a failing service proves nothing.
"""

from __future__ import annotations

from pathlib import Path

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics
from releasegate.checks.slo.phrases import Ask
from releasegate.load.runner import LoadResult, start_profile


def measure_under_load(runbook: Runbook, ask: Ask, profile: str,
                       out_dir: Path) -> tuple[CheckResult, LoadResult | None]:
    """The analysis ``ask`` under the load profile ``profile``, and the load run (None when it could not start)."""
    run = start_profile(runbook, profile, out_dir)
    if isinstance(run, CheckResult):
        return run, None
    if not run.wait_started():
        result = run.wait()
        return CheckResult.unknown(ask.kind, f"the load did not start: {result.check.detail}"), result
    analysis: CheckResult | None = None
    try:
        analysis = metrics.measure(runbook, metrics.during_load(runbook, ask, run.planned_s), ask.kind)
    finally:
        if analysis is None or not analysis.passed:
            run.request_stop(f"the analysis ended {analysis.outcome.value if analysis else 'with an error'}")
        result = run.wait()
    return analysis, result
