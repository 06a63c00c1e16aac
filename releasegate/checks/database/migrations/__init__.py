"""Schema migrations: alembic (on the host or inside the service's container) or ordered SQL files.

- ``settings``: how migrations run (``MigrationSettings``, from the runbook) and what a run did
  (``MigrationRun``);
- ``runner``: the tool-independent operations: current version, pending, upgrade to head,
  downgrade, and the checks on them;
- ``alembic``, ``sqlfiles``: the two tools; ``container``: ``docker exec`` in the service's
  container or a one-off ``docker run`` of the release's image;
- ``reversible``: upgrade -> downgrade -> upgrade on a scratch copy of the database;
- ``lint``: the safety lint (squawk) and lock bounds of the pending migrations' SQL;
- ``idempotent``: upgrade to head twice on a scratch copy, the same ``pg_dump --schema-only``.
"""

from releasegate.checks.database.migrations.alembic import DEFAULT_CONTAINER_COMMAND
from releasegate.checks.database.migrations.idempotent import check_idempotent
from releasegate.checks.database.migrations.lint import check_lint, check_lock_time, lint_pending
from releasegate.checks.database.migrations.reversible import check_reversible, schema_shape, scratch_copy
from releasegate.checks.database.migrations.runner import (
    ancestors,
    apply_migrations,
    check_finished_within,
    check_no_pending,
    check_version,
    current_version,
    downgrade,
    heads,
    pending,
)
from releasegate.checks.database.migrations.settings import MigrationRun, MigrationSettings, settings_for
from releasegate.checks.database.migrations.sqlfiles import files as sql_files

__all__ = [
    "DEFAULT_CONTAINER_COMMAND",
    "MigrationRun",
    "MigrationSettings",
    "ancestors",
    "apply_migrations",
    "check_finished_within",
    "check_idempotent",
    "check_lint",
    "check_lock_time",
    "check_no_pending",
    "check_reversible",
    "check_version",
    "current_version",
    "downgrade",
    "heads",
    "lint_pending",
    "pending",
    "schema_shape",
    "scratch_copy",
    "settings_for",
    "sql_files",
]
