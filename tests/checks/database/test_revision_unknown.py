"""PostgreSQL stopped during a migration: the revision after it is recorded as unknown, never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.database import Db, sql_folder, stop_while_migrating

from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.stage import DatabaseStage
from releasegate.checks.run.changes import Change
from releasegate.checks.run.journal import Journal
from releasegate.checks.runbook.model import Database, Migrations
from releasegate.localstack.postgres import PostgresCluster

SLOW_0003 = "SELECT pg_sleep(30);\nALTER TABLE items ADD COLUMN description text;\n"


class Recorder:
    """The plugins' recorder, as far as the stage needs it: the undo goes to the real journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def stage_completed(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> None:
        self.journal.stage_completed(stage or "migrate", action, params)

    def change(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> Change:
        return Change(self.journal, stage or "migrate", action, params)


def folder_at_0002_with_a_slow_0003(db: Db, tmp_path: Path) -> Path:
    old = sql_folder(tmp_path / "old", third=None)
    assert migrations.apply_migrations(db.dsn, MigrationSettings(tool="sql", path=str(old)))[0].passed
    new = sql_folder(tmp_path / "new", third=None)
    (new / "0003_items_description.sql").write_text(SLOW_0003)
    return new


def test_a_server_stopped_mid_migration_leaves_the_revision_unknown(pg: PostgresCluster, db: Db,
                                                                    tmp_path: Path) -> None:
    settings = MigrationSettings(tool="sql", path=str(folder_at_0002_with_a_slow_0003(db, tmp_path)))
    thread = stop_while_migrating(pg, db)
    try:
        result, run = migrations.apply_migrations(db.dsn, settings)
    finally:
        thread.join()
        pg.start()
    assert result.inconclusive, result.summary()  # a person decides: never FAIL "left at none", never PASS
    assert run.revision_after_known is False and run.left_at_previous is None and run.revision_before == "0002"
    assert "the revision after the migration could not be read" in result.detail and "unknown" in result.detail
    assert result.evidence["revision_after"] == "unknown"
    assert migrations.check_finished_within(run, 60).inconclusive
    assert migrations.current_version(db.dsn, "sql") == "0002"  # what it really was: the guess would have been none


def test_the_stage_journals_the_unknown_revision(pg: PostgresCluster, db: Db, tmp_path: Path) -> None:
    folder = folder_at_0002_with_a_slow_0003(db, tmp_path)
    journal = Journal.create(tmp_path / "journal", "run-1")
    stage = DatabaseStage("local", Database(dsn=db.dsn, migrations=Migrations(tool="sql", path=str(folder))),
                          tmp_path, tmp_path / "journal" / "run-1.database.json", Recorder(journal))
    thread = stop_while_migrating(pg, db)
    try:
        result = stage.migrate()
    finally:
        thread.join()
        pg.start()
    assert result.inconclusive, result.summary()
    event = journal.last("database_migration")
    assert event is not None
    assert (event["revision_before"], event["revision_after"], event["left_at_previous"]) == ("0002", "unknown",
                                                                                             "unknown")
    assert event["revision_after_known"] is False
    assert [step.action for step in journal.plan()] == ["database.rollback"]  # the undo was journaled first
