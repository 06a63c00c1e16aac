"""The migration safety gate of one release run: the lint and lock bounds of the pending migrations, the
proven backup (restored into a scratch database, recent enough) and idempotent migrations.

One method per step, on the runbook's ``database`` section and the run's database state, like
``stage.DatabaseStage``; the DSN is ``database.admin_dsn`` (the migration owner) or ``database.dsn``,
scratch databases are made by ``database.scratch_dsn`` when set. Without a database section every
method is INCONCLUSIVE with the section to add. The lint's verdict, with every waiver applied (rule,
migration, line, reason) and every waiver that matched nothing, goes to the run journal
(``migration_lint`` event), which is part of the sign-off record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import migrations, proven
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.backup import BackupRecord
from releasegate.checks.database.migrations import idempotent, lint
from releasegate.checks.database.stage import no_database_section
from releasegate.checks.result import CheckResult
from releasegate.checks.run.journal import Journal
from releasegate.checks.runbook.model import Database


@dataclass
class SafetyStage:
    runbook_name: str
    database: Database | None
    root: Path
    state_file: Path
    version: str | None = None  # the release's version: {version} in a migration image
    journal: Journal | None = None

    def _settings(self, database: Database) -> migrations.MigrationSettings:
        return migrations.settings_for(database.migrations, self.root, self.version)

    def lint(self) -> CheckResult:
        if self.database is None:
            return no_database_section(self.runbook_name)
        owner = self.database.admin_dsn or self.database.dsn
        result = lint.check_lint(owner, self._settings(self.database), self.database.migrations.lint)
        if self.journal is not None:
            self.journal.append("migration_lint", outcome=result.outcome.value, observed=result.observed,
                                migrations=[m["name"] for m in result.evidence.get("migrations", [])],
                                failing=[f"{f['migration']}:{f['line']} {f['rule']}"
                                         for f in result.evidence.get("findings", []) if f["verdict"] == "fail"],
                                waived=result.evidence.get("waived", []),
                                unused_waivers=result.evidence.get("unused_waivers", []))
        return result

    def lock_time(self, seconds: float) -> CheckResult:
        if self.database is None:
            return no_database_section(self.runbook_name)
        owner = self.database.admin_dsn or self.database.dsn
        return lint.check_lock_time(owner, self._settings(self.database), self.database.migrations.lint, seconds)

    def idempotent(self) -> CheckResult:
        if self.database is None:
            return no_database_section(self.runbook_name)
        owner = self.database.admin_dsn or self.database.dsn
        return idempotent.check_idempotent(owner, self._settings(self.database),
                                           creator_dsn=self.database.scratch_dsn)

    def latest_backup(self, database: Database) -> BackupRecord | None:
        try:
            recorded = dbstate.load_state(self.state_file).backup
        except ValueError:
            recorded = None  # an unreadable state file: the folder's backups still count
        name = dbconn.database_name_safe(database.admin_dsn or database.dsn)
        return proven.latest_backup(recorded, self.root / Path(database.backup.dir).expanduser(), name)

    def backup_restores(self) -> CheckResult:
        if self.database is None:
            return no_database_section(self.runbook_name)
        owner = self.database.admin_dsn or self.database.dsn
        return proven.check_backup_restores(self.latest_backup(self.database), owner,
                                            creator_dsn=self.database.scratch_dsn)

    def backup_age(self, hours: float) -> CheckResult:
        if self.database is None:
            return no_database_section(self.runbook_name)
        return proven.check_backup_age(self.latest_backup(self.database), hours)
