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
- ``--rollback-only`` runs the rollback plan of the newest unfinished journal of the environment
  (a run that died), then any ``@post-rollback`` scenarios named on the command line. With
  ``--dry-run`` it prints that plan (what would run, newest first, and what is already done) and
  runs nothing: the decision is "none" and the dead run's journal is only read.
- A rollback is verified before the session ends: the collected ``@post-rollback`` scenarios that
  did not run yet (after an interrupt or ``-x`` stopped the loop) run right after the plan, in this
  process; when none ran (none collected, ``--rollback-only`` without a feature, or under xdist,
  whose workers are gone), the runbook's built-in checks run instead (``builtin_verification``:
  the previous version serves on the deploy target, the schema is at the revision recorded before
  the release, no row recorded before it is lost). Their results are ``VERIFICATION_KEY``; the
  verdict counts them as post-rollback checks. A signal during the verification is ignored too.

Hooks fired: ``pytest_releasegate_rollback_decided``, ``_rollback_started``, ``_rollback_finished``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from releasegate.checks import secrets
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.stage import DatabaseStage
from releasegate.checks.deploy import observe
from releasegate.checks.deploy.targets.base import get_target
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult
from releasegate.checks.run import decision
from releasegate.checks.run.decision import FailedCheck, Halt, RollbackDecision, RollbackPolicy, Trigger
from releasegate.checks.run.journal import Journal, UndoStep
from releasegate.checks.run.rollback_plan import RollbackReport, describe_action, execute_plan, pending_plan
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.runbook.options import project_dir
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY, StageRecorder, journal_to_roll_back
from releasegate.plugins.lock import LOCK_KEY
from releasegate.plugins.outcomes import interrupted_by_a_person, is_crash
from releasegate.plugins.safety import SAFETY_KEY
from releasegate.plugins.stages import SCENARIOS_KEY

VERIFICATION_KEY = pytest.StashKey[list[CheckResult]]()  # the built-in checks run after a rollback
VERIFY_NODE = "releasegate::verify-rollback::"  # the journal's node id of a built-in check


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
        self.keyboard_interrupt = False  # any KeyboardInterrupt, also pytest's own (it stops output capturing)
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
        started = {str(e.get("nodeid")) for e in journal.events("scenario_started") if not e.get("post_rollback")}
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

        with self._shielded():
            self.rollback = execute_plan(journal, trigger=trigger, retry_failed=self.rollback_only, on_start=announce,
                                         approver=self.config.stash[SAFETY_KEY].approver)
        self.config.hook.pytest_releasegate_rollback_finished(config=self.config, report=self.rollback)
        self._check_release_done()

    @contextlib.contextmanager
    def _shielded(self) -> Iterator[None]:
        """SIGTERM and Ctrl-C are journaled and ignored: a rollback and its verification are never left half done."""
        self.rolling_back = True
        previous_sigint = None
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous_sigint = signal.signal(signal.SIGINT, self._ignore_during_rollback)
        try:
            yield
        finally:
            self.rolling_back = False
            if previous_sigint is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGINT, previous_sigint)

    # ---- verifying the rollback before the session ends -----------------------------------

    def _verify(self, session: pytest.Session) -> None:
        journal = self.journal
        if journal is None or self.rollback is None or not self.rollback.ran:
            return
        with self._shielded():
            if self._run_post_rollback_items(session):
                return
            results = builtin_verification(self.config.stash.get(RUNBOOK_KEY, None), journal)
            self.config.stash[VERIFICATION_KEY] = results
            lines = ["", "=" * 12 + " releasegate: verifying the rollback (no @post-rollback scenario ran) " + "=" * 12]
            for result in results:
                nodeid = VERIFY_NODE + result.name
                journal.append("scenario_started", nodeid=nodeid, post_rollback=True)
                journal.append("scenario_finished", nodeid=nodeid, scenario=f"built-in: {result.name}",
                               stage=decision.POST_ROLLBACK, outcome=result.outcome.value,
                               reason="" if result.passed else result.summary())
                lines.append(secrets.redact(result.summary()))
            if not results:
                lines.append("nothing to check: the runbook has no deploy target and the run did not touch a database")
            self._print_lines(lines)

    def _run_post_rollback_items(self, session: pytest.Session) -> bool:
        """Run the collected @post-rollback scenarios the loop did not reach; True when any ran after the rollback."""
        table = self.config.stash[SCENARIOS_KEY]
        checks = [item for item in session.items if table.of(item).post_rollback]
        waiting = [item for item in checks if item.nodeid not in self.finished]
        if waiting:
            capture = self.config.pluginmanager.getplugin("capturemanager")
            if self.keyboard_interrupt and capture is not None:
                # pytest stops capturing on an interrupt; capture again, suspended between scenarios as usual
                capture.start_global_capturing()
                capture.suspend_global_capture(in_=False)
            # an interrupt leaves the interrupted scenario's fixtures set up: tear them down as the next
            # item's setup would (pytest has no public call for it)
            try:
                session._setupstate.teardown_exact(waiting[0])
            except Exception as exc:  # its teardown failing must not keep the rollback unverified
                self._print_lines([f"teardown of the interrupted scenario failed: {secrets.redact(str(exc))}"])
            for index, item in enumerate(waiting):
                nextitem = waiting[index + 1] if index + 1 < len(waiting) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        # under xdist the controller has no items: the workers' @post-rollback scenarios are known by node id
        return any(info.post_rollback and info.nodeid in self.finished for info in table.all())

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
        self.keyboard_interrupt = True
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
        self._verify(session)

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


def builtin_verification(runbook: Runbook | None, journal: Journal) -> list[CheckResult]:
    """The runbook's own checks that a rollback brought the previous state back (the library's checks).

    - every service serves the previous version on the deploy target (when the runbook has one): the
      ``version_from`` the run journaled, else the runbook's;
    - when the run kept a database state (it took a backup, a fingerprint or migrated): the schema is
      at the revision recorded before the release, and no row of the fingerprint recorded before it is
      lost (each INCONCLUSIVE when the run did not record what it needs).
    """
    if runbook is None:
        return []
    results: list[CheckResult] = []
    started = journal.first("run_started") or {}
    previous = started.get("version_from") or runbook.version_from
    if runbook.targets and runbook.services:
        results += _previous_version_serves(runbook, None if previous is None else str(previous))
    state_file = dbstate.state_file_for(journal, journal.path.parent)
    if runbook.database is not None and state_file.is_file():
        stage = DatabaseStage(runbook.name, runbook.database, project_dir(runbook.path), state_file,
                              StageRecorder(journal, None), runbook_path=runbook.path, version=runbook.version_to)
        results += [observe.guarded("schema version before the release", stage.check_version_before_release),
                    observe.guarded("no data written before the release is lost", stage.check_nothing_lost)]
    return results


def _previous_version_serves(runbook: Runbook, previous: str | None) -> list[CheckResult]:
    if previous is None:
        return [CheckResult.unknown(f"{service.name} serves the previous version",
                                    "no previous version: set release.previous_version", "the previous version")
                for service in runbook.services]
    spec = runbook.target()
    try:
        target = get_target(spec, runbook)
    except ReleaseGateError as exc:
        return [CheckResult.unknown(f"target {spec.name}", str(exc), f"{previous} serves")]
    try:
        return [observe.serves(target, service.name, previous) for service in runbook.services]
    finally:
        target.close()
