"""Stop the line on a @critical failure, roll back what the release changed, once.

- Release scenarios run in stage order (preflight, backup, migrate, deploy, smoke, slo, load;
  file order within a stage), ``@post-rollback`` scenarios last.
- The first failure of a ``@critical`` scenario halts the release: every release scenario not
  yet started is skipped with "release halted: critical failure in <scenario>".
- The controller (the only process under xdist that sees every report) then decides: roll back
  (the journal's plan, newest change first, exactly once), or halt for a person (an INCONCLUSIVE
  critical result, unless ``rollback.on_inconclusive: rollback``), or do nothing (``--no-rollback``,
  ``rollback.enabled: false``, a dry run, or no stage had changed anything yet).
- ``@post-rollback`` scenarios run after a rollback and are skipped with "no rollback happened"
  otherwise; under xdist they wait for the controller's decision.
- SIGTERM and Ctrl-C roll back what had completed (unless ``--no-rollback``).
- ``--rollback-only`` runs the rollback plan of the last journal (a run that died), then any
  ``@post-rollback`` scenarios named on the command line.

Workers and the controller share the run through files beside the journal: ``<run>.halt``
(created once, atomically, by whoever sees the first critical failure) and ``<run>.items.json``
(the stage and tags of every collected scenario, written at collection, so that the controller
can classify a worker crash report, which carries no markers).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from releasegate.checks.result import Outcome
from releasegate.checks.run.journal import Journal, UndoStep
from releasegate.checks.run.notify import Delivery, Notifier
from releasegate.checks.run.rollback_plan import RollbackReport, execute_plan
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.evidence import EVIDENCE_PROPERTY, OUTCOME_PROPERTY
from releasegate.plugins.reporting import runs_features
from releasegate.plugins.safety import HALT_REQUEST_KEY, SAFETY_KEY, SafetyState
from releasegate.plugins.stages import ItemInfo, classify, has_stages, release_order

RUN_ID_INPUT = "releasegate_run_id"
POST_ROLLBACK_WAIT_S = 900.0


@dataclass(frozen=True)
class Halt:
    reason: str
    nodeid: str
    scenario: str
    kind: str  # "critical", "approval", "manual", "interrupted"


@dataclass
class FailedCheck:
    nodeid: str
    scenario: str
    stage: str | None
    critical: bool
    post_rollback: bool
    outcome: str
    message: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class Decision:
    """The controller's answer to the first critical failure (or an interrupt)."""

    action: str  # "rollback", "halt" (needs a person) or "none"
    reason: str


