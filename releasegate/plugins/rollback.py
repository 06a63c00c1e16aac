"""Roll back what the release changed, once, on the controller (the only process that sees every report).

- On the first critical failure (``pytest_releasegate_critical_failure``, after the halt plugin
  stopped the line) the controller asks ``checks.run.decision.decide_rollback``: roll back (the
  journal's plan, newest change first, exactly once), halt for a person (an INCONCLUSIVE critical
  result unless ``rollback.on_inconclusive: rollback``, ``--no-rollback``, ``rollback.enabled:
  false``), or nothing (a dry run, or no stage had changed anything yet).
- Under xdist the rollback waits for the scenarios already running on other workers when the line
  stopped, so that it also undoes the changes they record.
- SIGTERM and Ctrl-C roll back what had completed (unless ``--no-rollback``); a signal during the
  rollback is journaled and ignored.
- ``--rollback-only`` runs the rollback plan of the last journal (a run that died), then any
  ``@post-rollback`` scenarios named on the command line. With ``--dry-run`` it prints that plan
  (what would run, newest first, and what is already done) and runs nothing: the decision is
  "none" and the dead run's journal is only read.

Hooks fired: ``pytest_releasegate_rollback_decided``, ``_rollback_started``, ``_rollback_finished``.
"""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
from typing import Any

import pytest

from releasegate.checks.run import decision
from releasegate.checks.run.decision import FailedCheck, Halt, RollbackDecision, RollbackPolicy, Trigger
from releasegate.checks.run.journal import Journal, UndoStep
from releasegate.checks.run.rollback_plan import RollbackReport, describe_action, execute_plan, pending_plan
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY, journal_to_roll_back
from releasegate.plugins.lock import LOCK_KEY
from releasegate.plugins.outcomes import interrupted_by_a_person, is_crash
from releasegate.plugins.safety import SAFETY_KEY
from releasegate.plugins.stages import SCENARIOS_KEY


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("releasegate")
    group.addoption("--no-rollback", action="store_true", dest="releasegate_no_rollback", default=False,
                    help="report critical failures and stop the release, but do not roll back")
    group.addoption("--rollback-only", action="store_true", dest="releasegate_rollback_only", default=False,
                    help="run the rollback plan of the last journal (a run that died), then @post-rollback checks")


# tryfirst: a bad --rollback-only invocation is refused before approval and journal are looked at
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    rollback_only = bool(config.getoption("releasegate_rollback_only"))
    if rollback_only and getattr(config.option, "dist", "no") != "no":
        raise pytest.UsageError("--rollback-only runs in one process; drop -n/--dist")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(RollbackController(config, rollback_only), "releasegate-rollback")


