"""The run's journal: one per release run, shared with the xdist workers; the ``release_journal`` fixture.

A release run is a run of .feature files (not --collect-only, --help or --list-steps), or
``--rollback-only``. Its journal (``checks.run.journal``) is ``config.stash[JOURNAL_KEY]``, None in
any other run:

- the controller picks the run id at configure (the workers get it through ``workerinput``, sent
  when xdist configures a node) but creates ``reports/journal/<run-id>.jsonl`` only once the run is
  known to start: its collection is over and
  clean (in one process at ``pytest_collection_finish``; under xdist when the first worker has
  collected without an error, before any scenario is scheduled). A run stopped by bad input (an
  option, the runbook, a collection error) leaves no journal and ``latest`` as it was; ``latest``
  names a run once it journals its first change, or at its sign-off (never a dry run's);
- ``--rollback-only`` resumes the newest journal of the environment with an unfinished rollback
  plan (``Journal.newest_unfinished``; ``--dry-run --rollback-only`` only reads it and writes its
  own) and warns, in one line, of a line of it cut off by a power loss;
- the runbook's rollback commands of a stage are recorded when a scenario of the stage begins;
- a step journals its change before making it: ``with release_journal.change(action, params) as
  change: ...`` (intent with the undo, ``change.update(params)`` as it goes, done or failed after),
  or ``release_journal.stage_completed(action, params)`` for a change made at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from releasegate.checks.run.changes import Change
from releasegate.checks.run.decision import ScenarioInfo
from releasegate.checks.run.journal import DeferredJournal, Journal
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.reporting import runs_features
from releasegate.plugins.safety import SAFETY_KEY
from releasegate.plugins.stages import ITEMS_SUFFIX, SCENARIOS_KEY

RUN_ID_INPUT = "releasegate_run_id"

JOURNAL_KEY = pytest.StashKey[Journal | None]()
DAMAGE_KEY = pytest.StashKey[str]()  # --rollback-only: the warning about the resumed journal's cut-off lines


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("releasegate_journal_dir", "folder of run journals", default="reports/journal")


def journal_dir(config: pytest.Config) -> Path:
    path = Path(str(config.getini("releasegate_journal_dir")))
    return path if path.is_absolute() else config.rootpath / path


def run_context(config: pytest.Config) -> dict[str, Any]:
    """Environment, versions and approver of the run, as the journal and the notifications name them."""
    selection = config.stash.get(SELECTION_KEY, None)
    runbook = config.stash.get(RUNBOOK_KEY, None)
    safety = config.stash.get(SAFETY_KEY, None)
    approval = safety.approval if safety else None
    return {
        "environment": selection.name if selection else None,
        "version_from": runbook.version_from if runbook else None,
        "version_to": runbook.version_to if runbook else None,
        "approver": approval.name if approval else None,
        "approval_source": approval.source if approval else None,
    }


# trylast: after the runbook, the approval and the --rollback-only checks (a refused run leaves no journal)
@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    journal = open_journal(config)
    config.stash[JOURNAL_KEY] = journal
    if journal is not None:
        config.stash[SCENARIOS_KEY].share_beside(journal)
        config.pluginmanager.register(JournalPlugin(config, journal), "releasegate-journal")


def journal_to_roll_back(config: pytest.Config) -> Journal:
    """The journal whose rollback ``--rollback-only`` finishes; a usage error when there is none."""
    directory = journal_dir(config)
    selection = config.stash.get(SELECTION_KEY, None)
    found = Journal.newest_unfinished(directory, environment=selection.name if selection else None)
    if found.journal is None:
        raise pytest.UsageError(f"--rollback-only: nothing to roll back: {found.why_none(directory)}")
    return found.journal


def open_journal(config: pytest.Config) -> Journal | None:
    if hasattr(config, "workerinput"):
        run_id = config.workerinput.get(RUN_ID_INPUT)
        return Journal.open(journal_dir(config), str(run_id)) if run_id is not None else None
    dry_run = config.stash.get(DRY_RUN_KEY, False)
    rollback_only = bool(config.getoption("releasegate_rollback_only", default=False))
    if rollback_only:
        journal = journal_to_roll_back(config)
        if not dry_run:
            damage, offsets = journal.describe_damage(), journal.damage()  # before this run appends anything
            journal.append("rollback_only_started", **run_context(config))
            if damage:
                journal.append("journal_damaged", offsets=offsets)
                config.stash[DAMAGE_KEY] = damage
            return journal
        # --dry-run: the rollback plugin only reads that journal to print its plan; this run keeps its own
    inspecting = config.option.collectonly or config.option.help or getattr(config.option, "list_steps", False)
    if inspecting or not (runs_features(config) or rollback_only):
        return None
    journal = DeferredJournal.reserve(journal_dir(config))
    journal.append("run_started", **run_context(config), dry_run=dry_run,
                   no_rollback=bool(config.getoption("releasegate_no_rollback", default=False)),
                   args=list(config.invocation_params.args))
    return journal


class JournalPlugin:
    def __init__(self, config: pytest.Config, journal: Journal) -> None:
        self.config = config
        self.journal = journal
        self.commands_recorded: set[str] = set()
        self.collection_failed = False  # on the xdist controller: a worker reported a collection error

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID_INPUT] = self.journal.run_id

    # ---- the journal is created when the run starts ----------------------------------------

    def start(self) -> None:
        if isinstance(self.journal, DeferredJournal) and not self.collection_failed and not self.journal.started:
            self.journal.start(make_latest=False)  # latest: once it changes something, or at its sign-off
            self.config.hook.pytest_releasegate_run_started(config=self.config)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        damage = self.config.stash.get(DAMAGE_KEY, "")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if damage and reporter is not None:
            reporter.write_line(damage, yellow=True)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # pytest stops a run with collection errors right after this (unless --continue-on-collection-errors)
        if session.testsfailed and not self.config.option.continue_on_collection_errors:
            self.collection_failed = True
        self.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # a worker's collection errors reach the controller before its collection_finished; no scenario is
        # scheduled before this hook returns for every worker
        self.start()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if not self.journal.started:  # what collection left for a run that never started
            self.journal.sidecar(ITEMS_SUFFIX).unlink(missing_ok=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Record the runbook's rollback commands of a stage as soon as the stage begins changing things."""
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        info = self.config.stash[SCENARIOS_KEY].get(item.nodeid)
        if runbook is None or info is None or info.stage is None or self.config.stash.get(DRY_RUN_KEY, False):
            return
        if info.stage in self.commands_recorded:
            return
        self.commands_recorded.add(info.stage)
        for command in runbook.rollback.commands:
            if command.stage == info.stage:
                # the runbook's template and the values apart: the command quotes them in when it runs
                values = {"version": runbook.release.version, "previous_version": runbook.release.previous_version}
                self.journal.stage_completed(info.stage, "command",
                                             {"run": command.run, "values": values, "timeout_s": command.timeout_s,
                                              "cwd": command.cwd},
                                             scenario=info.scenario, recorded="when the stage began")


