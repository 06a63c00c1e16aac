"""Database stage steps: verified backup, migrations, schema version, least privilege, nothing lost.

Each step calls one method of ``checks.database.stage.DatabaseStage``, which records what a
scenario leaves for later ones (backup, fingerprint, revision before the release, migration run)
in the run's database state file beside the journal, and journals the undo before a change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd import given, parsers, step, then, when

from releasegate.checks.database import state as dbstate
from releasegate.checks.database.stage import DatabaseStage
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.dryrun import changes, read_only
from releasegate.plugins.evidence import Evidence
from releasegate.plugins.journal import StageRecorder
from releasegate.steps._phrases import project_path, project_root


@pytest.fixture
def database_state_file(runbook: Runbook, release_journal: StageRecorder) -> Path:
    """The run's database state file: beside the journal, or reports/journal/database-state.json."""
    return dbstate.state_file_for(release_journal.journal, project_path(runbook, "reports/journal"))


@pytest.fixture
def database_stage(runbook: Runbook, database_state_file: Path, release_journal: StageRecorder) -> DatabaseStage:
    """The database stage of this scenario: the runbook's database section, the run's state and journal."""
    return DatabaseStage(runbook.name, runbook.database, project_root(runbook), database_state_file, release_journal,
                         runbook_path=runbook.path, version=runbook.version_to)


# --- backup ----------------------------------------------------------------------------------------


@given("a verified backup of the database is taken")
@when("a verified backup of the database is taken")
@changes
def verified_backup(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """pg_dump (custom format) verified with pg_restore --list and sha256; path and checksum go to the journal."""
    evidence.require(database_stage.take_backup())


@given(parsers.parse("backups older than {days:d} days are removed"))
@when(parsers.parse("backups older than {days:d} days are removed"))
@changes
def old_backups_removed(days: int, database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Removes releasegate backups in database.backup.dir older than N days (never this run's backup)."""
    evidence.require(database_stage.remove_old_backups(days))


@given("old backups are removed")
@when("old backups are removed")
@changes
def old_backups_removed_by_retention(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Removes backups older than database.backup.retention_days."""
    evidence.require(database_stage.remove_old_backups())


@then("the backup is verified")
@read_only
def backup_is_verified(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """The backup recorded in this run still has its checksum and a readable table of contents."""
    evidence.require(database_stage.verify_backup())


# --- fingerprint -----------------------------------------------------------------------------------


@given("the data fingerprint is recorded")
@when("the data fingerprint is recorded")
@read_only
def fingerprint_recorded(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Row counts and primary-key checksums of every user table, kept for the comparison after the release."""
    evidence.require(database_stage.record_fingerprint())


@then("no data written before the release is lost")
@read_only
def nothing_lost(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Every row of the fingerprint recorded before the release (or of the backup) is still there."""
    evidence.require(database_stage.check_nothing_lost())


@then("a restore of the backup would lose no rows")
@read_only
def restore_would_lose_nothing(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Counts, by table, the rows written since the backup (a restore would lose them); FAIL when there are any."""
    evidence.require(database_stage.check_restore_loses_nothing())


# --- migrations ------------------------------------------------------------------------------------


@given("the schema version is recorded")
@read_only
def schema_version_recorded(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """The revision before the release (what a downgrade returns to), unless this run recorded it already."""
    evidence.require(database_stage.record_schema_version())


@when("the migrations are applied")
@given("the migrations are applied")
@changes
def migrations_applied(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """Upgrade to head (alembic on the host or in the container, or SQL files); records the rollback first."""
    evidence.require(database_stage.migrate())


@then(parsers.parse('the schema version is "{version}"'))
@read_only
def schema_version_is(version: str, database_stage: DatabaseStage, evidence: Evidence) -> None:
    """alembic_version (or the newest schema_migrations version) equals the expected one."""
    evidence.require(database_stage.check_version(version))


@then("the schema version is the one recorded before the release")
@read_only
def schema_version_is_previous(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """After a rollback: the schema is back at (downgrade, restore) the revision recorded before the release."""
    evidence.require(database_stage.check_version_before_release())


@then("no migration is pending")
@read_only
def no_migration_pending(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """The database is at the head of the migrations the release ships."""
    evidence.require(database_stage.check_no_pending())


@then("the migration is reversible")
@then("the migrations are reversible")
@changes
def migration_reversible(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """upgrade -> downgrade (to the recorded revision) -> upgrade on a scratch copy of the database."""
    evidence.require(database_stage.check_reversible())


@then(parsers.parse("the migrations finish within {seconds:g} seconds"))
@then(parsers.parse("the migration finishes within {seconds:g} seconds"))
@read_only
def migrations_within(seconds: float, database_stage: DatabaseStage, evidence: Evidence) -> None:
    """The recorded migration run of this release passed and took at most N seconds."""
    evidence.require(database_stage.check_migration_time(seconds))


# --- least privilege and pool ----------------------------------------------------------------------


@then("the application role cannot create or drop tables")
@read_only
def app_role_least_privilege(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """CREATE TABLE and DROP TABLE tried for real as database.app_role (or the DSN's user), then rolled back."""
    evidence.require(database_stage.check_app_role())


@then("the read-only role can only select")
@read_only
def readonly_role_selects_only(database_stage: DatabaseStage, evidence: Evidence) -> None:
    """SELECT works on every table; INSERT/UPDATE/DELETE/TRUNCATE/CREATE are denied (tried, rolled back)."""
    evidence.require(database_stage.check_readonly_role())


@step(parsers.parse("the database allows a connection pool of {size:d} connections"))
@step(parsers.parse("the database allows a connection pool of {size:d} connections for {instances:d} instances"))
@read_only
def pool_fits(size: int, database_stage: DatabaseStage, evidence: Evidence, instances: int = 1) -> None:
    """max_connections less the reserved slots holds the pool of every instance."""
    evidence.require(database_stage.check_pool(size, instances))


@step(parsers.parse('the database allows the connection pool in "{name}"'))
@step(parsers.parse('the database allows the connection pool in "{name}" for {instances:d} instances'))
@read_only
def pool_fits_variable(name: str, database_stage: DatabaseStage, evidence: Evidence, env_variables: Variables,
                       instances: int = 1) -> None:
    """The pool size is read from an environment variable such as DB_POOL_MAX_SIZE."""
    evidence.require(database_stage.check_pool_in_variable(name, env_variables.get(name), instances))
