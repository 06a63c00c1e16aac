"""--dry-run: print the plan, run only read-only scenarios, change nothing.

The plan lists the stages and scenarios in run order with what each would do, the runbook's
rollback commands per stage, the registered rollback actions and the resolved runbook with secrets
masked. Only read-only scenarios run (``@preflight``, ``@manual``, or scenarios whose every step is
marked with ``@read_only``); the rest are skipped with "dry run: <why>"
(``checks.run.decision.dry_run_verdict``). ``config.stash[DRY_RUN_KEY]`` tells the other plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import yaml

from releasegate.checks import secrets
from releasegate.checks.run import decision
from releasegate.checks.run.decision import ScenarioInfo
from releasegate.checks.run.rollback_plan import describe_action, registered_actions
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.collection import step_functions
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.stages import SCENARIOS_KEY, classify

READ_ONLY_ATTRIBUTE = "releasegate_read_only"
DRY_RUN_SKIP = "dry run"

DRY_RUN_KEY = pytest.StashKey[bool]()
CHANGE_RANK_KEY = pytest.StashKey[int | None]()

F = TypeVar("F", bound=Callable[..., Any])


def read_only(step: F) -> F:
    """Mark a step function as read-only: scenarios made only of such steps run in --dry-run."""
    setattr(step, READ_ONLY_ATTRIBUTE, True)
    return step


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


def all_steps_read_only(item: pytest.Item) -> bool:
    """True when every step of the scenario is implemented by step functions marked ``@read_only``."""
    steps = step_functions(item)
    return bool(steps) and all(functions and all(getattr(f, READ_ONLY_ATTRIBUTE, False) for f in functions)
                               for functions in steps or [])


def why_skipped(item: pytest.Item, info: ScenarioInfo, change_rank: int | None) -> str | None:
    """Why a dry run skips this scenario, or None when it runs (the steps are looked at only when it matters)."""
    read = not (info.post_rollback or info.destructive or info.manual or info.preflight) and all_steps_read_only(item)
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
    return pytestconfig.stash[DRY_RUN_KEY]
