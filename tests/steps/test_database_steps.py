"""The database step phrases from a .feature file: a passing stage, and a critical failure rolled back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.database import APP_PASSWORD, PASSWORD, Db, alembic_folder

from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings

RUNBOOK = """
name: local
database:
  dsn: postgresql://app:${{RG_APP_DB_PASSWORD}}@127.0.0.1:{port}/{name}
  admin_dsn: postgresql://postgres:${{RG_ADMIN_DB_PASSWORD}}@127.0.0.1:{port}/{name}
  app_role: app
  readonly_role: reader
  rollback_policy: {policy}
  migrations:
    path: migrations
  backup:
    dir: backups
    retention_days: 30
"""

STAGE = """
Feature: Database stage
  @backup @critical
  Scenario: verified backup
    Given backups older than 30 days are removed
    And the data fingerprint is recorded
    And a verified backup of the database is taken
    Then the backup is verified

  @migrate @critical
  Scenario: migrations
    When the migrations are applied
    Then the schema version is "{version}"
    And no migration is pending
    And the migrations finish within 60 seconds
    And the migration is reversible
    And no data written before the release is lost

  @smoke
  Scenario: least privilege
    Then the application role cannot create or drop tables
    And the read-only role can only select
    And the database allows a connection pool of 10 connections for 2 instances

  @post-rollback
  Scenario: database back as before
    Then the schema version is the one recorded before the release
    And no data written before the release is lost
"""


@pytest.fixture
def project(rg_project: Callable[..., pytest.Pytester], db: Db, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], pytest.Pytester]:
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None)))
    migrations.apply_migrations(db.dsn, settings)
    db.sql("INSERT INTO items (name) VALUES ('a'), ('b'); INSERT INTO orders (item_id, quantity) VALUES (1, 3);"
           "REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO app, reader;"
           "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;"
           "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    monkeypatch.setenv("RG_APP_DB_PASSWORD", APP_PASSWORD)
    monkeypatch.setenv("RG_ADMIN_DB_PASSWORD", PASSWORD)

    def make(policy: str, version: str) -> pytest.Pytester:
        runbook = RUNBOOK.format(port=db.cluster.port, name=db.name, policy=policy)
        pytester = rg_project(runbooks={"local": runbook}, features={"release": STAGE.format(version=version)})
        alembic_folder(pytester.path / "migrations")
        return pytester

    return make


def _events(pytester: pytest.Pytester, kind: str) -> list[dict[str, object]]:
    journal_dir = pytester.path / "reports" / "journal"
    run = (journal_dir / "latest").read_text().strip()
    lines = (journal_dir / f"{run}.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_database_stage_passes(project: Callable[[str, str], pytest.Pytester], db: Db) -> None:
    pytester = project("downgrade", "0003")
    result = pytester.runpytest("features/release.feature", "--env", "local", "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    assert migrations.current_version(db.dsn, "alembic") == "0003"
    backups = _events(pytester, "database_backup")
    assert len(backups) == 1 and backups[0]["revision"] == "0002" and len(str(backups[0]["sha256"])) == 64
    assert Path(str(backups[0]["path"])).is_file()
    assert _events(pytester, "database_migration")[0]["revision_after"] == "0003"
    recorded = _events(pytester, "change_intended")  # journaled before the upgrade, then done
    assert recorded[0]["undo"]["action"] == "database.rollback"  # type: ignore[index]
    assert [e["key"] for e in _events(pytester, "change_done")] == [recorded[0]["id"]]
    assert PASSWORD not in result.stdout.str() and APP_PASSWORD not in result.stdout.str()


def test_critical_migration_failure_restores_the_backup(project: Callable[[str, str], pytest.Pytester],
                                                        db: Db) -> None:
    pytester = project("restore", "9999")
    result = pytester.runpytest("features/release.feature", "--env", "local", "-rs", "-v")
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed", 0) == 2, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_database_back_as_before PASSED*"])
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    done = _events(pytester, "rollback_action_done")
    assert [e["action"] for e in done] == ["database.rollback"] and done[0]["outcome"] == "PASS", done
    assert db.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items") == "a,b"
    assert PASSWORD not in result.stdout.str()


def test_wrong_password_fails_in_one_line_without_the_password(project: Callable[[str, str], pytest.Pytester],
                                                               monkeypatch: pytest.MonkeyPatch, db: Db) -> None:
    pytester = project("freeze", "0003")
    monkeypatch.setenv("RG_ADMIN_DB_PASSWORD", "Wrong-Admin-Password-77")
    result = pytester.runpytest("features/release.feature", "--env", "local", "-rs", "-k", "migrations")
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"*migrate: database '{db.name}' (postgresql://postgres:*****@127.0.0.1:*"
                                 "wrong password (password authentication failed)*"])
    assert "Wrong-Admin-Password-77" not in result.stdout.str()
    assert migrations.current_version(db.dsn, "alembic") == "0002"


def test_state_is_shared_between_xdist_workers(project: Callable[[str, str], pytest.Pytester], db: Db) -> None:
    pytester = project("downgrade", "9999")
    result = pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2", "-rs", "-v")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*PASSED*test_database_back_as_before*"])
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    done = _events(pytester, "rollback_action_done")
    assert [e["outcome"] for e in done] == ["PASS"], done


def test_a_migration_that_did_not_run_changed_nothing_so_its_critical_failure_is_blocked(
        project: Callable[[str, str], pytest.Pytester], db: Db) -> None:
    pytester = project("downgrade", "0003")
    alembic_folder(pytester.path / "migrations", third="syntax")  # the scripts do not import: the upgrade never starts
    result = pytester.runpytest("features/release.feature", "--env", "local", "-rs", "-v")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*migrations applied to head: FAIL (observed not run*",
                                 "decision: BLOCKED - critical failure in migrations; nothing to roll back: no stage"
                                 " had changed anything; nothing was changed"])
    intended, failed = _events(pytester, "change_intended"), _events(pytester, "change_failed")
    assert [e["undo"]["action"] for e in intended] == ["database.rollback"]  # type: ignore[index]
    assert [(e["key"], e["made"]) for e in failed] == [(intended[0]["id"], False)]
    assert _events(pytester, "rollback_started") == []
    assert migrations.current_version(db.dsn, "alembic") == "0002"
