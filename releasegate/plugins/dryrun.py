"""--dry-run: print the plan, run only read-only steps, change nothing.

Every step declares whether it changes anything: ``@read_only`` (never), ``@changes`` (it does),
``@read_only_when(why_not)`` (depends on the call: ``why_not(arguments, runbook)`` says why this
call may change something, or None). A step without a declaration is treated as changing things.

The plan lists the stages and scenarios in run order with what each would do (for a skipped
scenario, every step that may change something and why), the runbook's rollback commands per
stage, the registered rollback actions and the resolved runbook with secrets masked. A scenario
runs only when every step is read-only for its arguments, whatever its stage tag (a ``@preflight``
``the command "make" succeeds`` runs only for a runbook command marked ``read_only: true``); the
rest are skipped with "dry run: <why>" (``checks.run.decision.dry_run_verdict``). Right before a
step is called, the declaration is asked again: a step that may change something is never called
in a dry run. ``config.stash[DRY_RUN_KEY]`` tells the other plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import yaml
from pytest_bdd.parser import Step
from pytest_bdd.scenario import parse_step_arguments
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from releasegate.checks import secrets
from releasegate.checks.run import decision
from releasegate.checks.run.decision import ScenarioInfo
from releasegate.checks.run.rollback_plan import describe_action, registered_actions
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.collection import scenario_steps
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.stages import SCENARIOS_KEY, classify

DECLARATION_ATTRIBUTE = "releasegate_read_only"
DRY_RUN_SKIP = "dry run"

DRY_RUN_KEY = pytest.StashKey[bool]()
CHANGE_RANK_KEY = pytest.StashKey[int | None]()

F = TypeVar("F", bound=Callable[..., Any])
WhyNotReadOnly = Callable[[Mapping[str, Any], Runbook | None], str | None]
"""A step's declaration: why one call (its parsed arguments, the runbook) may change something, or None."""


def _declare(step: F, why_not: WhyNotReadOnly) -> F:
    setattr(step, DECLARATION_ATTRIBUTE, why_not)
    return step


def _never(arguments: Mapping[str, Any], runbook: Runbook | None) -> str | None:
    return None


def _always(arguments: Mapping[str, Any], runbook: Runbook | None) -> str | None:
    return "declared as changing things"


def read_only(step: F) -> F:
    """Declare a step read-only whatever its arguments: it runs under --dry-run."""
    return _declare(step, _never)


def changes(step: F) -> F:
    """Declare that a step changes the environment: under --dry-run it never runs, the plan shows it."""
    return _declare(step, _always)


def read_only_when(why_not: WhyNotReadOnly) -> Callable[[F], F]:
    """Declare a step read-only for some calls: ``why_not(arguments, runbook)`` is None for those."""
    def declare(step: F) -> F:
        return _declare(step, why_not)
    return declare


def declaration(step: Callable[..., Any]) -> WhyNotReadOnly | None:
    """The read-only declaration of a step function, or None when it has none."""
    found = getattr(step, DECLARATION_ATTRIBUTE, None)
    return found if callable(found) else None


def why_it_changes(step: Step, contexts: list[StepFunctionContext], runbook: Runbook | None) -> str | None:
    """Why running this step may change something, or None when every definition matching it is read-only."""
    if not contexts:
        return "no step definition matches it"
    for context in contexts:
        function = context.step_func
        declared = declaration(function)
        if declared is None:
            return f"{function.__module__}.{function.__qualname__} is not declared read-only"
        try:
            why = declared(parse_step_arguments(step, context), runbook)
        except Exception as exc:  # a declaration that cannot answer counts as a change
            why = f"its read-only declaration failed: {type(exc).__name__}: {exc}"
        if why is not None:
            return why
    return None


@dataclass(frozen=True)
class Change:
    """A step of a scenario that may change something: not run in a dry run."""

    step: str  # "When the release is deployed"
    line: int
    does: str  # the first line of the step function's docstring
    why: str

    def describe(self) -> str:
        does = f" - {self.does}" if self.does else ""
        return secrets.redact(f"would: {self.step} (line {self.line}){does} [{self.why}]")


CHANGES_KEY = pytest.StashKey[list[Change] | None]()