class StageRecorder:
    """What a step uses to journal a change with the action that undoes it, before making it.

    ``with release_journal.change(action, params) as change: ...; change.update(params)`` writes
    the intent first, the progress, and done or failed after (``checks.run.changes.Change``);
    ``stage_completed(action, params)`` records a change made at once.
    """

    def __init__(self, journal: Journal | None, info: ScenarioInfo | None) -> None:
        self.journal = journal
        self.info = info
        self.recorded: list[dict[str, Any]] = []

    def _stage(self, stage: str | None) -> str:
        return stage or (self.info.stage if self.info else None) or "unstaged"

    def change(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> Change:
        """A change about to be made, journaled (intent and undo) when the block is entered.

        An exception inside the block marks it failed and made, unless the code set
        ``change.made = False`` or called ``change.fail(params, made=False)`` (nothing was changed).
        ``params`` go to the journal (redacted): pass names and references, never secrets.
        """
        return Change(self.journal, self._stage(stage), action, params,
                      scenario=self.info.scenario if self.info else "", sink=self.recorded)

    def stage_completed(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> None:
        """Record a change made at once: a failure later in the scenario still undoes it.

        ``params`` go to the journal (redacted): pass names and references, never secrets.
        """
        stage_name = self._stage(stage)
        scenario = self.info.scenario if self.info else ""
        if self.journal is not None:
            self.recorded.append(self.journal.stage_completed(stage_name, action, params, scenario=scenario))
        else:
            self.recorded.append({"stage": stage_name, "undo": {"action": action, "params": params}})


@pytest.fixture
def release_journal(request: pytest.FixtureRequest) -> StageRecorder:
    """Record a stage's change with its undo action: ``release_journal.stage_completed(action, params)``."""
    node = request.node
    info = request.config.stash[SCENARIOS_KEY].of(node) if isinstance(node, pytest.Item) else None
    return StageRecorder(request.config.stash.get(JOURNAL_KEY, None), info)
