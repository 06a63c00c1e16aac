"""The database stage of one release run: what each of its steps does, on the run's recorded state.

A ``DatabaseStage`` is made per scenario from the runbook's ``database`` section, the project
folder (relative paths in the section are relative to it), the run's state file
(``state.state_file_for``: beside the journal, so scenarios on other xdist workers and the
rollback plan read it) and the recorder of the run's journal. Each method
is one step: it does the work, records what later scenarios and the rollback plan need, and
returns the CheckResult the step requires. The DSN is ``database.admin_dsn`` (the migration
owner) or ``database.dsn``. Without a database section, or with an unreadable state file, a
method returns INCONCLUSIVE with the fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol

from releasegate.checks.database import backup, fingerprint, migrations, privileges
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.rollback import ACTION, RollbackRequest
from releasegate.checks.database.state import DatabaseState
from releasegate.checks.result import CheckResult
from releasegate.checks.run.changes import ChangeRecorder
from releasegate.checks.run.journal import Journal
from releasegate.checks.runbook.model import Database

P = ParamSpec("P")
NOT_RUN = "not run"
"""What ``apply_migrations`` observes when it failed before the upgrade started."""


class StageJournal(ChangeRecorder, Protocol):
    """Where a stage records its changes: the undo of each (before it is made) and events in the run journal."""

    @property
    def journal(self) -> Journal | None: ...


def no_database_section(runbook_name: str) -> CheckResult:
    """A database step in a runbook without a database section: INCONCLUSIVE, with the section to add."""
    return CheckResult.unknown("database", f"runbook {runbook_name!r} has no database section;"
                               " add database.dsn: postgresql://user:${DB_PASSWORD}@host:5432/db")


class _Unmet(Exception):
    """What a step needs is missing; ``result`` says what and how to fix it."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.summary())
        self.result = result


def _step(method: Callable[Concatenate[DatabaseStage, P], CheckResult]
          ) -> Callable[Concatenate[DatabaseStage, P], CheckResult]:
    """A step method returns the result of what it needs and is missing instead of raising."""

    @functools.wraps(method)
    def step(stage: DatabaseStage, /, *args: P.args, **kwargs: P.kwargs) -> CheckResult:
        try:
            return method(stage, *args, **kwargs)
        except _Unmet as unmet:
            return unmet.result

    return step


