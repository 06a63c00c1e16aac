"""Representative traffic for an analysis: a runbook load profile running for as long as the analysis does.

A canary judged on releasegate's own prober judges nothing (issue 14): ``deploy.canary.load: PROFILE``
runs the profile against the router for the whole canary, like Flagger's load tester, so that every
analysis gate sees the traffic mix the profile describes. The load's last stage is held until the
block ends (bounded by ``MAX_HOLD_S``), a breached load threshold never stops the traffic (the
analysis gives the verdict), and the load's own statistics are recorded as evidence.

    with canary_load(runbook, "canary", report_root, evidence.record):
        observe.deploy_services(...)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.load.runner import LoadRun, report_dir, start_profile

MAX_HOLD_S = 3600.0
"""The longest a representative load keeps its last stage running (a canary that never ends must not load forever)."""


@contextlib.contextmanager
def representative_load(runbook: Runbook, profile: str | None, report_root: Path,
                        record: Callable[[CheckResult], object], *, purpose: str) -> Iterator[LoadRun | None]:
    """Run the load profile ``profile`` (nothing when None) until the block ends; its result goes to ``record``.

    A profile that cannot start is recorded and the block runs without it: the analysis then says
    there was not enough traffic to judge (INCONCLUSIVE), never PASS.
    """
    if profile is None:
        yield None
        return
    run = start_profile(runbook, profile, report_dir(report_root, profile), hold_s=MAX_HOLD_S,
                        abort_on_breach=False)
    if isinstance(run, CheckResult):
        record(run)
        yield None
        return
    if not run.wait_started():
        result = run.wait()
        record(CheckResult.unknown(f'load profile "{profile}" for the {purpose}',
                                   f"the load did not start: {result.check.detail}"))
        yield None
        return
    try:
        yield run
    finally:
        run.request_stop(f"the {purpose} ended")
        result = run.wait()
        result.check.name = f'load profile "{profile}" during the {purpose}'
        record(result.check)


def canary_load(runbook: Runbook, strategy: str, report_root: Path,
                record: Callable[[CheckResult], object]) -> contextlib.AbstractContextManager[LoadRun | None]:
    """The canary's own traffic: ``deploy.canary.load`` while a canary runs, else nothing."""
    profile = runbook.deploy.canary.load if strategy == "canary" else None
    return representative_load(runbook, profile, report_root, record, purpose="canary")


__all__ = ["MAX_HOLD_S", "canary_load", "representative_load"]
