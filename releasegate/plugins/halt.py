"""Stop the line: the first @critical failure halts the release in every process at once.

- The halt is ``<run>.halt`` beside the journal, created once, atomically, by whoever sees the
  first reason: a failed @critical release scenario, a worker that crashed during one (seen by the
  controller), a ``HaltRequest`` of the safety plugin (a refused approval, a pending critical manual
  item), an interrupt (the rollback plugin). The first halt of a run wins.
- Every release scenario not yet started is then skipped with the halt's reason, e.g.
  "release halted: critical failure in <scenario>".
- Every scenario's start (``scenario_started``; a @post-rollback one once its gate let it run) and
  how it ended (``scenario_finished``: PASS, FAIL, INCONCLUSIVE, SKIPPED and why, CRASHED) are
  journaled, so that the journal alone shows whether the post-rollback checks ran.
- Every failure of a release scenario is journaled (``check_failed``) by the process that ran it
  (by the controller for a worker crash); on the controller each critical one then fires
  ``pytest_releasegate_critical_failure``.
- ``@post-rollback`` scenarios run only after a rollback, and are skipped with "no rollback
  happened" otherwise; on an xdist worker they wait for the controller's decision in the journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Generator
from dataclasses import asdict

import pytest

from releasegate.checks.result import Outcome
from releasegate.checks.run.decision import Halt
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.rollback_plan import RollbackReport
from releasegate.plugins.journal import JOURNAL_KEY
from releasegate.plugins.outcomes import failed_check, skip_reason
from releasegate.plugins.safety import HALT_REQUEST_KEY
from releasegate.plugins.stages import SCENARIOS_KEY

HALT_SUFFIX = ".halt"
POST_ROLLBACK_WAIT_S = 900.0
NO_ROLLBACK_SKIP = "no rollback happened"


class HaltLine:
    """The run's halt, shared by every process through the halt file."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._halt: Halt | None = None

    @property
    def _journal(self) -> Journal | None:
        return self._config.stash.get(JOURNAL_KEY, None)

    def current(self) -> Halt | None:
        if self._halt is None and self._journal is not None:
            with contextlib.suppress(OSError, json.JSONDecodeError):
                data = json.loads(self._journal.sidecar(HALT_SUFFIX).read_text(encoding="utf-8"))
                self._halt = Halt(**data)
        return self._halt

    def stop(self, halt: Halt) -> Halt:
        """Halt the release unless it already is; returns the halt that won."""
        existing = self.current()
        journal = self._journal
        if existing is not None or journal is None or not journal.started:  # a run that never started: no file
            self._halt = existing or halt
            return self._halt
        path = journal.sidecar(HALT_SUFFIX)
        temporary = path.with_suffix(f".halt.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(halt)), encoding="utf-8")
        try:
            os.link(temporary, path)
            self._halt = halt
            journal.append("release_halted", reason=halt.reason, nodeid=halt.nodeid, scenario=halt.scenario,
                           kind=halt.kind)
        except FileExistsError:
            self._halt = self.current() or halt
        finally:
            temporary.unlink(missing_ok=True)
        return self._halt


HALT_LINE_KEY = pytest.StashKey[HaltLine]()


def pytest_configure(config: pytest.Config) -> None:
    line = HaltLine(config)
    config.stash[HALT_LINE_KEY] = line
    config.pluginmanager.register(StopTheLine(config, line), "releasegate-halt")


class StopTheLine:
    def __init__(self, config: pytest.Config, line: HaltLine) -> None:
        self.config = config
        self.line = line
        self.is_worker = hasattr(config, "workerinput")
        self.rolled_back = False  # on the controller: a rollback plan ran

    @property
    def journal(self) -> Journal | None:
        return self.config.stash.get(JOURNAL_KEY, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        journal = self.journal
        if journal is None:
            return
        if self.config.stash[SCENARIOS_KEY].of(item).post_rollback:
            try:
                self._gate_post_rollback(journal)
            finally:
                # past the gate only once the rollback finished (the rollback never waits for these), or skipped
                # by it: either way its start is journaled before how it ended
                journal.append("scenario_started", nodeid=item.nodeid, post_rollback=True)
            return
        # written before the halt check: the controller, which halts before it reads these, waits for every
        # scenario that may have got past the check before it rolls back
        journal.append("scenario_started", nodeid=item.nodeid)
        halt = self.line.current()
        if halt is not None:
            pytest.skip(halt.reason)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        journal = self.journal
        if journal is None:
            return report
        info = self.config.stash[SCENARIOS_KEY].of(item)
        failure = failed_check(report, info, item.user_properties)
        if failure is not None and not info.post_rollback:
            journal.append("check_failed", nodeid=item.nodeid, scenario=info.scenario, stage=info.stage,
                           critical=info.critical, outcome=failure.outcome, when=report.when, message=failure.message)
            if info.critical:
                self.line.stop(Halt(f"release halted: critical failure in {info.scenario}", item.nodeid,
                                    info.scenario, "critical"))
        request = item.stash.get(HALT_REQUEST_KEY, None)
        if request is not None and report.skipped:
            self.line.stop(Halt(request.reason, item.nodeid, info.scenario, request.kind))
        if report.when == "call" or (report.when == "setup" and not report.passed):
            reason = skip_reason(report) if report.skipped else (failure.message if failure else "")
            outcome = failure.outcome if failure else (Outcome.PASS.value if report.passed else "SKIPPED")
            journal.append("scenario_finished", nodeid=item.nodeid, scenario=info.scenario, stage=info.group,
                           outcome=outcome, reason=reason)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        journal = self.journal
        if self.is_worker or journal is None:
            return
        info = self.config.stash[SCENARIOS_KEY].get(report.nodeid)
        failure = failed_check(report, info) if info is not None else None
        if failure is None:
            return
        if failure.crashed and info is not None:  # the worker died before it could journal anything
            journal.append("scenario_finished", nodeid=failure.nodeid, scenario=failure.scenario, stage=info.group,
                           outcome="CRASHED", reason="worker crashed")
        if not failure.critical or failure.post_rollback:
            return
        cause = "critical failure in"
        if failure.crashed:
            cause = "worker crashed during"
            journal.append("check_failed", nodeid=failure.nodeid, scenario=failure.scenario, stage=failure.stage,
                           critical=True, outcome="FAIL", when="crash", message="worker crashed")
        self.line.stop(Halt(f"release halted: {cause} {failure.scenario}", failure.nodeid, failure.scenario,
                            "critical"))
        self.config.hook.pytest_releasegate_critical_failure(config=self.config, failure=failure)

    def pytest_releasegate_rollback_finished(self, config: pytest.Config, report: RollbackReport) -> None:
        self.rolled_back = report.ran or bool(config.getoption("releasegate_rollback_only", default=False))

    def _gate_post_rollback(self, journal: Journal) -> None:
        if not self.is_worker:
            if not self.rolled_back:
                pytest.skip(NO_ROLLBACK_SKIP)
            return
        deadline = time.monotonic() + POST_ROLLBACK_WAIT_S
        while time.monotonic() < deadline:
            decision = journal.last("rollback_decision")
            if decision is not None:
                if decision.get("action") != "rollback":
                    pytest.skip(NO_ROLLBACK_SKIP)
                if journal.last("rollback_finished") is not None:
                    return
            elif journal.last("release_done") is not None:
                halt = self.line.current()
                if halt is None or halt.kind != "critical":  # only a critical failure leads to a decision
                    pytest.skip(NO_ROLLBACK_SKIP)
            time.sleep(0.05)
        pytest.skip(f"{NO_ROLLBACK_SKIP}: gave up after {POST_ROLLBACK_WAIT_S:.0f}s waiting for the release")
