"""What a release run did, gathered on the controller from every report (also the workers').

Per stage: how many scenarios were collected, ran (their steps ran), passed, failed and were
skipped; every failed check with its evidence; the pending manual items; the @post-rollback
checks that passed; the rollback decision and report (from the rollback plugin's hooks); the
halt. When the run is over (after any rollback) the ``RunSummary`` is ``config.stash[SUMMARY_KEY]``
and ``pytest_releasegate_run_summary`` hands it to the sign-off.
"""

from __future__ import annotations

from collections import Counter

import pytest

from releasegate.checks.run.decision import (
    NO_STAGE,
    POST_ROLLBACK,
    STAGES,
    FailedCheck,
    RollbackDecision,
    RunSummary,
    StageCounts,
)
from releasegate.checks.run.rollback_plan import RollbackReport
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY
from releasegate.plugins.outcomes import failed_check, interrupted_by_a_person, skip_reason
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
        self.decision: RollbackDecision | None = None
        self.rollback: RollbackReport | None = None
        self.interrupted = False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.config.stash.get(JOURNAL_KEY, None) is None:
            return
        info = self.config.stash[SCENARIOS_KEY].get(report.nodeid)
        if info is None:
            return
        counts = self.counts.setdefault(info.group, Counter())
        failure = failed_check(report, info)
        if failure is not None:
            self.failures.append(failure)
            counts.update(failed=1, ran=int(failure.crashed or report.when == "call"))
        elif report.skipped and report.when in ("setup", "call"):
            counts.update(skipped=1)
            if report.when == "setup" and skip_reason(report).startswith(PENDING_SKIP) \
                    and info.scenario not in self.pending_manual:
                self.pending_manual.append(info.scenario)
        elif report.passed and report.when == "call":
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
        collected = Counter(info.group for info in config.stash[SCENARIOS_KEY].all())
        groups = [group for group in (*STAGES, NO_STAGE, POST_ROLLBACK) if group in collected or group in self.counts]
        stages = {group: StageCounts(collected=collected[group], **self.counts.get(group, Counter()))
                  for group in groups}
        summary = RunSummary(
            stages=stages, failures=tuple(self.failures), pending_manual=tuple(self.pending_manual),
            post_rollback_passed=tuple(self.post_rollback_passed), halt=config.stash[HALT_LINE_KEY].current(),
            decision=self.decision, rollback=self.rollback, changed=bool(journal.plan()),
            dry_run=config.stash.get(DRY_RUN_KEY, False),
            rollback_only=bool(config.getoption("releasegate_rollback_only", default=False)),
            interrupted=self.interrupted, pytest_status=int(session.exitstatus))
        config.stash[SUMMARY_KEY] = summary
        config.hook.pytest_releasegate_run_summary(session=session, summary=summary)
