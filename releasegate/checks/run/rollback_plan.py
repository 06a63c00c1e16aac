"""Rollback actions and the execution of a run's rollback plan, exactly once.

An action is a function ``fn(params: dict) -> CheckResult`` registered under a name::

    from releasegate.checks.run.rollback_plan import register_action
    register_action("deploy.blue-green", lambda params: strategies.rollback_blue_green(params))

A stage that makes a change journals the action that undoes it before making it
(``Journal.intend`` and its outcome, ``checks.run.changes.Change``, or
``Journal.stage_completed(stage, action, params)`` for a change made at once). ``execute_plan``
runs ``Journal.plan()`` newest first: the undo of every change done, failed after changing
something, or intended with no outcome (the process died during it), with its newest params.
Actions are idempotent (they read the live state before they act, so an undo of a change that
was only partly made, or not made at all, is harmless); the plan adds that an action recorded as
done is never run again, and the journal's lock plus the ``rollback_started``/``rollback_finished``
markers make sure that two processes cannot both run the plan.

An action name that is not registered may be a dotted path ``package.module:function``; it is
imported on first use.
"""

from __future__ import annotations

import importlib
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support import shell
from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.run.journal import Journal, UndoStep

RollbackAction = Callable[[dict[str, Any]], CheckResult]

_lock = threading.Lock()
_actions: dict[str, RollbackAction] = {}


def register_action(name: str, fn: RollbackAction, *, replace: bool = False) -> None:
    """Make ``fn`` available to rollback plans under ``name``."""
    with _lock:
        existing = _actions.get(name)
        if existing is not None and not replace and _identity(existing) != _identity(fn):
            raise ValueError(f"a rollback action named {name!r} is already registered; pick another name")
        _actions[name] = fn


def _identity(fn: RollbackAction) -> tuple[str, str]:
    # a module imported again (pytester, importlib.reload) registers a new function object of the same name
    return (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)))


def unregister_action(name: str) -> None:
    with _lock:
        _actions.pop(name, None)


def registered_actions() -> dict[str, RollbackAction]:
    with _lock:
        return dict(_actions)


def resolve_action(name: str) -> RollbackAction:
    """The function registered under ``name``, or imported from ``module:function``."""
    with _lock:
        found = _actions.get(name)
    if found is not None:
        return found
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise LookupError(f"rollback action {name!r} cannot be imported: {exc}") from None
        if callable(target):
            return target  # type: ignore[no-any-return]
    known = ", ".join(sorted(registered_actions())) or "none"
    raise LookupError(
        f"no rollback action registered under {name!r} (registered: {known});"
        " call releasegate.checks.run.register_action(name, fn) in a module the run loads"
    )


def describe_action(name: str) -> str:
    """What an action does, from its docstring, for ``--dry-run``."""
    try:
        fn = resolve_action(name)
    except LookupError as exc:
        return str(exc)
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0] if doc else name


def run_command(params: dict[str, Any]) -> CheckResult:
    """Run the shell command of a runbook's rollback section (params: run, values, timeout_s, cwd).

    ``run`` is the runbook's template; ``values`` (version, previous_version) are quoted into its
    placeholders (``_support.shell``), so no value is ever read as shell code.
    """
    template = str(params.get("run", ""))
    name = f"rollback command {secrets.redact(template)!r}"
    if not template:
        return CheckResult.fail(name, observed="no command", expected="params.run: a shell command")
    values = {str(k): None if v is None else str(v) for k, v in dict(params.get("values") or {}).items()}
    try:
        command = shell.fill(template, values)
    except shell.ShellTemplateError as exc:
        return CheckResult.fail(name, observed=f"not run: {secrets.redact(str(exc))}", expected="exit status 0")
    timeout = float(params.get("timeout_s", 120))
    started = time.monotonic()
    try:
        done = subprocess.run(shell.shell_argv(command), capture_output=True, text=True, timeout=timeout,
                              cwd=params.get("cwd") or None, check=False)
    except subprocess.TimeoutExpired:
        return CheckResult.fail(name, observed=f"still running after {timeout:g}s", expected="exit status 0",
                                elapsed_s=time.monotonic() - started)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the folder's name
        return CheckResult.fail(name, observed=str(exc), expected="exit status 0")
    evidence = {"stdout": secrets.redact(done.stdout[-4000:]), "stderr": secrets.redact(done.stderr[-4000:])}
    return CheckResult.judge(name, done.returncode == 0, f"exit status {done.returncode}", "exit status 0",
                             elapsed_s=time.monotonic() - started, evidence=evidence,
                             detail=secrets.redact(done.stderr.strip().splitlines()[-1]) if done.returncode and
                             done.stderr.strip() else "")