def changes_of(item: pytest.Item) -> list[Change] | None:
    """The steps of a scenario that may change something (empty: read-only); None for a plain test."""
    if CHANGES_KEY not in item.stash:
        item.stash[CHANGES_KEY] = _changes(item, item.config.stash.get(RUNBOOK_KEY, None))
    return item.stash[CHANGES_KEY]


def _changes(item: pytest.Item, runbook: Runbook | None) -> list[Change] | None:
    steps = scenario_steps(item)
    if steps is None:
        return None
    found = []
    for step, contexts in steps:
        why = why_it_changes(step, contexts, runbook)
        if why is not None:
            doc = (contexts[0].step_func.__doc__ or "").strip().splitlines() if contexts else []
            found.append(Change(f"{step.keyword.strip()} {step.name}", step.line_number, doc[0] if doc else "", why))
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("releasegate").addoption(
        "--dry-run", action="store_true", dest="releasegate_dry_run", default=False,
        help="print the plan and run only read-only checks; change nothing")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[DRY_RUN_KEY] = bool(config.getoption("releasegate_dry_run"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    return ["releasegate: DRY RUN - read-only checks only, nothing is changed"] if config.stash[DRY_RUN_KEY] else []


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if not config.stash[DRY_RUN_KEY]:
        return
    table = config.stash[SCENARIOS_KEY]
    config.stash[CHANGE_RANK_KEY] = decision.first_change_rank(table.of(item) for item in session.items)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not hasattr(config, "workerinput"):
        for line in dry_run_plan(session.items, config.stash.get(RUNBOOK_KEY, None)):
            reporter.write_line(line)


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    distributed = getattr(config.option, "dist", "no") != "no"
    if not config.stash[DRY_RUN_KEY] or hasattr(config, "workerinput") or not distributed:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # under xdist the workers collect: the scenario list needs a run without -n
        for line in dry_run_plan([], config.stash.get(RUNBOOK_KEY, None)):
            reporter.write_line(line)
        reporter.write_line("(stages and scenarios: run --dry-run without -n to list them)")


# tryfirst: a scenario that a dry run skips is skipped as such, before its approval or confirmation is asked for
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not item.config.stash[DRY_RUN_KEY]:
        return
    why = why_skipped(item, item.config.stash[SCENARIOS_KEY].of(item), item.config.stash.get(CHANGE_RANK_KEY, None))
    if why is not None:
        pytest.skip(f"{DRY_RUN_SKIP}: {why}")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_bdd_before_step(request: pytest.FixtureRequest, step: Step, step_func: Callable[..., Any]) -> None:
    """The last guard, before the step's fixtures are set up: a dry run never calls a step that may change things."""
    if not request.config.stash[DRY_RUN_KEY]:
        return
    contexts = [context for context in step_function_context_registry.values()
                if context.step_func is step_func and context.parser.is_matching(step.name)]
    why = why_it_changes(step, contexts, request.config.stash.get(RUNBOOK_KEY, None))
    if why is not None:
        pytest.skip(secrets.redact(f"{DRY_RUN_SKIP}: {step.keyword.strip()} {step.name}: {why}"))


def why_skipped(item: pytest.Item, info: ScenarioInfo, change_rank: int | None) -> str | None:
    """Why a dry run skips this scenario, or None when it runs."""
    read = not (info.post_rollback or info.destructive) and changes_of(item) == []
    return decision.dry_run_verdict(info, read_only=read, change_rank=change_rank)


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
    current: str | None = None
    change_rank = decision.first_change_rank(infos.values())
    for item in sorted(items, key=lambda item: infos[item.nodeid].rank):
        info = infos[item.nodeid]
        if info.group != current:
            current = info.group
            lines.append(f"stage {current}:")
            if runbook is not None:
                for command in runbook.rollback.commands:
                    if command.stage == current:
                        lines.append(f"    on rollback: command {secrets.redact(command.run)!r}")
        why = why_skipped(item, info, change_rank)
        if why is None:
            what = "runs (read-only)" + (", needs a recorded confirmation" if info.manual else "")
        else:
            what = f"SKIPPED in dry run ({why})"
        flags = "".join(f" @{tag}" for tag, on in (("critical", info.critical), ("manual", info.manual)) if on)
        lines.append(f"  - {info.scenario}{flags}: {what}")
        lines.extend("      " + change.describe() for change in changes_of(item) or [])
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
    """True under --dry-run (a step that is not read-only for its arguments is never called then)."""
    return pytestconfig.stash[DRY_RUN_KEY]
