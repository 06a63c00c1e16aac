"""Database stage steps: verified backup, migrations, schema version, least privilege, nothing lost.

What one scenario records (backup, fingerprint, revision before the release, migration run)
goes to the run's database state file beside the journal (``checks.dbstate``), so scenarios
on other xdist workers, and the rollback plan, read it. The DSN is the runbook's
``database.admin_dsn`` (migration owner) or ``database.dsn``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, step, then, when

from releasegate.checks.database import backup, fingerprint, migrations
from releasegate.checks.database import privileges as dbsafety
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.rollback import ACTION, RollbackRequest
from releasegate.checks.database.state import DatabaseState
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Database, Runbook
from releasegate.plugins.evidence import Evidence
from releasegate.plugins.rollback import StageRecorder
from releasegate.plugins.safety import read_only
from releasegate.steps._phrases import project_path, project_root, unknown_name


def _database(runbook: Runbook, evidence: Evidence) -> Database:
    if runbook.database is None:
        evidence.require(unknown_name("database", f"runbook {runbook.name!r} has no database section;"
                                      " add database.dsn: postgresql://user:${DB_PASSWORD}@host:5432/db"))
    assert runbook.database is not None
    return runbook.database


def _owner_dsn(database: Database) -> str:
    return database.admin_dsn or database.dsn


def _settings(runbook: Runbook, database: Database) -> migrations.MigrationSettings:
    return migrations.settings_for(database.migrations, project_root(runbook), runbook.version_to)


@pytest.fixture
def database_state_file(runbook: Runbook, release_journal: StageRecorder) -> Path:
    """The run's database state file: beside the journal, or reports/journal/database-state.json."""
    journal = release_journal.journal
    if journal is not None:
        return dbstate.state_path(journal.path.parent, journal.run_id)
    return dbstate.state_path(project_path(runbook, "reports/journal"), None)


def _state(path: Path, evidence: Evidence) -> DatabaseState:
    try:
        return dbstate.load_state(path)
    except ValueError as exc:
        evidence.require(CheckResult.unknown("database state", str(exc)))
        raise


def _journal_event(release_journal: StageRecorder, event: str, **fields: Any) -> None:
    if release_journal.journal is not None:
        release_journal.journal.append(event, **fields)


# --- backup ----------------------------------------------------------------------------------------


@given("a verified backup of the database is taken")
@when("a verified backup of the database is taken")
def verified_backup(runbook: Runbook, evidence: Evidence, database_state_file: Path,
                    release_journal: StageRecorder) -> None:
    """pg_dump (custom format) verified with pg_restore --list and sha256; path and checksum go to the journal."""
    database = _database(runbook, evidence)
    result, record = backup.take_backup(_owner_dsn(database), project_path(runbook, database.backup.dir))
    if record is not None:
        def keep(state: DatabaseState) -> None:
            state.backup = record
            state.database = record.database
            state.record_revision_before(record.revision)

        dbstate.update_state(database_state_file, keep)
        _journal_event(release_journal, "database_backup", path=record.path, sha256=record.checksum,
                       size=record.size, database=record.database, revision=record.revision, tables=record.tables)
    evidence.require(result)