register_action("command", run_command)


@dataclass
class StepOutcome:
    step: UndoStep
    result: CheckResult | None  # None: already done before this attempt


@dataclass
class RollbackReport:
    """What ``execute_plan`` did."""

    ran: bool
    outcome: Outcome = Outcome.PASS
    steps: list[StepOutcome] = field(default_factory=list)
    duration_s: float = 0.0
    reason: str = ""
    started_at: float | None = None

    @property
    def failed_steps(self) -> list[StepOutcome]:
        return [s for s in self.steps if s.result is not None and not s.result.passed]

    def summary(self) -> str:
        if not self.ran:
            return self.reason
        done = sum(1 for s in self.steps if s.result is not None)
        text = f"rollback {self.outcome.value}: {done} action(s) in {self.duration_s:.2f}s"
        if self.failed_steps:
            text += "; failed: " + "; ".join(s.result.summary() for s in self.failed_steps if s.result)
        return text


@dataclass(frozen=True)
class PendingPlan:
    """What ``execute_plan`` would do now: nothing when ``finished`` (the earlier attempt's end), else
    run every step of ``steps`` (newest first) whose key is not in ``done``."""

    steps: list[UndoStep] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    finished: dict[str, Any] | None = None

    @property
    def finished_reason(self) -> str:
        event = self.finished or {}
        return (f"rollback already finished ({event.get('outcome')}) by process {event.get('pid')}"
                f" at {event.get('ts')}")


def pending_plan(journal: Journal, *, retry_failed: bool = False) -> PendingPlan:
    """Read the journal only: what its rollback plan would run (``--dry-run --rollback-only`` prints this)."""
    finished = journal.last("rollback_finished")
    if finished is not None and (finished.get("outcome") == "PASS" or not retry_failed):
        return PendingPlan(finished=finished)
    return PendingPlan(journal.plan(), journal.done_keys())


def execute_plan(journal: Journal, *, trigger: str, retry_failed: bool = False,
                 on_start: Callable[[list[UndoStep]], None] | None = None, **context: Any) -> RollbackReport:
    """Run the journal's rollback plan unless it already ran; never runs an action that is done.

    ``retry_failed`` lets a later attempt (``--rollback-only``) run the actions that failed or
    never ran after an earlier attempt finished with a failure. ``on_start`` is called (for a
    notification) once the plan is known; it must not block.
    """
    with journal.exclusive():
        pending = pending_plan(journal, retry_failed=retry_failed)
        if pending.finished is not None:
            return RollbackReport(ran=False, outcome=Outcome(pending.finished.get("outcome", "PASS")),
                                  reason=pending.finished_reason)
        plan, done = pending.steps, pending.done
        attempt = len(journal.events("rollback_started")) + 1
        started = time.monotonic()
        start_event = journal.append("rollback_started", trigger=trigger, attempt=attempt,
                                     plan=[{"key": s.key, "stage": s.stage, "action": s.action} for s in plan],
                                     **context)
        if on_start is not None:
            on_start(plan)
        report = RollbackReport(ran=True, started_at=float(start_event["ts"]))
        for index, step in enumerate(plan):
            if step.key in done:
                report.steps.append(StepOutcome(step, None))
                continue
            journal.append("rollback_action_started", key=step.key, index=index, stage=step.stage,
                           action=step.action)
            result = _run(step)
            journal.append("rollback_action_done", key=step.key, index=index, stage=step.stage, action=step.action,
                           outcome=result.outcome.value, summary=result.summary(), elapsed_s=round(result.elapsed_s, 4))
            report.steps.append(StepOutcome(step, result))
        report.duration_s = time.monotonic() - started
        report.outcome = Outcome.FAIL if report.failed_steps else Outcome.PASS
        journal.append("rollback_finished", outcome=report.outcome.value, duration_s=round(report.duration_s, 4),
                       actions=sum(1 for s in report.steps if s.result is not None), attempt=attempt)
        return report


def _run(step: UndoStep) -> CheckResult:
    started = time.monotonic()
    try:
        result = resolve_action(step.action)(dict(step.params))
    except Exception as exc:  # an action that raises has failed; the other actions still run
        result = CheckResult.fail(f"rollback {step.action}", observed=f"{type(exc).__name__}: {exc}",
                                  expected="the action to finish")
    if not isinstance(result, CheckResult):
        result = CheckResult.fail(f"rollback {step.action}", observed=repr(result), expected="a CheckResult")
    if not result.elapsed_s:
        result.elapsed_s = time.monotonic() - started
    return result
