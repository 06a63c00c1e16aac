"""An SLO measured while a load profile runs: the load is the traffic, the analysis the verdict.

The analysis begins once the first stage has started and Prometheus has scraped the load's
traffic twice, and spans the rest of the load unless the phrase gives a duration
(``checks.slo.metrics.during_load``); an analysis longer than the load keeps the load's last stage
running until it ends. As soon as the analysis has a verdict other than PASS the load is stopped:
more load on a failing service proves nothing. The load's requests are labelled ``load``
(``load.runner.load_headers``), which the default ``slo.real_traffic_selector`` counts as real.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics
from releasegate.checks.slo.phrases import Ask
from releasegate.load.runner import LoadResult, LoadRun, profile_for, start_profile

HOLD_MARGIN_S = 5.0
"""How much longer than the analysis a held load runs (the last query and its scrape)."""


def measure_under_load(runbook: Runbook, ask: Ask, profile: str,
                       out_dir: Path) -> tuple[CheckResult, LoadResult | None]:
    """The analysis ``ask`` under the load profile ``profile``, and the load run (None when it could not start)."""
    try:
        planned = sum(s.duration_s for s in profile_for(runbook, profile)[0].stages)
    except Exception:
        planned = 0.0
    timed = metrics.during_load(runbook, ask, planned)
    needed = timed.timing["initial_delay_s"] + timed.timing["duration_s"] + HOLD_MARGIN_S
    return under_load(runbook, profile, out_dir, ask.kind, max(0.0, needed - planned),
                      lambda: metrics.measure(runbook, timed, ask.kind))


def analysis_under_load(runbook: Runbook, service: str, profile: str,
                        out_dir: Path) -> tuple[CheckResult, LoadResult | None]:
    """The runbook's whole SLO analysis of ``service`` while the load profile runs (held as long as it lasts)."""
    name = f'SLO analysis of "{service}" under the load profile "{profile}"'
    found = metrics.analysis_under_load(runbook, service)
    return under_load(runbook, profile, out_dir, name, metrics.planned_s(found) + HOLD_MARGIN_S,
                      lambda: metrics.run(runbook, found, name))


def under_load(runbook: Runbook, profile: str, out_dir: Path, name: str, hold_s: float,
               analyse: Callable[[], CheckResult]) -> tuple[CheckResult, LoadResult | None]:
    """Start the load, run ``analyse`` once it has begun, stop the load early unless the analysis passed."""
    run = start_profile(runbook, profile, out_dir, hold_s=hold_s)
    if isinstance(run, CheckResult):
        return run, None
    if not run.wait_started():
        result = run.wait()
        return CheckResult.unknown(name, f"the load did not start: {result.check.detail}"), result
    return _analysed(run, analyse)


def _analysed(run: LoadRun, analyse: Callable[[], CheckResult]) -> tuple[CheckResult, LoadResult]:
    analysis: CheckResult | None = None
    try:
        analysis = analyse()
    finally:
        if analysis is None or not analysis.passed:
            run.request_stop(f"the analysis ended {analysis.outcome.value if analysis else 'with an error'}")
        elif run.hold_s > 0:
            run.request_stop("the analysis ended PASS")
        result = run.wait()
    return analysis, result
