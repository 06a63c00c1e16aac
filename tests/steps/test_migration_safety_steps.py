"""The migration safety phrases from a .feature file against a real PostgreSQL, and under --dry-run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.database import PASSWORD, Db

from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings

DEMO = REPO_ROOT / "demo" / "migrations"

RUNBOOK = """
name: local
database:
  dsn: postgresql://postgres:${{RG_ADMIN_DB_PASSWORD}}@127.0.0.1:{port}/{name}
  migrations:
    path: migrations
    lint:
      waivers:
        - {{rule: ban-drop-column, migration: "0009", reason: "not in this release"}}
  backup:
    dir: backups
"""

FEATURE = """
Feature: Migration safety
  @preflight @critical
  Scenario: lint
    Given the pending migrations pass the safety lint
    Then the pending migrations take no lock longer than 10 seconds

  @backup @critical
  Scenario: proven backup
    Given a verified backup of the database is taken
    Then the latest backup restores into a scratch database
    And a backup of the database was taken less than 1 hours ago
    And the migrations are idempotent
"""


def _demo(target: Path, revisions: int) -> Path:
    (target / "versions").mkdir(parents=True)
    shutil.copy(DEMO / "env.py", target / "env.py")
    for script in sorted((DEMO / "versions").glob("*.py"))[:revisions]:
        shutil.copy(script, target / "versions" / script.name)
    return target


@pytest.fixture
def project(rg_project: Callable[..., pytest.Pytester], db: Db, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(path=str(_demo(tmp_path / "old", 2))))[0].passed
    db.sql("INSERT INTO items (name) VALUES ('a'), ('b')")
    monkeypatch.setenv("RG_ADMIN_DB_PASSWORD", PASSWORD)
    pytester = rg_project(runbooks={"local": RUNBOOK.format(port=db.cluster.port, name=db.name)},
                          features={"release": FEATURE})
    _demo(pytester.path / "migrations", 3)
    return pytester


def _events(pytester: pytest.Pytester, kind: str) -> list[dict[str, object]]:
    journal_dir = pytester.path / "reports" / "journal"
    run = (journal_dir / "latest").read_text().strip()
    lines = (journal_dir / f"{run}.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_the_safety_gate_passes_and_changes_nothing_live(project: pytest.Pytester, db: Db) -> None:
    result = project.runpytest("features/release.feature", "--env", "local", "-rs")
    result.assert_outcomes(passed=2)
    [linted] = _events(project, "migration_lint")
    assert linted["outcome"] == "PASS" and linted["migrations"] == ["0003"] and linted["failing"] == []
    assert linted["unused_waivers"] == [{"rule": "ban-drop-column", "migration": "0009",
                                         "reason": "not in this release"}]
    assert migrations.current_version(db.dsn, "alembic") == "0002"  # lint, restore and idempotency touch no row
    assert db.sql("SELECT count(*) FROM pg_database WHERE datname LIKE '%rg_scratch%'") == "0"
    assert PASSWORD not in result.stdout.str()


def test_dry_run_lints_and_skips_the_scratch_databases(project: pytest.Pytester, db: Db) -> None:
    result = project.runpytest("features/release.feature", "--env", "local", "--dry-run", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("skipped") == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*dry run*"])
    assert not (project.path / "backups").exists() or not list((project.path / "backups").iterdir())


def test_a_failing_lint_names_the_migration_line_and_rule(project: pytest.Pytester, db: Db) -> None:
    (project.path / "migrations" / "versions" / "0004_items_rename.py").write_text(
        '"""Rename a column 1.0.0 reads."""\n\nfrom alembic import op\n\nrevision = "0004"\ndown_revision = "0003"\n'
        'branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n'
        '    op.alter_column("items", "name", new_column_name="title")\n\n\ndef downgrade() -> None:\n'
        '    op.alter_column("items", "title", new_column_name="name")\n')
    result = project.runpytest("features/release.feature", "--env", "local", "-rs", "-k", "lint")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*the pending migrations pass the safety lint: FAIL*0004 line 1: renaming-column*"])
    assert _events(project, "migration_lint")[0]["failing"] == ["0004:1 renaming-column"]
    assert migrations.current_version(db.dsn, "alembic") == "0002"


def test_without_a_database_section_the_gate_is_inconclusive(tmp_path: Path) -> None:
    from releasegate.checks.database.safety import SafetyStage

    stage = SafetyStage("local", None, tmp_path, tmp_path / "state.json")
    for result in (stage.lint(), stage.lock_time(5), stage.backup_restores(), stage.backup_age(1), stage.idempotent()):
        assert result.inconclusive and "has no database section" in result.detail
