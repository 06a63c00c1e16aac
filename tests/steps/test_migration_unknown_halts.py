"""PostgreSQL stopped during the migrate stage of a release: the revision is "unknown" in the journal and the
sign-off, and the decision is HALTED for a person (nothing is rolled back on a guess)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.database import PASSWORD, Db, sql_folder, stop_while_migrating

from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.run.journal import Journal
from releasegate.localstack.postgres import PostgresCluster

RUNBOOK = """
name: local
release:
  version: "1.1.0"
  previous_version: "1.0.0"
database:
  dsn: postgresql://postgres:${{RG_ADMIN_DB_PASSWORD}}@127.0.0.1:{port}/{name}
  rollback_policy: downgrade
  migrations:
    tool: sql
    path: migrations
"""

FEATURE = """
Feature: Release
  @migrate @critical
  Scenario: migrations
    Given the schema version is recorded
    When the migrations are applied
"""


def test_postgresql_stopped_mid_migration_is_halted_with_the_revision_unknown(
        rg_project: Callable[..., pytest.Pytester], pg: PostgresCluster, db: Db, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(tool="sql", path=str(
        sql_folder(tmp_path / "old", third=None))))[0].passed
    monkeypatch.setenv("RG_ADMIN_DB_PASSWORD", PASSWORD)
    pytester = rg_project(runbooks={"local": RUNBOOK.format(port=pg.port, name=db.name)},
                          features={"release": FEATURE})
    folder = sql_folder(pytester.path / "migrations", third=None)
    (folder / "0003_items_description.sql").write_text("SELECT pg_sleep(30);\n")

    stopper = stop_while_migrating(pg, db, wait_s=60)
    try:
        result = pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
    finally:
        stopper.join()
        pg.start()
    output = result.stdout.str()
    assert result.ret == 10, output
    assert "decision: HALTED - inconclusive critical check in migrations: needs a person" in output
    journal = Journal.latest(pytester.path / "reports" / "journal")
    assert journal is not None
    event = journal.last("database_migration")
    assert event is not None and (event["revision_after"], event["left_at_previous"]) == ("unknown", "unknown")
    assert journal.events("rollback_started") == []
    signoff = (pytester.path / "reports" / "signoff.md").read_text()
    assert "the revision after the migration could not be read" in signoff and "): unknown; a person" in signoff
    assert migrations.current_version(db.dsn, "sql") == "0002"
