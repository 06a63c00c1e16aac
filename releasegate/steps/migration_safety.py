"""Migration safety steps: the safety lint (squawk) and lock bounds of the pending migrations, a backup
proven by a restore into a scratch database or by its age, and idempotent migrations.

Each step calls one method of ``checks.database.safety.SafetyStage``. The lint and the backup age only
read; the restore and the idempotency check create a scratch database (dropped afterwards), so they are
declared as changing things and do not run under --dry-run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd import parsers, step

from releasegate.checks.database.safety import SafetyStage
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.dryrun import changes, read_only
from releasegate.plugins.evidence import Evidence
from releasegate.plugins.journal import StageRecorder
from releasegate.steps._phrases import project_root


@pytest.fixture
def migration_safety(runbook: Runbook, database_state_file: Path, release_journal: StageRecorder) -> SafetyStage:
    """The safety gate of this scenario: the runbook's database section, the run's database state and journal."""
    return SafetyStage(runbook.name, runbook.database, project_root(runbook), database_state_file,
                       version=runbook.version_to, journal=release_journal.journal)


@step("the pending migrations pass the safety lint")
@read_only
def pending_migrations_pass_lint(migration_safety: SafetyStage, evidence: Evidence) -> None:
    """squawk on the pending migrations' SQL (alembic offline mode, or the SQL files); rules, waivers: lint."""
    evidence.require(migration_safety.lint())


@step(parsers.parse("the pending migrations take no lock longer than {seconds:g} seconds"))
@read_only
def pending_migrations_lock_bound(seconds: float, migration_safety: SafetyStage, evidence: Evidence) -> None:
    """lock_timeout, and statement_timeout for statements that scan or rewrite a table under lock, at most N s."""
    evidence.require(migration_safety.lock_time(seconds))


@step("the latest backup restores into a scratch database")
@changes
def latest_backup_restores(migration_safety: SafetyStage, evidence: Evidence) -> None:
    """Restores the newest verified backup into a new database, compares the fingerprint, drops the copy."""
    evidence.require(migration_safety.backup_restores())


@step(parsers.parse("a backup of the database was taken less than {hours:g} hours ago"))
@read_only
def backup_recent(hours: float, migration_safety: SafetyStage, evidence: Evidence) -> None:
    """The newest backup (this run's, else database.backup.dir's) verifies and is younger than N hours."""
    evidence.require(migration_safety.backup_age(hours))


@step("the migrations are idempotent")
@changes
def migrations_idempotent(migration_safety: SafetyStage, evidence: Evidence) -> None:
    """Upgrade to head twice on a scratch copy: the same pg_dump --schema-only after both."""
    evidence.require(migration_safety.idempotent())