@given(parsers.parse("backups older than {days:d} days are removed"))
@when(parsers.parse("backups older than {days:d} days are removed"))
def old_backups_removed(days: int, runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """Removes releasegate backups in database.backup.dir older than N days (never this run's backup)."""
    _remove_backups(runbook, evidence, database_state_file, days)


@given("old backups are removed")
@when("old backups are removed")
def old_backups_removed_by_retention(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """Removes backups older than database.backup.retention_days."""
    _remove_backups(runbook, evidence, database_state_file, None)


def _remove_backups(runbook: Runbook, evidence: Evidence, state_file: Path, days: int | None) -> None:
    database = _database(runbook, evidence)
    state = _state(state_file, evidence)
    keep = (state.backup.path,) if state.backup else ()
    retention = database.backup.retention_days if days is None else days
    evidence.require(backup.cleanup_old_backups(project_path(runbook, database.backup.dir), retention, keep=keep))


@then("the backup is verified")
@read_only
def backup_is_verified(evidence: Evidence, database_state_file: Path) -> None:
    """The backup recorded in this run still has its checksum and a readable table of contents."""
    state = _state(database_state_file, evidence)
    if state.backup is None:
        evidence.require(CheckResult.unknown("backup verified", "no backup was taken in this run;"
                                             " use 'Given a verified backup of the database is taken' first"))
    assert state.backup is not None
    evidence.require(backup.verify_backup(state.backup))


# --- fingerprint -----------------------------------------------------------------------------------


@given("the data fingerprint is recorded")
@when("the data fingerprint is recorded")
@read_only
def fingerprint_recorded(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """Row counts and primary-key checksums of every user table, kept for the comparison after the release."""
    database = _database(runbook, evidence)
    result, taken = fingerprint.check_fingerprint(_owner_dsn(database))
    if taken is not None:
        dbstate.save_fingerprint(database_state_file, taken)
    evidence.require(result)


@then("no data written before the release is lost")
@read_only
def nothing_lost(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """Every row of the fingerprint recorded before the release (or of the backup) is still there."""
    database = _database(runbook, evidence)
    name = "no data written before the release is lost"
    before = _state(database_state_file, evidence).fingerprint_before()
    if before is None:
        evidence.require(CheckResult.unknown(name, "no fingerprint was recorded before the release; add 'Given the"
                                             " data fingerprint is recorded' (or a verified backup) earlier"))
    assert before is not None
    try:
        after = fingerprint.take_fingerprint(_owner_dsn(database))
    except Exception as exc:
        evidence.require(CheckResult.unknown(name, str(exc)))
        raise
    evidence.require(fingerprint.check_nothing_lost(before, after))


@then("a restore of the backup would lose no rows")
@read_only
def restore_would_lose_nothing(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """Counts, by table, the rows written since the backup (a restore would lose them); FAIL when there are any."""
    database = _database(runbook, evidence)
    name = "a restore of the backup would lose no rows"
    state = _state(database_state_file, evidence)
    taken = state.backup.fingerprint() if state.backup else None
    if taken is None:
        evidence.require(CheckResult.unknown(name, "no verified backup with a fingerprint in this run"))
    assert taken is not None
    try:
        now = fingerprint.take_fingerprint(_owner_dsn(database))
    except Exception as exc:
        evidence.require(CheckResult.unknown(name, str(exc)))
        raise
    lost = {table: diff.count for table, diff in fingerprint.rows_added(taken, now).items()}
    listing = ", ".join(f"{t}: {n} row(s)" for t, n in lost.items())
    evidence.require(CheckResult.judge(name, not lost, listing or "none", "none",
                                       evidence={"rows_written_since_backup": lost},
                                       detail=f"a restore would lose {listing}" if lost else ""))


# --- migrations ------------------------------------------------------------------------------------


@given("the schema version is recorded")
@read_only
def schema_version_recorded(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """The revision before the release (what a downgrade returns to), unless this run recorded it already."""
    database = _database(runbook, evidence)
    name = "schema version recorded"
    try:
        version = migrations.current_version(_owner_dsn(database), database.migrations.tool)
    except Exception as exc:
        evidence.require(CheckResult.unknown(name, str(exc)))
        raise
    state = dbstate.update_state(database_state_file, lambda s: s.record_revision_before(version))
    evidence.require(CheckResult.ok(name, version or "none (never migrated)", "a version",
                                    evidence={"revision_before_release": state.revision_before}))


@when("the migrations are applied")
@given("the migrations are applied")
def migrations_applied(runbook: Runbook, evidence: Evidence, database_state_file: Path,
                       release_journal: StageRecorder) -> None:
    """Upgrade to head (alembic on the host or in the container, or SQL files); records the rollback first."""
    database = _database(runbook, evidence)
    dsn = _owner_dsn(database)
    settings = _settings(runbook, database)
    try:
        before = migrations.current_version(dsn, settings.tool, step="migrate")
    except Exception as exc:
        evidence.require(CheckResult.fail("migrations applied to head", "not run", "at head", detail=str(exc)))
        raise
    state = dbstate.update_state(database_state_file, lambda s: s.record_revision_before(before))
    request = RollbackRequest(policy=database.rollback_policy, settings=settings,
                              state_file=str(database_state_file.resolve()),
                              runbook=str(runbook.path.resolve()) if runbook.path else None, state=state,
                              refuse_data_loss=database.restore_data_loss == "refuse")
    # recorded before the change: a migration killed halfway is still undone (every policy is idempotent)
    release_journal.stage_completed(ACTION, request.to_dict(), stage="migrate")
    result, run = migrations.apply_migrations(dsn, settings)

    def keep(s: DatabaseState) -> None:
        s.migration = run

    dbstate.update_state(database_state_file, keep)
    _journal_event(release_journal, "database_migration", **run.to_dict())
    evidence.require(result)


@then(parsers.parse('the schema version is "{version}"'))
@read_only
def schema_version_is(version: str, runbook: Runbook, evidence: Evidence) -> None:
    """alembic_version (or the newest schema_migrations version) equals the expected one."""
    database = _database(runbook, evidence)
    evidence.require(migrations.check_version(_owner_dsn(database), database.migrations.tool, version))


@then("the schema version is the one recorded before the release")
@read_only
def schema_version_is_previous(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """After a rollback: the schema is back at (downgrade, restore) the revision recorded before the release."""
    database = _database(runbook, evidence)
    state = _state(database_state_file, evidence)
    if not state.revision_before_known:
        evidence.require(CheckResult.unknown("schema version before the release", "no revision was recorded in this"
                                             " run ('Given the schema version is recorded')"))
    evidence.require(migrations.check_version(_owner_dsn(database), database.migrations.tool,
                                              state.revision_before or "none (never migrated)"))


@then("no migration is pending")
@read_only
def no_migration_pending(runbook: Runbook, evidence: Evidence) -> None:
    """The database is at the head of the migrations the release ships."""
    database = _database(runbook, evidence)
    evidence.require(migrations.check_no_pending(_owner_dsn(database), _settings(runbook, database)))


@then("the migration is reversible")
@then("the migrations are reversible")
def migration_reversible(runbook: Runbook, evidence: Evidence, database_state_file: Path) -> None:
    """upgrade -> downgrade (to the recorded revision) -> upgrade on a scratch copy of the database."""
    database = _database(runbook, evidence)
    state = _state(database_state_file, evidence)
    evidence.require(migrations.check_reversible(_owner_dsn(database), _settings(runbook, database),
                                                 down_to=state.revision_before,
                                                 down_to_known=state.revision_before_known,
                                                 creator_dsn=database.scratch_dsn))


@then(parsers.parse("the migrations finish within {seconds:g} seconds"))
@then(parsers.parse("the migration finishes within {seconds:g} seconds"))
@read_only
def migrations_within(seconds: float, evidence: Evidence, database_state_file: Path) -> None:
    """The recorded migration run of this release passed and took at most N seconds."""
    evidence.require(migrations.check_finished_within(_state(database_state_file, evidence).migration, seconds))


# --- least privilege and pool ----------------------------------------------------------------------


def _role_check(runbook: Runbook, evidence: Evidence, role: str | None, what: str,
                check: Callable[[str, str | None, str], CheckResult]) -> None:
    database = _database(runbook, evidence)
    if role is None and what == "read-only":
        evidence.require(unknown_name("read-only role", "set database.readonly_role to the read-only role's name"))
    # a named role is tried with SET ROLE from the owner's connection; without one, as the DSN's own user
    dsn = _owner_dsn(database) if role else database.dsn
    evidence.require(check(dsn, role, database.schema_name))


@then("the application role cannot create or drop tables")
@read_only
def app_role_least_privilege(runbook: Runbook, evidence: Evidence) -> None:
    """CREATE TABLE and DROP TABLE tried for real as database.app_role (or the DSN's user), then rolled back."""
    role = runbook.database.app_role if runbook.database else None
    _role_check(runbook, evidence, role, "application",
                lambda dsn, r, schema: dbsafety.check_cannot_create_or_drop(dsn, r, schema=schema))


@then("the read-only role can only select")
@read_only
def readonly_role_selects_only(runbook: Runbook, evidence: Evidence) -> None:
    """SELECT works on every table; INSERT/UPDATE/DELETE/TRUNCATE/CREATE are denied (tried, rolled back)."""
    role = runbook.database.readonly_role if runbook.database else None
    _role_check(runbook, evidence, role, "read-only",
                lambda dsn, r, schema: dbsafety.check_read_only(dsn, r, schema=schema))


@step(parsers.parse("the database allows a connection pool of {size:d} connections"))
@step(parsers.parse("the database allows a connection pool of {size:d} connections for {instances:d} instances"))
@read_only
def pool_fits(size: int, runbook: Runbook, evidence: Evidence, instances: int = 1) -> None:
    """max_connections less the reserved slots holds the pool of every instance."""
    database = _database(runbook, evidence)
    evidence.require(dbsafety.check_pool_fits(database.dsn, size, instances))


@step(parsers.parse('the database allows the connection pool in "{name}"'))
@step(parsers.parse('the database allows the connection pool in "{name}" for {instances:d} instances'))
@read_only
def pool_fits_variable(name: str, runbook: Runbook, evidence: Evidence, env_variables: Variables,
                       instances: int = 1) -> None:
    """The pool size is read from an environment variable such as DB_POOL_MAX_SIZE."""
    database = _database(runbook, evidence)
    value = env_variables.get(name)
    if value is None or not value.strip().isdigit():
        evidence.require(CheckResult.fail(f"connection pool in {name}", value or "not set", "an integer",
                                          detail=f"set {name} to the pool's maximum size"))
    assert value is not None
    evidence.require(dbsafety.check_pool_fits(database.dsn, int(value), instances))
