"""What a release run did, gathered on the controller from every report (also the workers').

Per stage: how many scenarios were selected, ran (their steps ran), passed, failed, were skipped and
were left out by the selection; every failed check with its evidence; the pending manual items; the
@post-rollback checks that passed; every scenario of the collected feature files that did not run its
steps to the end, and why (deselected, skipped, never finished); collection, internal and teardown errors
(under xdist a worker's collection error reaches the controller as a report, not as a collection); the rollback
decision and report (from the rollback plugin's hooks); the rollback plugin's built-in checks of a
rollback no @post-rollback scenario verified (``VERIFICATION_KEY``: each a post-rollback check that
passed or failed, named "built-in: ..."); the halt. When the run is over (after any rollback and its
verification) the ``RunSummary`` is ``config.stash[SUMMARY_KEY]`` and ``pytest_releasegate_run_summary``
hands it to the sign-off.
"""

from __future__ import annotations

from collections import Counter

import pytest

from releasegate.checks.run.decision import (
    DESELECTED,
    NO_STAGE,
    POST_ROLLBACK,
    SKIPPED,
    STAGES,
    UNFINISHED,
    FailedCheck,
    NotRun,
    RollbackDecision,
    RunSummary,
    StageCounts,
)
from releasegate.checks.run.rollback_plan import RollbackReport
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY
from releasegate.plugins.outcomes import failed_check, first_line, interrupted_by_a_person, skip_reason
from releasegate.plugins.rollback import VERIFICATION_KEY, VERIFY_NODE
from releasegate.plugins.safety import PENDING_SKIP
from releasegate.plugins.stages import SCENARIOS_KEY

SUMMARY_KEY = pytest.StashKey[RunSummary]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(RunRecorder(config), "releasegate-summary")


class RunRecorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.counts: dict[str, Counter[str]] = {}
        self.failures: list[FailedCheck] = []
        self.pending_manual: list[str] = []
        self.post_rollback_passed: list[str] = []
        self.ended: set[str] = set()  # node ids of the scenarios that reported how they ended
        self.skipped: dict[str, str] = {}  # node id -> why, for skips other than a pending manual item
        self.collection_errors: dict[str, str] = {}
        self.internal_errors: list[str] = []
        self.teardown_errors: list[str] = []
        self.decision: RollbackDecision | None = None
        self.rollback: RollbackReport | None = None
        self.interrupted = False

    @property
    def recording(self) -> bool:
        return self.config.stash.get(JOURNAL_KEY, None) is not None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.recording and report.failed:
            line = first_line(report)
            self.collection_errors.setdefault(
                report.nodeid, line if line.startswith(report.nodeid) else f"{report.nodeid}: {line}")

    def pytest_internalerror(self, excrepr: object, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.recording:
            # xdist re-raises a worker's error as `assert False, <its traceback>`: the traceback's last line
            # names the error; lines starting "assert " are the explanation pytest's assertion rewriting adds
            lines = [line for line in str(excinfo.value).splitlines()
                     if line.strip() and not line.startswith("assert ")]
            line = lines[-1].strip() if lines else ""
            self.internal_errors.append((line if ": " in line else f"{excinfo.typename}: {line}".rstrip(": "))[:300])

    def pytest_runtest_logreport(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not self.recording:
            return
        if isinstance(report, pytest.CollectReport):  # a worker's collection error, re-fired by xdist
            self.pytest_collectreport(report)
            return
        info = self.config.stash[SCENARIOS_KEY].get(report.nodeid)
        if info is None:
            return
        counts = self.counts.setdefault(info.group, Counter())
        failure = failed_check(report, info)
        if report.when == "teardown" and report.failed:
            self.teardown_errors.append(f"{info.scenario}: {first_line(report)}")
        elif failure is not None:
            self.failures.append(failure)
            self.ended.add(report.nodeid)
            counts.update(failed=1, ran=int(failure.crashed or report.when == "call"))
        elif report.skipped and report.when in ("setup", "call"):
            self.ended.add(report.nodeid)
            counts.update(skipped=1)
            wasxfail = getattr(report, "wasxfail", None)
            reason = skip_reason(report) if wasxfail is None else f"expected to fail (xfail) {wasxfail}".strip()
            if report.when == "setup" and reason.startswith(PENDING_SKIP):
                if info.scenario not in self.pending_manual:
                    self.pending_manual.append(info.scenario)
            else:
                self.skipped[report.nodeid] = reason
        elif report.passed and report.when == "call":
            self.ended.add(report.nodeid)
            counts.update(ran=1, passed=1)
            if info.post_rollback:
                self.post_rollback_passed.append(info.scenario)

    def pytest_releasegate_rollback_decided(self, config: pytest.Config, decision: RollbackDecision) -> None:
        self.decision = decision

    def pytest_releasegate_rollback_finished(self, config: pytest.Config, report: RollbackReport) -> None:
        self.rollback = report

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if interrupted_by_a_person(excinfo):
            self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        journal = config.stash.get(JOURNAL_KEY, None)
        if journal is None:
            return
        table = config.stash[SCENARIOS_KEY]
        selected, unselected = table.all(), table.unselected()
        not_run = [NotRun(info.scenario, info.group, DESELECTED) for info in unselected]
        not_run += [NotRun(info.scenario, info.group, SKIPPED, self.skipped[info.nodeid])
                    for info in selected if info.nodeid in self.skipped]
        not_run += [NotRun(info.scenario, info.group, UNFINISHED) for info in selected if info.nodeid not in self.ended]
        collected = Counter(info.group for info in selected)
        deselected = Counter(info.group for info in unselected)
        groups = [group for group in (*STAGES, NO_STAGE, POST_ROLLBACK)
                  if group in collected or group in deselected or group in self.counts]
        stages = {group: StageCounts(collected=collected[group], deselected=deselected[group],
                                     **self.counts.get(group, Counter()))
                  for group in groups}
        for result in config.stash.get(VERIFICATION_KEY, []):
            name = f"built-in: {result.name}"
            if result.passed:
                self.post_rollback_passed.append(name)
            else:
                self.failures.append(FailedCheck(VERIFY_NODE + result.name, name, None, critical=True,
                                                 post_rollback=True, outcome=result.outcome.value,
                                                 message=result.summary()))
        summary = RunSummary(
            stages=stages, failures=tuple(self.failures), pending_manual=tuple(self.pending_manual),
            post_rollback_passed=tuple(self.post_rollback_passed), not_run=tuple(not_run),
            collection_errors=tuple(self.collection_errors.values()), internal_errors=tuple(self.internal_errors),
            teardown_errors=tuple(self.teardown_errors),
            halt=config.stash[HALT_LINE_KEY].current(),
            decision=self.decision, rollback=self.rollback, changed=bool(journal.plan()),
            dry_run=config.stash.get(DRY_RUN_KEY, False),
            rollback_only=bool(config.getoption("releasegate_rollback_only", default=False)),
            interrupted=self.interrupted, pytest_status=int(session.exitstatus))
        config.stash[SUMMARY_KEY] = summary
        config.hook.pytest_releasegate_run_summary(session=session, summary=summary)