class RollbackController:
    """The rollback of one release run; inactive until the journal plugin has opened the run's journal."""

    def __init__(self, config: pytest.Config, rollback_only: bool) -> None:
        self.config = config
        self.rollback_only = rollback_only
        self.decision: RollbackDecision | None = None
        self.pending: str | None = None  # the reason of a rollback waiting for the running scenarios
        self.failed_nodeid: str | None = None
        self.rollback: RollbackReport | None = None
        self.in_flight: set[str] = set()
        self.finished: set[str] = set()
        self.release_done = False
        self.interrupted = False
        self.rolling_back = False
        self._previous_sigterm: Any = None

    @property
    def journal(self) -> Journal | None:
        return self.config.stash.get(JOURNAL_KEY, None)

    def policy(self) -> RollbackPolicy:
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        return RollbackPolicy(
            dry_run=self.config.stash.get(DRY_RUN_KEY, False),
            no_rollback=bool(self.config.getoption("releasegate_no_rollback")),
            enabled=runbook.rollback.enabled if runbook else True,
            on_inconclusive=runbook.rollback.on_inconclusive if runbook else "halt",
        )

    # ---- collecting and running -----------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.journal is not None:
            self._install_sigterm()

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.rollback_only:
            return
        table = config.stash[SCENARIOS_KEY]
        deselected = [item for item in items if not table.of(item).post_rollback]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if table.of(item).post_rollback]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.rollback_only and self.journal is not None:
            blocked = self.config.stash[LOCK_KEY].blocked
            if blocked is not None:  # another run holds the environment's lock: run nothing
                self._record(RollbackDecision(decision.NONE, blocked))
                return
            if self.config.stash.get(DRY_RUN_KEY, False):
                self._print_lines(dry_run_rollback_plan(journal_to_roll_back(self.config)))
            self.decide(decision.RollbackOnly())  # under --dry-run the policy answers "none"
            self._roll_back_when_quiet(now=True)  # the dead run's scenarios will never finish

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self.journal is None:
            return
        info = self.config.stash[SCENARIOS_KEY].get(nodeid)
        if info is None or not info.post_rollback:
            self.in_flight.add(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.journal is None or self.config.stash[SCENARIOS_KEY].get(report.nodeid) is None:
            return
        if report.when == "teardown" or is_crash(report):
            self.finished.add(report.nodeid)
            self.in_flight.discard(report.nodeid)
            self._roll_back_when_quiet()
            self._check_release_done()

    def pytest_releasegate_critical_failure(self, config: pytest.Config, failure: FailedCheck) -> None:
        if self.decision is None and self.journal is not None:
            self.failed_nodeid = failure.nodeid
            self.decide(failure)

    # ---- deciding and rolling back --------------------------------------------------------

    def decide(self, trigger: Trigger) -> None:
        assert self.journal is not None
        self._record(decision.decide_rollback(trigger, self.policy(), has_changes=bool(self.journal.plan())))
        if self.decision is not None and self.decision.action == decision.ROLLBACK:
            self.pending = self.decision.reason
            self._roll_back_when_quiet()

    def _record(self, answer: RollbackDecision) -> None:
        assert self.journal is not None
        self.decision = answer
        self.journal.append("rollback_decision", action=answer.action, reason=answer.reason)
        self.config.hook.pytest_releasegate_rollback_decided(config=self.config, decision=answer)

    def _roll_back_when_quiet(self, *, now: bool = False) -> None:
        """Run the pending rollback once no other release scenario is running (or ``now``)."""
        journal = self.journal
        if self.pending is None or journal is None:
            return
        started = {str(e.get("nodeid")) for e in journal.events("scenario_started")}
        busy = (started | self.in_flight) - self.finished - {self.failed_nodeid}
        if busy and not now:
            return
        trigger, self.pending = self.pending, None
        settled = decision.settle_rollback(RollbackDecision(decision.ROLLBACK, trigger),
                                           has_changes=bool(journal.plan()))
        if settled.action != decision.ROLLBACK:
            self._record(settled)
            return
        self._run_plan(journal, trigger)

    def _run_plan(self, journal: Journal, trigger: str) -> None:
        def announce(plan: list[UndoStep]) -> None:
            self.config.hook.pytest_releasegate_rollback_started(config=self.config, trigger=trigger, plan=plan)

        self.rolling_back = True
        previous_sigint = None
        with contextlib.suppress(ValueError):  # a Ctrl-C must not leave a rollback half done
            previous_sigint = signal.signal(signal.SIGINT, self._ignore_during_rollback)
        try:
            self.rollback = execute_plan(journal, trigger=trigger, retry_failed=self.rollback_only, on_start=announce,
                                         approver=self.config.stash[SAFETY_KEY].approver)
        finally:
            self.rolling_back = False
            if previous_sigint is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGINT, previous_sigint)
        self.config.hook.pytest_releasegate_rollback_finished(config=self.config, report=self.rollback)
        self._check_release_done()

    def _print_lines(self, lines: list[str]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in lines:
                reporter.write_line(line)

    def _ignore_during_rollback(self, signum: int, frame: FrameType | None) -> None:
        if self.journal is not None:
            self.journal.append("signal_ignored", signal=signal.Signals(signum).name, reason="rollback in progress")

    def _check_release_done(self) -> None:
        """Tell waiting @post-rollback scenarios on the workers that no decision is coming any more."""
        journal = self.journal
        scenarios = self.config.stash[SCENARIOS_KEY].all()
        if self.release_done or journal is None or not scenarios:
            return
        release = {info.nodeid for info in scenarios if not info.post_rollback}
        if release <= self.finished and (self.decision is None or self.decision.action != decision.ROLLBACK
                                         or self.rollback is not None):
            self.release_done = True
            journal.append("release_done", scenarios=len(release))

    # ---- interrupts -----------------------------------------------------------------------

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if interrupted_by_a_person(excinfo):
            self.interrupted = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.journal is None:
            return
        self._roll_back_when_quiet(now=True)
        if self.interrupted and self.decision is None and not self.config.stash.get(DRY_RUN_KEY, False):
            self.config.stash[HALT_LINE_KEY].stop(Halt("release halted: run interrupted", "", "", "interrupted"))
            self.decide(decision.Interrupted())
            self._roll_back_when_quiet(now=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def _install_sigterm(self) -> None:
        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.rolling_back:  # finish the rollback; the run ends right after it
                self._ignore_during_rollback(signum, frame)
                return
            raise KeyboardInterrupt("SIGTERM")

        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)


def dry_run_rollback_plan(journal: Journal) -> list[str]:
    """What ``--rollback-only`` would do with this journal, as text lines; reads the journal only."""
    pending = pending_plan(journal, retry_failed=True)
    lines = ["", "=" * 12 + f" releasegate dry run: the rollback plan of run {journal.run_id} " + "=" * 12]
    if pending.finished is not None:
        lines.append(f"nothing would run: {pending.finished_reason}")
    elif not pending.steps:
        lines.append("nothing would run: no stage had changed anything")
    else:
        lines.append("--rollback-only would run, newest first (nothing runs now):")
        for step in pending.steps:
            status = "already done" if step.key in pending.done else "would run"
            lines.append(f"  - {status}: {step.describe()} - {describe_action(step.action)}")
    return [*lines, "=" * 71]
