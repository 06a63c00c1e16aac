"""The database rollback policies, from recorded (JSON) state, against a real PostgreSQL cluster."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.database import PASSWORD, Db, alembic_folder

from releasegate.checks.database import backup, fingerprint, migrations
from releasegate.checks.database import rollback as dbrollback
from releasegate.checks.database import state as dbstate
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.rollback import ACTION, RollbackRequest
from releasegate.checks.database.state import DatabaseState
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.rollback_plan import execute_plan


@pytest.fixture
def released(db: Db, tmp_path: Path) -> tuple[Db, MigrationSettings, Path]:
    """A database at 0002 with data, backed up and fingerprinted, then migrated to 0003 (the release)."""
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "m")))
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    db.sql("INSERT INTO items (name) VALUES ('a'), ('b'), ('c'); INSERT INTO orders (item_id, quantity) VALUES (1, 5)")
    state_file = tmp_path / "journal" / "run.database.json"
    _, record = backup.take_backup(db.dsn, tmp_path / "backups")
    assert record is not None

    def keep(state: DatabaseState) -> None:
        state.backup = record
        state.record_revision_before(record.revision)

    dbstate.update_state(state_file, keep)
    dbstate.save_fingerprint(state_file, fingerprint.take_fingerprint(db.dsn))
    _, run = migrations.apply_migrations(db.dsn, settings)
    dbstate.update_state(state_file, lambda s: setattr(s, "migration", run))
    return db, settings, state_file


def test_app_only_touches_nothing_and_accepts_a_later_revision(released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    state = dbstate.load_state(state_file)
    result = dbrollback.roll_back("app-only", db.dsn, settings, state)
    assert result.passed and "0003" in str(result.observed) and "not touched" in result.detail
    assert migrations.current_version(db.dsn, "alembic") == "0003"
    migrations.downgrade(db.dsn, settings, "0001")
    too_old = dbrollback.roll_back("app-only", db.dsn, settings, state)
    assert too_old.failed and "not 0002 nor a descendant" in too_old.detail
    assert dbrollback.roll_back("app-only", db.dsn, settings, DatabaseState()).inconclusive


def test_downgrade_returns_to_the_recorded_revision_without_losing_rows(
        released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    db.sql("UPDATE items SET description = 'new column data'")
    result = dbrollback.roll_back("downgrade", db.dsn, settings, dbstate.load_state(state_file))
    assert result.passed, result.summary()
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    checks = {c["name"]: c["outcome"] for c in result.evidence["checks"]}
    assert checks["schema version after the rollback is 0002"] == "PASS"
    assert checks["after the rollback no data written before the release is lost"] == "PASS"


def test_downgrade_fails_when_rows_from_before_the_release_are_gone(
        released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    db.sql("DELETE FROM items WHERE name = 'c'")
    result = dbrollback.roll_back("downgrade", db.dsn, settings, dbstate.load_state(state_file))
    assert result.failed and "public.items: 1 row(s) missing" in result.detail


def test_restore_counts_and_saves_the_rows_it_loses(released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    db.sql("INSERT INTO items (name, description) VALUES ('after-1', 'x'), ('after-2', 'y');"
           "INSERT INTO orders (item_id, quantity) VALUES (2, 1)")
    result = dbrollback.roll_back("restore", db.dsn, settings, dbstate.load_state(state_file))
    assert result.passed, result.summary()
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    assert db.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items") == "a,b,c"
    assert "public.items: 2 row(s)" in result.detail and "public.orders: 1 row(s)" in result.detail
    action = result.evidence["checks"][0]["evidence"]
    assert action["rows_lost_by_restore"] == {"public.items": 2, "public.orders": 1}
    with open(action["lost_rows_saved_to"]["public.items"], newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert sorted(row["name"] for row in saved) == ["after-1", "after-2"]


def test_restore_refused_when_it_would_lose_rows(released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    db.sql("INSERT INTO items (name) VALUES ('after')")
    result = dbrollback.roll_back("restore", db.dsn, settings, dbstate.load_state(state_file), refuse_data_loss=True)
    assert result.failed and "public.items: 1" in result.detail and "a person must decide" in result.detail
    assert migrations.current_version(db.dsn, "alembic") == "0003"  # not touched


def test_restore_without_a_backup_needs_a_person(db: Db) -> None:
    result = dbrollback.roll_back("restore", db.dsn, MigrationSettings(), DatabaseState())
    assert result.failed and "no verified backup" in str(result.observed)


def test_freeze_touches_nothing_and_asks_for_a_person(released: tuple[Db, MigrationSettings, Path]) -> None:
    db, settings, state_file = released
    state = dbstate.load_state(state_file)
    result = dbrollback.roll_back("freeze", db.dsn, settings, state)
    assert result.inconclusive
    assert "a person must decide" in result.detail and "at revision 0003 (before the release: 0002)" in result.detail
    assert state.backup is not None and state.backup.path in result.detail
    assert migrations.current_version(db.dsn, "alembic") == "0003"


def _runbook(tmp_path: Path, db: Db) -> Path:
    path = tmp_path / "runbooks" / "test.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"name: test\ndatabase:\n  dsn: postgresql://postgres:${{RG_TEST_DB_PASSWORD}}@127.0.0.1:"
                    f"{db.cluster.port}/{db.name}\n")
    return path


def test_rollback_action_from_journal_json(released: tuple[Db, MigrationSettings, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db, settings, state_file = released
    monkeypatch.setenv("RG_TEST_DB_PASSWORD", PASSWORD)
    request = RollbackRequest("downgrade", settings, str(state_file), str(_runbook(tmp_path, db)),
                              dbstate.load_state(state_file))
    journal = Journal.create(tmp_path / "journal", "run-1", make_latest=False)
    journal.stage_completed("migrate", ACTION, json.loads(json.dumps(request.to_dict())))
    assert PASSWORD not in journal.path.read_text()
    report = execute_plan(journal, trigger="test")
    assert report.ran and report.outcome.value == "PASS", report.summary()
    assert migrations.current_version(db.dsn, "alembic") == "0002"
    recorded = dbstate.load_state(state_file).rollbacks
    assert recorded[-1]["policy"] == "downgrade" and recorded[-1]["outcome"] == "PASS"


def test_rollback_action_without_the_password_variable_fails_clearly(
        released: tuple[Db, MigrationSettings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, settings, state_file = released
    monkeypatch.delenv("RG_TEST_DB_PASSWORD", raising=False)
    params = RollbackRequest("downgrade", settings, str(state_file), str(_runbook(tmp_path, db))).to_dict()
    result = dbrollback.rollback_action(params)
    assert result.failed and "RG_TEST_DB_PASSWORD" in result.detail
    assert migrations.current_version(db.dsn, "alembic") == "0003"
