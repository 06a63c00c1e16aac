"""The database stage: connection, server and privilege checks, verified backups, data fingerprints,
the run's database state, migrations and their rollback, and the steps of the stage on that state.

- ``connection``: DSNs without their password, client binaries, one-line errors (``DatabaseError``);
- ``server``: accepts connections (over SSL), extensions, server version (preflight);
- ``privileges``: least privilege of the application and read-only roles, connection headroom;
- ``backup``: verified pg_dump backups, their retention and restore;
- ``fingerprint``: per-table row counts and key checksums, and what two of them say;
- ``schema_version``: the version a database says it is at;
- ``migrations``: alembic or SQL files, in a container or on the host, and the reversibility check;
- ``state``: what one run recorded (revision before, backup, fingerprint, migration run);
- ``rollback``: the runbook's rollback policy, run from the recorded state by the rollback plan;
- ``stage``: ``DatabaseStage``, one method per step of the stage;
- ``proven``: the latest backup restored into a scratch database, the newest backup's age;
- ``safety``: ``SafetyStage``, the migration safety gate's steps (lint, lock bounds, proven backup, idempotency).
"""

from releasegate.checks.database.backup import (
    BackupRecord,
    cleanup_old_backups,
    restore_backup,
    take_backup,
    verify_backup,
)
from releasegate.checks.database.connection import DatabaseError
from releasegate.checks.database.fingerprint import (
    Fingerprint,
    check_nothing_lost,
    rows_added,
    rows_missing,
    take_fingerprint,
)
from releasegate.checks.database.migrations import MigrationRun, MigrationSettings
from releasegate.checks.database.proven import check_backup_age, check_backup_restores, latest_backup
from releasegate.checks.database.rollback import ACTION as ROLLBACK_ACTION
from releasegate.checks.database.rollback import POLICIES, RollbackRequest, roll_back, rollback_action
from releasegate.checks.database.safety import SafetyStage
from releasegate.checks.database.stage import DatabaseStage, StageJournal, no_database_section
from releasegate.checks.database.state import DatabaseState, load_state, state_file_for, update_state

__all__ = [
    "POLICIES",
    "ROLLBACK_ACTION",
    "BackupRecord",
    "DatabaseError",
    "DatabaseStage",
    "DatabaseState",
    "Fingerprint",
    "MigrationRun",
    "MigrationSettings",
    "RollbackRequest",
    "SafetyStage",
    "StageJournal",
    "check_backup_age",
    "check_backup_restores",
    "check_nothing_lost",
    "cleanup_old_backups",
    "latest_backup",
    "load_state",
    "no_database_section",
    "restore_backup",
    "roll_back",
    "rollback_action",
    "rows_added",
    "rows_missing",
    "state_file_for",
    "take_backup",
    "take_fingerprint",
    "update_state",
    "verify_backup",
]