@dataclass
class DatabaseStage:
    runbook_name: str
    database_section: Database | None
    root: Path
    state_file: Path
    journal: StageJournal
    runbook_path: Path | None = None  # the rollback reads the DSN from it again
    version: str | None = None  # the release's version: {version} in a migration image

    # --- what the steps need ----------------------------------------------------------------------

    @property
    def database(self) -> Database:
        if self.database_section is None:
            raise _Unmet(no_database_section(self.runbook_name))
        return self.database_section

    @property
    def owner_dsn(self) -> str:
        return self.database.admin_dsn or self.database.dsn

    @property
    def settings(self) -> MigrationSettings:
        return migrations.settings_for(self.database.migrations, self.root, self.version)

    def state(self) -> DatabaseState:
        try:
            return dbstate.load_state(self.state_file)
        except ValueError as exc:
            raise _Unmet(CheckResult.unknown("database state", str(exc))) from None

    def _event(self, event: str, **fields: Any) -> None:
        if self.journal.journal is not None:
            self.journal.journal.append(event, **fields)

    # --- backup -----------------------------------------------------------------------------------

    @_step
    def take_backup(self) -> CheckResult:
        """pg_dump verified with pg_restore --list and sha256; the record goes to the state and the journal."""
        result, record = backup.take_backup(self.owner_dsn, self._backup_dir())
        if record is not None:
            def keep(state: DatabaseState) -> None:
                state.backup = record
                state.database = record.database
                state.record_revision_before(record.revision)

            dbstate.update_state(self.state_file, keep)
            self._event("database_backup", path=record.path, sha256=record.checksum, size=record.size,
                        database=record.database, revision=record.revision, tables=record.tables)
        return result

    @_step
    def remove_old_backups(self, days: int | None = None) -> CheckResult:
        """Backups older than ``days`` (default: database.backup.retention_days); never this run's backup."""
        database = self.database
        state = self.state()
        keep = (state.backup.path,) if state.backup else ()
        retention = database.backup.retention_days if days is None else days
        return backup.cleanup_old_backups(self._backup_dir(), retention, keep=keep)

    def _backup_dir(self) -> Path:
        return self.root / Path(self.database.backup.dir).expanduser()

    @_step
    def verify_backup(self) -> CheckResult:
        state = self.state()
        if state.backup is None:
            return CheckResult.unknown("backup verified", "no backup was taken in this run;"
                                       " use 'Given a verified backup of the database is taken' first")
        return backup.verify_backup(state.backup)

    # --- fingerprint ------------------------------------------------------------------------------

    @_step
    def record_fingerprint(self) -> CheckResult:
        result, taken = fingerprint.check_fingerprint(self.owner_dsn)
        if taken is not None:
            dbstate.save_fingerprint(self.state_file, taken)
        return result

    @_step
    def check_nothing_lost(self) -> CheckResult:
        """Every row of the fingerprint recorded before the release (or of the backup) is still there."""
        name = "no data written before the release is lost"
        dsn = self.owner_dsn
        before = self.state().fingerprint_before()
        if before is None:
            return CheckResult.unknown(name, "no fingerprint was recorded before the release; add 'Given the"
                                       " data fingerprint is recorded' (or a verified backup) earlier")
        return fingerprint.check_nothing_lost(before, self._fingerprint_now(name, dsn))

    @_step
    def check_restore_loses_nothing(self) -> CheckResult:
        """Counts, by table, the rows written since the backup (a restore would lose them)."""
        name = "a restore of the backup would lose no rows"
        dsn = self.owner_dsn
        state = self.state()
        taken = state.backup.fingerprint() if state.backup else None
        if taken is None:
            return CheckResult.unknown(name, "no verified backup with a fingerprint in this run")
        now = self._fingerprint_now(name, dsn)
        lost = {table: diff.count for table, diff in fingerprint.rows_added(taken, now).items()}
        listing = ", ".join(f"{t}: {n} row(s)" for t, n in lost.items())
        return CheckResult.judge(name, not lost, listing or "none", "none",
                                 evidence={"rows_written_since_backup": lost},
                                 detail=f"a restore would lose {listing}" if lost else "")

    @staticmethod
    def _fingerprint_now(name: str, dsn: str) -> fingerprint.Fingerprint:
        try:
            return fingerprint.take_fingerprint(dsn)
        except Exception as exc:
            raise _Unmet(CheckResult.unknown(name, str(exc))) from None

    # --- migrations -------------------------------------------------------------------------------

    @_step
    def record_schema_version(self) -> CheckResult:
        """The revision before the release (what a downgrade returns to), unless this run recorded it already."""
        name = "schema version recorded"
        dsn, tool = self.owner_dsn, self.database.migrations.tool
        try:
            version = migrations.current_version(dsn, tool)
        except Exception as exc:
            return CheckResult.unknown(name, str(exc))
        state = dbstate.update_state(self.state_file, lambda s: s.record_revision_before(version))
        return CheckResult.ok(name, version or "none (never migrated)", "a version",
                              evidence={"revision_before_release": state.revision_before})

    @_step
    def migrate(self) -> CheckResult:
        """Upgrade to head, the rollback journaled first: a migration killed halfway is still undone."""
        database, dsn, settings = self.database, self.owner_dsn, self.settings
        try:
            before = migrations.current_version(dsn, settings.tool, step="migrate")
        except Exception as exc:
            return CheckResult.fail("migrations applied to head", "not run", "at head", detail=str(exc))
        state = dbstate.update_state(self.state_file, lambda s: s.record_revision_before(before))
        request = RollbackRequest(policy=database.rollback_policy, settings=settings,
                                  state_file=str(self.state_file.resolve()),
                                  runbook=str(self.runbook_path.resolve()) if self.runbook_path else None,
                                  state=state, refuse_data_loss=database.restore_data_loss == "refuse")
        # every policy is idempotent, so recording the undo before the change is safe
        with self.journal.change(ACTION, request.to_dict(), stage="migrate") as change:
            result, run = migrations.apply_migrations(dsn, settings)
            if result.passed:
                change.done()
            else:  # "not run": the upgrade never started, nothing to undo (a critical failure is BLOCKED)
                change.fail(made=result.observed != NOT_RUN)

        def keep(s: DatabaseState) -> None:
            s.migration = run

        dbstate.update_state(self.state_file, keep)
        unknown = {} if run.revision_after_known else {"revision_after": "unknown", "left_at_previous": "unknown"}
        self._event("database_migration", **{**run.to_dict(), **unknown})
        return result

    @_step
    def check_version(self, version: str) -> CheckResult:
        return migrations.check_version(self.owner_dsn, self.database.migrations.tool, version)

    @_step
    def check_version_before_release(self) -> CheckResult:
        """After a rollback: the schema is back at the revision recorded before the release."""
        dsn, tool = self.owner_dsn, self.database.migrations.tool
        state = self.state()
        if not state.revision_before_known:
            return CheckResult.unknown("schema version before the release", "no revision was recorded in this"
                                       " run ('Given the schema version is recorded')")
        return migrations.check_version(dsn, tool, state.revision_before or "none (never migrated)")

    @_step
    def check_no_pending(self) -> CheckResult:
        return migrations.check_no_pending(self.owner_dsn, self.settings)

    @_step
    def check_reversible(self) -> CheckResult:
        """upgrade -> downgrade (to the recorded revision) -> upgrade on a scratch copy of the database."""
        database, dsn, settings = self.database, self.owner_dsn, self.settings
        state = self.state()
        return migrations.check_reversible(dsn, settings, down_to=state.revision_before,
                                           down_to_known=state.revision_before_known,
                                           creator_dsn=database.scratch_dsn)

    @_step
    def check_migration_time(self, seconds: float) -> CheckResult:
        return migrations.check_finished_within(self.state().migration, seconds)

    # --- least privilege and pool -----------------------------------------------------------------

    @_step
    def check_app_role(self) -> CheckResult:
        """CREATE TABLE and DROP TABLE tried for real as database.app_role (or the DSN's user), then rolled back."""
        database = self.database
        return privileges.check_cannot_create_or_drop(self._role_dsn(database.app_role), database.app_role,
                                                      schema=database.schema_name)

    @_step
    def check_readonly_role(self) -> CheckResult:
        database = self.database
        if database.readonly_role is None:
            return CheckResult.unknown("read-only role", "set database.readonly_role to the read-only role's name")
        return privileges.check_read_only(self._role_dsn(database.readonly_role), database.readonly_role,
                                          schema=database.schema_name)

    def _role_dsn(self, role: str | None) -> str:
        # a named role is tried with SET ROLE from the owner's connection; without one, as the DSN's own user
        return self.owner_dsn if role else self.database.dsn

    @_step
    def check_pool(self, size: int, instances: int = 1) -> CheckResult:
        return privileges.check_pool_fits(self.database.dsn, size, instances)

    @_step
    def check_pool_in_variable(self, name: str, value: str | None, instances: int = 1) -> CheckResult:
        """The pool size is the value of an environment variable such as DB_POOL_MAX_SIZE."""
        dsn = self.database.dsn
        if value is None or not value.strip().isdigit():
            return CheckResult.fail(f"connection pool in {name}", value or "not set", "an integer",
                                    detail=f"set {name} to the pool's maximum size")
        return privileges.check_pool_fits(dsn, int(value), instances)
