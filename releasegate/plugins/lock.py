"""One release at a time per environment, and only inside its release windows (on the controller).

- Release windows: when the run loop starts (before any scenario runs), a runbook with
  ``release.windows`` is checked against the clock (``checks.run.windows``). Outside a window, or in a
  freeze, the release is halted before anything changed: BLOCKED (exit 1), naming the next allowed
  time. ``--override-window "REASON"`` lets it run; the override, its reason and who gave it (the
  approver, else ``$USER``) go to the journal (``window_overridden``) and the sign-off. On a runbook
  with ``require_approval: true`` the override needs ``--approve NAME`` / ``RELEASEGATE_APPROVED_BY``.
  ``--rollback-only`` is never held back by a window: it restores the previous state.
- The release lock (``checks.run.lock``: PostgreSQL advisory lock when the runbook has a database,
  else a lock directory beside the journals) is taken right before the first scenario that changes
  anything (a destructive stage, or a step not declared read-only); under xdist when the workers
  have collected, before any scenario is handed out; with ``--rollback-only`` before the plan runs. A
  usage or collection error therefore takes no lock. It is held for the release and its rollback and
  given back when the session finishes (also after a failure or an interrupt); a SIGKILLed run's
  PostgreSQL lock is freed with its session, its lock directory is reported stale and taken over.
- A lock held by another run halts the release at once: BLOCKED (exit 1), one line naming the
  holder. ``--lock-timeout SECONDS`` waits up to that long, printing who holds it. ``--dry-run``
  takes no lock and prints who holds one. A ``--rollback-only`` that finds the lock held runs
  nothing (its decision is "none"; the dead run's changes are still in place, so it ends HALTED).
- Journal events: ``window_checked``, ``window_overridden``, ``lock_acquired``, ``lock_waited``,
  ``lock_blocked``, ``lock_released``, ``lock_broken`` (a ``releasegate lock break`` since the last
  run), ``lock_status`` (a dry run).

``config.stash[LOCK_KEY]`` (``ReleaseGateState``) is read by the rollback plugin and the sign-off.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks import secrets
from releasegate.checks.errors import ConfigError
from releasegate.checks.run import windows
from releasegate.checks.run.decision import Halt
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.lock import (
    Acquired,
    LockError,
    LockStatus,
    ReleaseLock,
    holder_for,
    lock_for_runbook,
    this_operator,
)
from releasegate.checks.run.windows import WindowCheck
from releasegate.plugins.dryrun import DRY_RUN_KEY, changes_of
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY, journal_dir
from releasegate.plugins.safety import APPROVAL_ENV, approval_from
from releasegate.plugins.stages import SCENARIOS_KEY

BLOCKED_PREFIX = "release blocked"


@dataclass
class ReleaseGateState:
    """What the lock and the window decided in this run (the controller's)."""

    backend: str | None = None
    acquired: Acquired | None = None
    blocked: str | None = None  # the one-line reason a lock or a window blocked the run
    window: WindowCheck | None = None
    override: dict[str, str] | None = None  # reason, by
    breaks: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def signoff_rows(self) -> list[str]:
        """Rows of the sign-off's table: the lock and the window."""
        rows = []
        if self.acquired is not None and self.acquired.acquired:
            waited = f", after waiting {self.acquired.waited_s:.0f} s" if self.acquired.waits else ""
            stale = f"; took over a stale lock of {self.acquired.took_over.holder.describe()}" \
                if self.acquired.took_over and self.acquired.took_over.holder else ""
            rows.append(f"| Release lock | held by this run ({self.backend}){waited}{stale} |")
        elif self.blocked is not None and self.backend is not None:
            rows.append(f"| Release lock | not taken: {self.blocked} |")
        if self.window is not None:
            text = self.window.describe()
            if self.override is not None:
                text += f"; OVERRIDDEN by {self.override['by']}: {self.override['reason']}"
            rows.append(f"| Release window | {text} |")
        for record in self.breaks:
            rows.append(f"| Lock broken before this run | by {record.get('by') or '?'} at {record.get('at')}:"
                        f" {record.get('reason')} |")
        return [secrets.redact(row.replace("\n", " ")) for row in rows]


LOCK_KEY = pytest.StashKey[ReleaseGateState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("releasegate")
    group.addoption("--lock-timeout", action="store", dest="releasegate_lock_timeout", default="0",
                    metavar="SECONDS", help="wait up to SECONDS for another run's release lock (default 0: fail at"
                    " once)")
    group.addoption("--override-window", action="store", dest="releasegate_override_window", default=None,
                    metavar="REASON", help="release outside the runbook's release windows; the reason and who gave"
                    " it are recorded")
    parser.addini("releasegate_lock_dir", "folder of the release locks without a database, shared by every run of"
                  " an environment (default: <journal dir>/locks)", default="")


def lock_dir(config: pytest.Config) -> Path:
    """Where lock directories and break records live: ``<journal dir>/locks``, or the ini ``releasegate_lock_dir``."""
    value = str(config.getini("releasegate_lock_dir"))
    if not value:
        return journal_dir(config) / "locks"
    path = Path(value)
    return path if path.is_absolute() else config.rootpath / path


def lock_timeout(config: pytest.Config) -> float:
    text = str(config.getoption("releasegate_lock_timeout"))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise pytest.UsageError(f"--lock-timeout {text!r}: expected a number of seconds >= 0, such as 300")
    return value


def override_reason(config: pytest.Config) -> str | None:
    value = config.getoption("releasegate_override_window")
    if value is None:
        return None
    text = str(value)
    if not text.strip() or not text.isprintable():
        raise pytest.UsageError("--override-window: give the reason on one line, such as --override-window"
                                " \"hotfix for INC-123\"")
    return text.strip()


def pytest_configure(config: pytest.Config) -> None:
    state = ReleaseGateState()
    config.stash[LOCK_KEY] = state
    if hasattr(config, "workerinput"):
        return
    timeout = lock_timeout(config)
    reason = override_reason(config)
    runbook = config.stash.get(RUNBOOK_KEY, None)
    if reason is not None and runbook is not None and runbook.require_approval:
        try:
            approval = approval_from(config)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        if approval is None:
            raise pytest.UsageError(f"runbook {runbook.name} has require_approval: true; --override-window needs"
                                    f" an approver: pass --approve NAME or set {APPROVAL_ENV}")
    config.pluginmanager.register(ReleaseGate(config, state, timeout, reason), "releasegate-lock")


class ReleaseGate:
    def __init__(self, config: pytest.Config, state: ReleaseGateState, timeout_s: float,
                 override: str | None) -> None:
        self.config = config
        self.state = state
        self.timeout_s = timeout_s
        self.override = override
        self.lock: ReleaseLock | None = None
        self.tried = False
        self.distributed = getattr(config.option, "dist", "no") != "no"

    @property
    def journal(self) -> Journal | None:
        return self.config.stash.get(JOURNAL_KEY, None)

    @property
    def dry_run(self) -> bool:
        return self.config.stash.get(DRY_RUN_KEY, False)

    @property
    def rollback_only(self) -> bool:
        return bool(self.config.getoption("releasegate_rollback_only", default=False))

    def environment(self) -> str | None:
        selection = self.config.stash.get(SELECTION_KEY, None)
        return selection.name if selection else None

    def approver(self) -> str | None:
        try:
            approval = approval_from(self.config)
        except ConfigError:
            return None
        return approval.name if approval else None

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(secrets.redact(f"releasegate: {line}"))

    def make_lock(self) -> ReleaseLock | None:
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        environment = self.environment()
        if runbook is None or environment is None:
            return None
        lock = lock_for_runbook(environment, runbook, lock_dir(self.config))
        self.state.backend = lock.NAME
        return lock

    def block(self, reason: str, kind: str) -> None:
        self.state.blocked = reason
        self.say(reason)
        if not self.rollback_only:  # a --rollback-only run's journal is the dead run's: its halt stays its own
            self.config.stash[HALT_LINE_KEY].stop(Halt(reason, "", "", kind))

    # ---- the window, and --rollback-only's lock: before anything runs ------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        journal = self.journal
        if journal is not None:
            self.check_window(journal)
            if self.dry_run:
                self.report_holder(journal)
            elif self.rollback_only and self.state.blocked is None:
                self.take_lock(journal)
        return (yield)

    def check_window(self, journal: Journal) -> None:
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        if runbook is None or runbook.release.windows is None:
            return
        checked = windows.check(runbook.release.windows, self.state.clock())
        self.state.window = checked
        journal.append("window_checked", allowed=checked.allowed, why=checked.why,
                       next_allowed=checked.next_allowed.isoformat() if checked.next_allowed else None)
        if checked.allowed:
            return
        if self.rollback_only:  # undoing a dead run restores the previous state: no window or freeze stops it
            self.say(f"--rollback-only runs outside the release window: {checked.describe()}")
        elif self.dry_run:
            self.say(f"dry run: a release now would be BLOCKED: {checked.describe()}")
        elif self.override is not None:
            by = this_operator(self.approver()) or "unknown"
            self.state.override = {"reason": self.override, "by": by}
            journal.append("window_overridden", reason=self.override, by=by, why=checked.describe())
            self.say(f"release window overridden by {by}: {self.override} ({checked.describe()})")
        else:
            self.block(f"{BLOCKED_PREFIX}: {checked.describe()}; release then, or pass --override-window"
                       " \"REASON\"", "window")

    def report_holder(self, journal: Journal) -> None:
        lock = self.make_lock()
        if lock is None:
            return
        try:
            status = lock.status()
        except LockError as exc:
            self.say(f"dry run: no lock taken; who holds the release lock is unknown: {exc}")
            return
        journal.append("lock_status", backend=lock.NAME, state=status.state,
                       holder=status.holder.as_dict() if status.holder else None)
        self.say(f"dry run: no lock taken; {status.describe()}")

    # ---- the lock: before the first scenario that changes anything --------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        journal = self.journal
        if journal is not None and not self.distributed and not self.tried and not self.dry_run \
                and self.state.blocked is None and self.config.stash[HALT_LINE_KEY].current() is None \
                and self.changes_something(item):
            self.take_lock(journal)
        return (yield)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Under xdist: the first worker has collected, no scenario has been handed out yet."""
        journal = self.journal
        if journal is not None and ids and not self.tried and not self.dry_run and self.state.blocked is None:
            self.take_lock(journal)

    def changes_something(self, item: pytest.Item) -> bool:
        info = self.config.stash[SCENARIOS_KEY].of(item)
        if info.post_rollback:
            return False
        return info.destructive or bool(changes_of(item))

    def take_lock(self, journal: Journal) -> None:
        self.tried = True
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        try:
            lock = self.make_lock()
            if lock is None:
                return
            holder = holder_for(lock.environment, release=runbook.version_to if runbook else None,
                                approver=self.approver(), run_id=journal.run_id)

            def waiting(status: LockStatus, left: float) -> None:
                journal.append("lock_waited", backend=lock.NAME, holder=status.holder.as_dict() if status.holder
                               else None, state=status.state, timeout_s=self.timeout_s)
                self.say(f"waiting up to {left:.0f}s for the release lock: {status.describe()}")

            acquired = lock.acquire(holder, self.timeout_s, on_wait=waiting)
        except LockError as exc:
            journal.append("lock_blocked", backend=self.state.backend, error=str(exc))
            self.block(f"{BLOCKED_PREFIX}, the lock cannot be taken: {exc}", "locked")
            return
        self.state.acquired = acquired
        if not acquired.acquired:
            status = acquired.blocked_by
            journal.append("lock_blocked", backend=lock.NAME, waited_s=round(acquired.waited_s, 3),
                           holder=status.holder.as_dict() if status and status.holder else None)
            waited = f" after waiting {acquired.waited_s:.0f}s" if self.timeout_s > 0 else ""
            self.block(f"{BLOCKED_PREFIX}{waited}: {status.describe() if status else 'lock held'}; wait for that run,"
                       f" pass --lock-timeout SECONDS, or if it is dead: releasegate lock break {lock.environment}"
                       " --reason \"...\"", "locked")
            return
        self.lock = lock
        took_over = acquired.took_over
        journal.append("lock_acquired", backend=lock.NAME, holder=holder.as_dict(),
                       waited_s=round(acquired.waited_s, 3),
                       took_over_stale=took_over.holder.as_dict() if took_over and took_over.holder else None,
                       stale_detail=took_over.detail if took_over else None)
        if took_over is not None:
            self.say(f"took over a stale release lock: {took_over.describe()}")
        for record in lock.pending_breaks():
            self.state.breaks.append(record)
            journal.append("lock_broken", **{k: v for k, v in record.items() if k not in ("event", "ts", "run")})

    # ---- giving it back -------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.release()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.release()  # sessionfinish did not run (an error before the session began): still give it back

    def release(self) -> None:
        lock, self.lock = self.lock, None
        if lock is None:
            return
        held = lock.release()
        journal = self.journal
        if journal is not None:
            journal.append("lock_released", backend=lock.NAME, still_held=held)
