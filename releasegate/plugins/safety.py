"""Release safety: approval of destructive stages, confirmations of @manual items (--dry-run: plugins/dryrun).

- A runbook with ``require_approval: true`` refuses destructive scenarios (``@backup @migrate
  @deploy @destructive``) and ``--rollback-only`` unless ``--approve NAME`` or the environment
  variable ``RELEASEGATE_APPROVED_BY`` (set by a CI approval job) names the approver; a refusal
  halts the release.
- ``@manual`` scenarios run only with a recorded confirmation (``--confirmations FILE``, the
  runbook's ``confirmations_file`` or ``--confirm "ITEM=NAME"``); otherwise they are skipped as
  "pending manual confirmation" and listed in the sign-off. A pending ``@critical`` manual item
  halts the release.

A refusal asks the halt plugin to stop the line: ``item.stash[HALT_REQUEST_KEY]``, set before the skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasegate.checks.errors import ConfigError
from releasegate.checks.run.confirmations import Confirmation, Confirmations, person_text
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.evidence import EVIDENCE_PROPERTY
from releasegate.plugins.stages import SCENARIOS_KEY

APPROVAL_ENV = "RELEASEGATE_APPROVED_BY"
PENDING_SKIP = "pending manual confirmation"
APPROVAL_SKIP = "approval required"


@dataclass(frozen=True)
class Approval:
    name: str
    source: str


@dataclass(frozen=True)
class HaltRequest:
    """Asked by this plugin, carried out by the halt plugin: stop the release here."""

    reason: str
    kind: str  # "approval" or "manual"


@dataclass
class SafetyState:
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
    group.addoption("--approve", action="store", dest="releasegate_approve", default=None, metavar="NAME",
                    help=f"approve destructive stages on a require_approval runbook (also {APPROVAL_ENV})")
    group.addoption("--confirmations", action="store", dest="releasegate_confirmations", default=None,
                    metavar="FILE", help="YAML file of manual confirmations (item, by, at)")
    group.addoption("--confirm", action="append", dest="releasegate_confirm", default=[], metavar="ITEM=NAME",
                    help="confirm one @manual item by name (repeatable)")


def approval_from(config: pytest.Config) -> Approval | None:
    """``--approve NAME`` (``--approve ""`` is an error), else a non-empty ``RELEASEGATE_APPROVED_BY``."""
    name = config.getoption("releasegate_approve")
    if name is not None:
        return Approval(person_text(str(name), "--approve"), "--approve")
    from_env = os.environ.get(APPROVAL_ENV, "")
    return Approval(person_text(from_env, APPROVAL_ENV), APPROVAL_ENV) if from_env.strip() else None


def load_confirmations(config: pytest.Config, runbook: Runbook | None) -> Confirmations:
    confirmations = Confirmations()
    file_option = config.getoption("releasegate_confirmations")
    path = Path(file_option) if file_option is not None else None
    if path is None and runbook is not None and runbook.confirmations_file:
        path = Path(runbook.confirmations_file)
        if not path.is_absolute():
            path = config.rootpath / path
    try:
        if file_option is not None and not str(file_option).strip():
            raise ConfigError("--confirmations: empty; name a YAML file of confirmations, or drop the option")
        if path is not None:
            confirmations.load_file(path)
        for text in config.getoption("releasegate_confirm"):
            confirmations.add_option(str(text))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return confirmations


def pytest_configure(config: pytest.Config) -> None:
    if SAFETY_KEY not in config.stash:  # not checked already (releasegate.plugins' pytest_cmdline_main)
        configure_safety(config)


def configure_safety(config: pytest.Config) -> None:
    """Approval and confirmations, checked, into the stash (after the runbook is loaded)."""
    runbook = config.stash.get(RUNBOOK_KEY, None)
    try:
        approval = approval_from(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = SafetyState(
        approval=approval,
        require_approval=bool(runbook and runbook.require_approval),
        confirmations=load_confirmations(config, runbook),
    )
    config.stash[SAFETY_KEY] = state
    if config.getoption("releasegate_rollback_only", default=False) and state.require_approval \
            and state.approval is None:
        raise pytest.UsageError(
            f"runbook {runbook.name if runbook else '?'} has require_approval: true; --rollback-only"
            f" changes the environment: pass --approve NAME or set {APPROVAL_ENV}"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[SAFETY_KEY]
    if not state.require_approval:
        return []
    who = f"approved by {state.approval.name} ({state.approval.source})" if state.approval \
        else f"NOT approved: destructive stages will be refused (--approve NAME or {APPROVAL_ENV})"
    return [f"releasegate: runbook requires approval; {who}"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[SAFETY_KEY]
    info = item.config.stash[SCENARIOS_KEY].of(item)
    if info.destructive and state.require_approval and state.approval is None:
        runbook = item.config.stash.get(RUNBOOK_KEY, None)
        reason = (f"{APPROVAL_SKIP}: runbook {runbook.name if runbook else '?'} has require_approval:"
                  f" true; pass --approve NAME or set {APPROVAL_ENV} to run {info.scenario!r}")
        item.stash[HALT_REQUEST_KEY] = HaltRequest(f"release halted: approval required for {info.scenario}",
                                                   "approval")
        pytest.skip(reason)
    if info.manual:
        confirmation = state.confirmations.find(info.scenario)
        if confirmation is None:
            if info.critical:
                item.stash[HALT_REQUEST_KEY] = HaltRequest(
                    f"release halted: manual item pending confirmation: {info.scenario}", "manual")
            pytest.skip(f"{PENDING_SKIP}: {info.scenario}")
        state.confirmed[info.scenario] = confirmation
        item.user_properties.append((EVIDENCE_PROPERTY, f"manual item {info.scenario!r}: {confirmation.describe()}"))


@pytest.fixture
def manual_confirmation(request: pytest.FixtureRequest) -> Confirmation | None:
    """The recorded confirmation of the current @manual scenario, if any."""
    scenario = request.config.stash[SCENARIOS_KEY].of(request.node).scenario
    return request.config.stash[SAFETY_KEY].confirmations.find(scenario)