GUARD_KEY = pytest.StashKey["ReleaseGuard"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("releasegate")
    group.addoption("--no-rollback", action="store_true", dest="releasegate_no_rollback", default=False,
                    help="report critical failures and stop the release, but do not roll back")
    group.addoption("--rollback-only", action="store_true", dest="releasegate_rollback_only", default=False,
                    help="run the rollback plan of the last journal (a run that died), then @post-rollback checks")
    parser.addini("releasegate_journal_dir", "folder of run journals", default="reports/journal")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    guard = ReleaseGuard(config)
    config.stash[GUARD_KEY] = guard
    config.pluginmanager.register(guard, "releasegate-rollback")


def journal_dir(config: pytest.Config) -> Path:
    path = Path(str(config.getini("releasegate_journal_dir")))
    return path if path.is_absolute() else config.rootpath / path


class StageRecorder:
    """What a step uses to record the change it just made and the action that undoes it."""

    def __init__(self, journal: Journal | None, info: ItemInfo | None) -> None:
        self.journal = journal
        self.info = info
        self.recorded: list[dict[str, Any]] = []

    def stage_completed(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> None:
        """Record the change right after making it: a failure later in the scenario still undoes it.

        ``params`` go to the journal (redacted): pass names and references, never secrets.
        """
        stage_name = stage or (self.info.stage if self.info else None) or "unstaged"
        scenario = self.info.scenario if self.info else ""
        if self.journal is not None:
            self.recorded.append(self.journal.stage_completed(stage_name, action, params, scenario=scenario))
        else:
            self.recorded.append({"stage": stage_name, "undo": {"action": action, "params": params}})


@pytest.fixture
def release_journal(request: pytest.FixtureRequest) -> StageRecorder:
    """Record a stage's change with its undo action: ``release_journal.stage_completed(action, params)``."""
    guard = request.config.stash[GUARD_KEY]
    node = request.node
    info = guard.items.get(node.nodeid) or (classify(node) if isinstance(node, pytest.Item) else None)
    return StageRecorder(guard.journal, info)


class ReleaseGuard:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.safety: SafetyState = config.stash[SAFETY_KEY]
        self.runbook: Runbook | None = config.stash.get(RUNBOOK_KEY, None)
        self.no_rollback = bool(config.getoption("releasegate_no_rollback"))
        self.rollback_only = bool(config.getoption("releasegate_rollback_only"))
        self.items: dict[str, ItemInfo] = {}
        self.journal: Journal | None = None
        self.halt: Halt | None = None
        self.decision: Decision | None = None
        self.rollback: RollbackReport | None = None
        self.failed_checks: list[FailedCheck] = []
        self.pending_manual: list[str] = []
        self.post_rollback_ran: list[str] = []
        self.interrupted = False
        self.rolling_back = False
        self.finished: set[str] = set()
        self.release_done = False
        self.commands_recorded: set[str] = set()
        self.in_flight: set[str] = set()
        self.failed_nodeid: str | None = None
        self.pending_rollback: str | None = None
        self._previous_sigterm: Any = None
        self.notifier = self._notifier()
        if self.is_worker:
            run_id = self.config.workerinput.get(RUN_ID_INPUT)  # type: ignore[attr-defined]
            self.release_run = run_id is not None
            if run_id is not None:
                self.journal = Journal.open(journal_dir(config), str(run_id))
            return
        inspecting = bool(config.option.collectonly or config.option.help
                          or getattr(config.option, "list_steps", False))
        self.release_run = self.rollback_only or (runs_features(config) and not inspecting)
        if not self.release_run:
            return
        if self.rollback_only:
            self._prepare_rollback_only()
        else:
            self.journal = Journal.create(journal_dir(config), make_latest=not self.safety.dry_run)
            self.journal.append("run_started", **self.run_context(), dry_run=self.safety.dry_run,
                                no_rollback=self.no_rollback, args=list(config.invocation_params.args))
        self._install_sigterm()

    # ---- shared state -------------------------------------------------------------------

    def run_context(self) -> dict[str, Any]:
        selection = self.config.stash.get(SELECTION_KEY, None)
        approval = self.safety.approval
        return {
            "environment": selection.name if selection else None,
            "version_from": self.runbook.version_from if self.runbook else None,
            "version_to": self.runbook.version_to if self.runbook else None,
            "approver": approval.name if approval else None,
            "approval_source": approval.source if approval else None,
        }

    def _notifier(self) -> Notifier:
        settings = self.runbook.notifications if self.runbook else None
        if settings is None or self.is_worker:
            return Notifier(None)
        return Notifier(settings.webhook_url, timeout_s=settings.timeout_s, retries=settings.retries,
                        channel=settings.channel, on_result=self._notification_done)

    def _notification_done(self, delivery: Delivery) -> None:
        if self.journal is not None:
            self.journal.append("notification", text=delivery.text[:200], delivered=delivery.delivered,
                                attempts=delivery.attempts, error=delivery.error)

    def _prepare_rollback_only(self) -> None:
        if getattr(self.config.option, "dist", "no") != "no":
            raise pytest.UsageError("--rollback-only runs in one process; drop -n/--dist")
        if self.safety.require_approval and self.safety.approval is None:
            raise pytest.UsageError(
                f"runbook {self.runbook.name if self.runbook else '?'} has require_approval: true; --rollback-only"
                " changes the environment: pass --approve NAME or set RELEASEGATE_APPROVED_BY"
            )
        journal = Journal.latest(journal_dir(self.config))
        if journal is None:
            raise pytest.UsageError(f"--rollback-only: no journal in {journal_dir(self.config)}; nothing to roll back")
        self.journal = journal
        journal.append("rollback_only_started", **self.run_context())

    def info(self, nodeid: str) -> ItemInfo | None:
        """Stage and tags of a scenario, also of one collected by a worker (from the items file)."""
        if nodeid not in self.items and self.journal is not None:
            path = self.journal.sidecar(".items.json")
            with contextlib.suppress(OSError, json.JSONDecodeError):
                for data in json.loads(path.read_text(encoding="utf-8")):
                    info = ItemInfo.from_dict(data)
                    self.items.setdefault(info.nodeid, info)
        return self.items.get(nodeid)

    def current_halt(self) -> Halt | None:
        if self.halt is None and self.journal is not None:
            with contextlib.suppress(OSError, json.JSONDecodeError):
                data = json.loads(self.journal.sidecar(".halt").read_text(encoding="utf-8"))
                self.halt = Halt(**data)
        return self.halt

    def stop_the_line(self, halt: Halt) -> Halt:
        """Halt the release; the first halt of a run wins, also across processes."""
        existing = self.current_halt()
        if existing is not None or self.journal is None:
            self.halt = existing or halt
            return self.halt
        path = self.journal.sidecar(".halt")
        temporary = path.with_suffix(f".halt.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(halt.__dict__), encoding="utf-8")
        try:
            os.link(temporary, path)
            self.halt = halt
            self.journal.append("release_halted", reason=halt.reason, nodeid=halt.nodeid, scenario=halt.scenario,
                                kind=halt.kind)
        except FileExistsError:
            self.halt = None
            self.halt = self.current_halt() or halt
        finally:
            temporary.unlink(missing_ok=True)
        return self.halt

    # ---- collection (the process that collects: single process or each worker) ----------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if not self.release_run:
            return
        self.items = {item.nodeid: classify(item) for item in items}
        if has_stages(list(self.items.values())):
            items[:] = release_order(items, self.items)
        if self.rollback_only:
            kept = [item for item in items if self.items[item.nodeid].post_rollback]
            deselected = [item for item in items if not self.items[item.nodeid].post_rollback]
            if deselected:
                config.hook.pytest_deselected(items=deselected)
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Publish the final selection (after -k/-m) for the controller, which collects nothing under xdist."""
        if not self.release_run or self.journal is None:
            return
        self.items = {item.nodeid: self.items.get(item.nodeid) or classify(item) for item in session.items}
        path = self.journal.sidecar(".items.json")
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps([info.as_dict() for info in self.items.values()]), encoding="utf-8")
        os.replace(temporary, path)

    # ---- running a scenario (the process that runs it) ----------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.release_run:
            return
        info = self.items.get(item.nodeid) or classify(item)
        if info.post_rollback:
            self._gate_post_rollback()
            return
        if self.journal is not None:
            # written before the halt check: the controller, which writes the halt file before it reads
            # these, waits for every scenario that may have got past the check (see _roll_back_when_quiet)
            self.journal.append("scenario_started", nodeid=item.nodeid)
        halt = self.current_halt()
        if halt is not None:
            pytest.skip(halt.reason)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Record the runbook's rollback commands of a stage as soon as the stage begins changing things."""
        info = self.items.get(item.nodeid)
        if self.journal is None or self.runbook is None or info is None or info.stage is None or self.safety.dry_run:
            return
        if info.stage in self.commands_recorded:
            return
        self.commands_recorded.add(info.stage)
        for command in self.runbook.rollback.commands:
            if command.stage == info.stage:
                self.journal.stage_completed(info.stage, "command",
                                             {"run": command.run, "timeout_s": command.timeout_s, "cwd": command.cwd},
                                             scenario=info.scenario, recorded="when the stage began")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if not self.release_run or self.journal is None:
            return report
        info = self.items.get(item.nodeid) or classify(item)
        if report.failed and report.when in ("setup", "call") and not info.post_rollback:
            inconclusive = (OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value) in item.user_properties
            self.journal.append("check_failed", nodeid=item.nodeid, scenario=info.scenario, stage=info.stage,
                                critical=info.critical, outcome="INCONCLUSIVE" if inconclusive else "FAIL",
                                when=report.when, message=_first_line(report))
            if info.critical:
                self.stop_the_line(Halt(f"release halted: critical failure in {info.scenario}", item.nodeid,
                                        info.scenario, "critical"))
        request = item.stash.get(HALT_REQUEST_KEY, None)
        if request is not None and report.skipped:
            self.stop_the_line(Halt(request.reason, item.nodeid, info.scenario, request.kind))
        return report

    def _gate_post_rollback(self) -> None:
        if not self.is_worker:
            if self.rollback is not None and (self.rollback.ran or self.rollback_only):
                return
            pytest.skip("no rollback happened")
        assert self.journal is not None
        deadline = time.monotonic() + POST_ROLLBACK_WAIT_S
        while time.monotonic() < deadline:
            decision = self.journal.last("rollback_decision")
            if decision is not None:
                if decision.get("action") != "rollback":
                    pytest.skip("no rollback happened")
                if self.journal.last("rollback_finished") is not None:
                    return
            elif self.journal.last("release_done") is not None:
                halt = self.current_halt()
                if halt is None or halt.kind != "critical":  # only a critical failure leads to a decision
                    pytest.skip("no rollback happened")
            time.sleep(0.05)
        pytest.skip(f"no rollback happened: gave up after {POST_ROLLBACK_WAIT_S:.0f}s waiting for the release")

    # ---- the controller -----------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.journal is not None:
            node.workerinput[RUN_ID_INPUT] = self.journal.run_id

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.is_worker or not self.release_run or self.safety.dry_run:
            return
        context = self.run_context()
        verb = "rollback-only" if self.rollback_only else "release"
        self.notifier.send(f"releasegate: {verb} {context['version_from'] or '?'} -> {context['version_to'] or '?'}"
                           f" to {context['environment'] or '?'} started"
                           + (f" (approved by {context['approver']})" if context["approver"] else ""))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.rollback_only and not self.is_worker:
            self.decide(Decision("rollback", "--rollback-only"))
            self._roll_back_when_quiet(now=True)  # the dead run's scenarios will never finish

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker or not self.release_run:
            return
        info = self.info(report.nodeid)
        if info is None:
            return
        crashed = report.when not in ("setup", "call", "teardown")  # xdist reports a worker crash as "???"
        if report.failed and (report.when in ("setup", "call") or crashed):
            self._record_failure(report, info, crashed)
            if info.critical and not info.post_rollback and self.decision is None:
                inconclusive = (OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value) in report.user_properties
                self.on_critical_failure(info, inconclusive, crashed)
        elif report.skipped and report.when == "setup":
            reason = _skip_reason(report)
            if reason.startswith("pending manual confirmation") and info.scenario not in self.pending_manual:
                self.pending_manual.append(info.scenario)
        if info.post_rollback and report.when == "call" and report.passed:
            self.post_rollback_ran.append(info.scenario)
        if report.when == "teardown" or crashed:
            self.finished.add(report.nodeid)
            self.in_flight.discard(report.nodeid)
            self._roll_back_when_quiet()
            self._check_release_done()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self.is_worker or not self.release_run:
            return
        info = self.info(nodeid)
        if info is None or not info.post_rollback:
            self.in_flight.add(nodeid)

    def _record_failure(self, report: pytest.TestReport, info: ItemInfo, crashed: bool) -> None:
        inconclusive = (OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value) in report.user_properties
        evidence = [str(v) for k, v in report.user_properties if k == EVIDENCE_PROPERTY]
        self.failed_checks.append(FailedCheck(
            nodeid=report.nodeid, scenario=info.scenario, stage=info.stage, critical=info.critical,
            post_rollback=info.post_rollback, outcome="INCONCLUSIVE" if inconclusive else "FAIL",
            message=("worker crashed: " if crashed else "") + _first_line(report), evidence=evidence))

    def on_critical_failure(self, info: ItemInfo, inconclusive: bool, crashed: bool) -> None:
        cause = "worker crashed during" if crashed else "critical failure in"
        if crashed and self.journal is not None:
            self.journal.append("check_failed", nodeid=info.nodeid, scenario=info.scenario, stage=info.stage,
                                critical=True, outcome="FAIL", when="crash", message="worker crashed")
        self.stop_the_line(Halt(f"release halted: {cause} {info.scenario}", info.nodeid, info.scenario, "critical"))
        self.failed_nodeid = info.nodeid
        on_inconclusive = self.runbook.rollback.on_inconclusive if self.runbook else "halt"
        if self.safety.dry_run:
            decision = Decision("none", "dry run: nothing was changed")
        elif inconclusive and on_inconclusive != "rollback":
            decision = Decision("halt", f"inconclusive critical check in {info.scenario}: needs a person")
        elif self.no_rollback:
            decision = Decision("halt", f"critical failure in {info.scenario}; rollback disabled by --no-rollback")
        elif self.runbook is not None and not self.runbook.rollback.enabled:
            decision = Decision("halt", f"critical failure in {info.scenario}; rollback.enabled is false")
        else:
            decision = Decision("rollback", f"{cause} {info.scenario}")
        self.decide(decision)

    def decide(self, decision: Decision) -> None:
        assert self.journal is not None
        if decision.action == "rollback" and not self.journal.plan():
            decision = Decision("none", f"{decision.reason}; nothing to roll back: no stage had changed anything")
        self.decision = decision
        self.journal.append("rollback_decision", action=decision.action, reason=decision.reason)
        if decision.action == "rollback":
            self.pending_rollback = decision.reason
            self._roll_back_when_quiet()

    def _roll_back_when_quiet(self, *, now: bool = False) -> None:
        """Run the pending rollback once no other release scenario is running.

        Under xdist, scenarios already running on other workers when the line stopped may still
        make (and record) changes; the rollback waits for them so that it undoes those too.
        """
        if self.pending_rollback is None:
            return
        assert self.journal is not None
        started = {str(e.get("nodeid")) for e in self.journal.events("scenario_started")}
        busy = (started | self.in_flight) - self.finished - {self.failed_nodeid}
        if busy and not now:
            return
        trigger, self.pending_rollback = self.pending_rollback, None
        if not self.journal.plan():
            self.decision = Decision("none", f"{trigger}; nothing to roll back: no stage had changed anything")
            self.journal.append("rollback_decision", action="none", reason=self.decision.reason)
            return
        self.run_rollback(trigger)

    def run_rollback(self, trigger: str, *, retry_failed: bool = False) -> None:
        assert self.journal is not None

        def announce(plan: list[UndoStep]) -> None:
            context = self.run_context()
            self.notifier.send(f"releasegate: ROLLING BACK {context['environment'] or '?'} "
                               f"{context['version_to'] or '?'} -> {context['version_from'] or '?'}: {trigger};"
                               f" {len(plan)} action(s)")

        self.rolling_back = True
        previous_sigint = None
        with contextlib.suppress(ValueError):  # a Ctrl-C must not leave a rollback half done
            previous_sigint = signal.signal(signal.SIGINT, self._ignore_during_rollback)
        try:
            self.rollback = execute_plan(self.journal, trigger=trigger, retry_failed=retry_failed or self.rollback_only,
                                         on_start=announce, approver=self.safety.approver)
        finally:
            self.rolling_back = False
            if previous_sigint is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGINT, previous_sigint)
        self._check_release_done()

    def _ignore_during_rollback(self, signum: int, frame: FrameType | None) -> None:
        if self.journal is not None:
            self.journal.append("signal_ignored", signal=signal.Signals(signum).name, reason="rollback in progress")

    def _check_release_done(self) -> None:
        if self.release_done or self.journal is None or not self.items:
            return
        release = {nodeid for nodeid, info in self.items.items() if not info.post_rollback}
        if release <= self.finished and (self.decision is None or self.decision.action != "rollback"
                                         or self.rollback is not None):
            self.release_done = True
            self.journal.append("release_done", scenarios=len(release))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest stops for collection errors and -x by raising Session.Interrupted: not a person's interrupt
        if not excinfo.errisinstance(pytest.Session.Interrupted):
            self.interrupted = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or not self.release_run or self.journal is None:
            return
        self._roll_back_when_quiet(now=True)
        if self.interrupted and self.decision is None and not self.safety.dry_run:
            self.stop_the_line(Halt("release halted: run interrupted", "", "", "interrupted"))
            if self.no_rollback or (self.runbook is not None and not self.runbook.rollback.enabled):
                self.decide(Decision("halt", "run interrupted; rollback disabled"))
            else:
                self.decide(Decision("rollback", "run interrupted"))
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


def _first_line(report: pytest.TestReport) -> str:
    text = str(report.longrepr or "").strip()
    if hasattr(report.longrepr, "reprcrash") and getattr(report.longrepr, "reprcrash", None) is not None:
        text = str(report.longrepr.reprcrash.message)  # type: ignore[union-attr]
    return text.splitlines()[0][:300] if text else ""


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")
