"""Release safety: --dry-run, approval of destructive stages, confirmations of @manual items.

- ``--dry-run`` prints the plan (stages, scenarios, the resolved runbook with secrets masked, what
  each rollback action would do), runs only read-only scenarios (``@preflight``, ``@manual``, or
  scenarios whose every step is marked with ``@read_only``) and skips the rest with "dry run".
- A runbook with ``require_approval: true`` refuses destructive scenarios (``@backup @migrate
  @deploy @destructive``) and ``--rollback-only`` unless ``--approve NAME`` or the environment
  variable ``RELEASEGATE_APPROVED_BY`` (set by a CI approval job) names the approver; a refusal
  halts the release.
- ``@manual`` scenarios run only with a recorded confirmation (``--confirmations FILE``, the
  runbook's ``confirmations_file`` or ``--confirm "ITEM=NAME"``); otherwise they are skipped as
  "pending manual confirmation" and listed in the sign-off. A pending ``@critical`` manual item
  halts the release.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from pytest_bdd.scenario import scenario_wrapper_template_registry

from releasegate.checks import secrets
from releasegate.checks.errors import ConfigError
from releasegate.checks.run.confirmations import Confirmation, Confirmations
from releasegate.checks.run.rollback_plan import describe_action, registered_actions
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.collection import _matches, _rendered_steps, _step_definitions
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.evidence import EVIDENCE_PROPERTY
from releasegate.plugins.stages import ItemInfo, classify, release_order

APPROVAL_ENV = "RELEASEGATE_APPROVED_BY"
READ_ONLY_ATTRIBUTE = "releasegate_read_only"
DRY_RUN_SKIP = "dry run"
PENDING_SKIP = "pending manual confirmation"
APPROVAL_SKIP = "approval required"

F = TypeVar("F", bound=Callable[..., Any])


def read_only(step: F) -> F:
    """Mark a step function as read-only: scenarios made only of such steps run in --dry-run."""
    setattr(step, READ_ONLY_ATTRIBUTE, True)
    return step


@dataclass(frozen=True)
class Approval:
    name: str
    source: str


@dataclass(frozen=True)
class HaltRequest:
    """Asked by this plugin, carried out by the rollback plugin: stop the release here."""

    reason: str
    kind: str  # "approval" or "manual"


@dataclass
class SafetyState:
    dry_run: bool
    approval: Approval | None
    require_approval: bool
    confirmations: Confirmations
    confirmed: dict[str, Confirmation] = field(default_factory=dict)

    @property
    def approver(self) -> str | None:
        return self.approval.name if self.approval else None


SAFETY_KEY = pytest.StashKey[SafetyState]()
HALT_REQUEST_KEY = pytest.StashKey[HaltRequest]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("releasegate")
    group.addoption("--dry-run", action="store_true", dest="releasegate_dry_run", default=False,
                    help="print the plan and run only read-only checks; change nothing")
    group.addoption("--approve", action="store", dest="releasegate_approve", default=None, metavar="NAME",
                    help=f"approve destructive stages on a require_approval runbook (also {APPROVAL_ENV})")
    group.addoption("--confirmations", action="store", dest="releasegate_confirmations", default=None,
                    metavar="FILE", help="YAML file of manual confirmations (item, by, at)")
    group.addoption("--confirm", action="append", dest="releasegate_confirm", default=[], metavar="ITEM=NAME",
                    help="confirm one @manual item by name (repeatable)")


def approval_from(config: pytest.Config) -> Approval | None:
    name = config.getoption("releasegate_approve")
    if name:
        return Approval(str(name), "--approve")
    from_env = os.environ.get(APPROVAL_ENV, "").strip()
    return Approval(from_env, APPROVAL_ENV) if from_env else None


def load_confirmations(config: pytest.Config, runbook: Runbook | None) -> Confirmations:
    confirmations = Confirmations()
    file_option = config.getoption("releasegate_confirmations")
    path = Path(file_option) if file_option else None
    if path is None and runbook is not None and runbook.confirmations_file:
        path = Path(runbook.confirmations_file)
        if not path.is_absolute():
            path = config.rootpath / path
    try:
        if path is not None:
            confirmations.load_file(path)
        for text in config.getoption("releasegate_confirm"):
            confirmations.add_option(str(text))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return confirmations


def pytest_configure(config: pytest.Config) -> None:
    runbook = config.stash.get(RUNBOOK_KEY, None)
    state = SafetyState(
        dry_run=bool(config.getoption("releasegate_dry_run")),
        approval=approval_from(config),
        require_approval=bool(runbook and runbook.require_approval),
        confirmations=load_confirmations(config, runbook),
    )
    config.stash[SAFETY_KEY] = state
    config.pluginmanager.register(SafetyPlugin(config, state, runbook), "releasegate-safety")


class SafetyPlugin:
    def __init__(self, config: pytest.Config, state: SafetyState, runbook: Runbook | None) -> None:
        self.config = config
        self.state = state
        self.runbook = runbook
        self.first_change_rank: int | None = None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.state.dry_run:
            lines.append("releasegate: DRY RUN - read-only checks only, nothing is changed")
        if self.state.require_approval:
            who = f"approved by {self.state.approval.name} ({self.state.approval.source})" if self.state.approval \
                else f"NOT approved: destructive stages will be refused (--approve NAME or {APPROVAL_ENV})"
            lines.append(f"releasegate: runbook requires approval; {who}")
        return lines

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        info = classify(item)
        if self.state.dry_run:
            self._dry_run_gate(item, info)
        elif info.destructive and self.state.require_approval and self.state.approval is None:
            reason = (f"{APPROVAL_SKIP}: runbook {self.runbook.name if self.runbook else '?'} has require_approval:"
                      f" true; pass --approve NAME or set {APPROVAL_ENV} to run {info.scenario!r}")
            item.stash[HALT_REQUEST_KEY] = HaltRequest(f"release halted: approval required for {info.scenario}",
                                                       "approval")
            pytest.skip(reason)
        if info.manual:
            self._manual_gate(item, info)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.first_change_rank = first_change_rank([classify(item) for item in items])

    def _dry_run_gate(self, item: pytest.Item, info: ItemInfo) -> None:
        verdict = dry_run_verdict(item, info, self.first_change_rank)
        if verdict is not None:
            pytest.skip(f"{DRY_RUN_SKIP}: {verdict}")

    def _manual_gate(self, item: pytest.Item, info: ItemInfo) -> None:
        confirmation = self.state.confirmations.find(info.scenario)
        if confirmation is None:
            if info.critical:
                item.stash[HALT_REQUEST_KEY] = HaltRequest(
                    f"release halted: manual item pending confirmation: {info.scenario}", "manual")
            pytest.skip(f"{PENDING_SKIP}: {info.scenario}")
        self.state.confirmed[info.scenario] = confirmation
        item.user_properties.append((EVIDENCE_PROPERTY, f"manual item {info.scenario!r}: {confirmation.describe()}"))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        distributed = getattr(self.config.option, "dist", "no") != "no"
        if not self.state.dry_run or hasattr(self.config, "workerinput") or not distributed:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # under xdist the workers collect: the scenario list needs a run without -n
            for line in dry_run_plan([], self.runbook):
                reporter.write_line(line)
            reporter.write_line("(stages and scenarios: run --dry-run without -n to list them)")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.state.dry_run or hasattr(self.config, "workerinput"):
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        for line in dry_run_plan(session.items, self.runbook):
            reporter.write_line(line)

def all_steps_read_only(item: pytest.Item) -> bool:
    """True when every step of the scenario is implemented by a step function marked ``@read_only``."""
    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    parent = item.parent
    if template is None or parent is None or not isinstance(parent, pytest.Collector):
        return False
    stepdefs = list(_step_definitions(parent))
    steps = list(_rendered_steps(template))
    if not steps:
        return False
    for step in steps:
        matching = [ctx for ctx in stepdefs if _matches(ctx, step.type, step.name)]
        if not matching or not all(getattr(ctx.step_func, READ_ONLY_ATTRIBUTE, False) for ctx in matching):
            return False
    return True


def first_change_rank(infos: list[ItemInfo]) -> int | None:
    """The rank of the first stage that changes the environment, if any."""
    ranks = [info.rank for info in infos if info.destructive and not info.post_rollback]
    return min(ranks) if ranks else None


def dry_run_verdict(item: pytest.Item, info: ItemInfo, change_rank: int | None) -> str | None:
    """Why a dry run skips this scenario, or None when it runs.

    Read-only checks of a later stage than the first one that changes the environment would check a
    state that the dry run never produced (smoke checks of a deployment that was skipped).
    """
    if info.post_rollback:
        return "runs only after a rollback"
    if info.destructive:
        return f"{info.stage or 'destructive'} stage changes the environment"
    if info.manual or info.preflight:
        return None
    if not all_steps_read_only(item):
        return "not a read-only check"
    if change_rank is not None and info.rank > change_rank:
        return "checks the result of a stage that the dry run skips"
    return None


def masked_runbook(runbook: Runbook) -> dict[str, Any]:
    def mask(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: mask(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v, key) for v in value]
        if isinstance(value, str):
            return secrets.MASK if key and secrets.is_secret_name(key) and value else secrets.redact(value)
        return value

    result = mask(runbook.model_dump(mode="json", exclude_none=True))
    assert isinstance(result, dict)
    return result


def dry_run_plan(items: list[pytest.Item], runbook: Runbook | None) -> list[str]:
    """The plan as text lines: stages and scenarios in run order, runbook values, rollback actions."""
    infos = {item.nodeid: classify(item) for item in items}
    lines = ["", "=" * 20 + " releasegate dry run: the plan " + "=" * 20]
    if runbook is not None:
        lines.append(f"environment {runbook.name}: release {runbook.version_from or '?'} -> "
                     f"{runbook.version_to or '?'}; approval required: {runbook.require_approval}")
    current: str | None = "-"
    change_rank = first_change_rank(list(infos.values()))
    for item in release_order(items, infos):
        info = infos[item.nodeid]
        stage = "post-rollback" if info.post_rollback else (info.stage or "other")
        if stage != current:
            current = stage
            lines.append(f"stage {stage}:")
            if runbook is not None:
                for command in runbook.rollback.commands:
                    if command.stage == stage:
                        lines.append(f"    on rollback: command {secrets.redact(command.run)!r}")
        verdict = dry_run_verdict(item, info, change_rank)
        if verdict is None:
            what = "runs (read-only)" + (", needs a recorded confirmation" if info.manual else "")
        else:
            what = f"SKIPPED in dry run ({verdict})"
        flags = "".join(f" @{tag}" for tag, on in (("critical", info.critical), ("manual", info.manual)) if on)
        lines.append(f"  - {info.scenario}{flags}: {what}")
    if runbook is not None:
        lines.append(f"deploy strategy {runbook.deploy.strategy}; database rollback policy "
                     f"{runbook.database.rollback_policy if runbook.database else 'none (no database)'};"
                     f" on an inconclusive critical check: {runbook.rollback.on_inconclusive}")
    lines.append("rollback actions (run newest first for the stages that made changes):")
    for name in sorted(registered_actions()):
        lines.append(f"  - {name}: {describe_action(name)}")
    if runbook is not None:
        lines.append("runbook (resolved, secrets masked):")
        dumped = yaml.safe_dump(masked_runbook(runbook), sort_keys=False, default_flow_style=False)
        lines.extend("  " + line for line in dumped.splitlines())
    lines.append("=" * 71)
    return lines


@pytest.fixture
def dry_run(pytestconfig: pytest.Config) -> bool:
    """True under --dry-run: a step must not change anything (pass dry_run to evidence.require)."""
    return pytestconfig.stash[SAFETY_KEY].dry_run


@pytest.fixture
def manual_confirmation(request: pytest.FixtureRequest) -> Confirmation | None:
    """The recorded confirmation of the current @manual scenario, if any."""
    return request.config.stash[SAFETY_KEY].confirmations.find(classify(request.node).scenario)
