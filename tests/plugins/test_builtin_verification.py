"""The built-in verification of a rollback no @post-rollback scenario verified, against a real PostgreSQL:
the schema at the revision recorded before the release, and no row recorded before it lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.database import PASSWORD, Db, sql_folder

from releasegate.checks.database import migrations
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.stage import DatabaseStage
from releasegate.checks.run.journal import Journal
from releasegate.checks.runbook.loader import load_runbook
from releasegate.plugins.journal import StageRecorder
from releasegate.plugins.rollback import builtin_verification

RUNBOOK = """
name: local
release:
  version: "1.1.0"
  previous_version: "1.0.0"
database:
  dsn: postgresql://postgres:${{RG_ADMIN_DB_PASSWORD}}@127.0.0.1:{port}/{name}
  migrations:
    tool: sql
    path: migrations
"""


def test_the_database_checks_run_on_what_the_run_recorded(db: Db, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = sql_folder(tmp_path / "migrations")
    (folder / "0003_items_description.sql").rename(tmp_path / "0003_items_description.sql")
    assert migrations.apply_migrations(db.dsn, MigrationSettings(tool="sql", path=str(folder)))[0].passed
    db.sql("INSERT INTO items (name) VALUES ('a'), ('b')")
    monkeypatch.setenv("RG_ADMIN_DB_PASSWORD", PASSWORD)
    (tmp_path / "runbooks").mkdir()
    path = tmp_path / "runbooks" / "local.yaml"
    path.write_text(RUNBOOK.format(port=db.cluster.port, name=db.name))
    runbook = load_runbook(path)
    journal = Journal.create(tmp_path / "reports" / "journal", "run")
    assert builtin_verification(runbook, journal) == []  # the run never touched the database: nothing to check

    stage = DatabaseStage(runbook.name, runbook.database, tmp_path, dbstate.state_file_for(journal, tmp_path),
                          StageRecorder(journal, None), runbook_path=path)
    assert stage.record_schema_version().passed and stage.record_fingerprint().passed
    assert [(r.name, r.outcome.value) for r in builtin_verification(runbook, journal)] == [
        ("schema version is 0002", "PASS"), ("no data written before the release is lost", "PASS")]

    db.sql("DELETE FROM items WHERE name = 'a'")
    (tmp_path / "0003_items_description.sql").rename(folder / "0003_items_description.sql")
    assert migrations.apply_migrations(db.dsn, MigrationSettings(tool="sql", path=str(folder)))[0].passed
    schema, lost = builtin_verification(runbook, journal)
    assert schema.failed and schema.observed == "0003"
    assert lost.failed and "items" in lost.summary()
