"""What a scenario's test report says in releasegate's terms (helpers of the plugins, not a plugin).

A report fails a scenario when its setup or its steps failed, or when its xdist worker crashed
(xdist reports a crash with ``when`` "???"); the outcome is INCONCLUSIVE when evidence.require
recorded it so in the user properties.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from xdist.dsession import Interrupted as WorkersStopped

from releasegate.checks.result import Outcome
from releasegate.checks.run.decision import FailedCheck, ScenarioInfo
from releasegate.plugins.evidence import EVIDENCE_PROPERTY, OUTCOME_PROPERTY


def is_crash(report: pytest.TestReport) -> bool:
    return report.when not in ("setup", "call", "teardown")


def failed_check(report: pytest.TestReport, info: ScenarioInfo,
                 properties: Sequence[tuple[str, object]] | None = None) -> FailedCheck | None:
    """The failure this report records, or None; ``properties`` default to the report's user properties."""
    crashed = is_crash(report)
    if not report.failed or not (crashed or report.when in ("setup", "call")):
        return None
    properties = report.user_properties if properties is None else properties
    inconclusive = (OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value) in properties
    return FailedCheck(
        nodeid=report.nodeid, scenario=info.scenario, stage=info.stage, critical=info.critical,
        post_rollback=info.post_rollback, outcome=Outcome.INCONCLUSIVE.value if inconclusive else Outcome.FAIL.value,
        message=("worker crashed: " if crashed else "") + first_line(report),
        evidence=tuple(str(value) for key, value in properties if key == EVIDENCE_PROPERTY), crashed=crashed)


def first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    text = str(report.longrepr or "").strip()
    if hasattr(report.longrepr, "reprcrash") and getattr(report.longrepr, "reprcrash", None) is not None:
        text = str(report.longrepr.reprcrash.message)  # type: ignore[union-attr]
    return text.splitlines()[0][:300] if text else ""


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")


def interrupted_by_a_person(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """SIGTERM or Ctrl-C. pytest stops for collection errors with Session.Interrupted, and xdist's controller
    for -x with its own Interrupted: neither is one (a worker's Ctrl-C, which xdist also reports so, is)."""
    if excinfo.errisinstance(WorkersStopped):
        return str(excinfo.value).endswith("received keyboard-interrupt")
    return not excinfo.errisinstance(pytest.Session.Interrupted)
