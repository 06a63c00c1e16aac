"""Migrations against a real PostgreSQL cluster: alembic on the host and SQL files with schema_migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from support.database import APP_PASSWORD, PASSWORD, Db, alembic_folder, sql_folder

from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings


def _columns(db: Db, table: str = "items") -> list[str]:
    return db.sql(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
                  " ORDER BY ordinal_position").split()


def test_alembic_upgrade_to_head_then_nothing_pending(db: Db, tmp_path: Path) -> None:
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "m")))
    assert migrations.pending(db.dsn, settings) == ["0001", "0002", "0003"]
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.passed, result.summary()
    assert (run.revision_before, run.revision_after, run.target) == (None, "0003", ["0003"])
    assert migrations.check_version(db.dsn, "alembic", "0003").passed
    assert migrations.check_version(db.dsn, "alembic", "0002").failed
    assert migrations.check_no_pending(db.dsn, settings).passed
    assert migrations.check_finished_within(run, 60).passed
    assert migrations.check_finished_within(run, 0.001).failed
    assert migrations.check_finished_within(None, 60).inconclusive
    assert _columns(db) == ["id", "name", "description"]


def test_pending_migration_is_reported(db: Db, tmp_path: Path) -> None:
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "new")))
    result = migrations.check_no_pending(db.dsn, settings)
    assert result.failed and result.evidence["pending"] == ["0003"] and result.evidence["revision"] == "0002"


def test_migration_failing_halfway_leaves_the_previous_revision(db: Db, tmp_path: Path) -> None:
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    db.sql("INSERT INTO items (name) VALUES ('kept')")
    result, run = migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "bad",
                                                                                                 third="broken"))))
    assert result.failed
    assert run.left_at_previous is True and run.revision_before == run.revision_after == "0002"
    assert result.evidence["left_at_previous_revision"] is True
    assert 'column "owner_id" does not exist' in result.detail
    assert "still at revision 0002" in result.detail and result.detail.startswith("migrate: database")
    assert PASSWORD not in result.summary() and "\n" not in result.detail
    assert _columns(db) == ["id", "name"]  # the first statement of the failed migration was rolled back
    assert db.sql("SELECT name FROM items") == "kept"


def test_broken_migration_script_gives_one_line(db: Db, tmp_path: Path) -> None:
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "syntax", third="syntax")))
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.failed and "SyntaxError" in result.detail and db.name in result.detail
    assert run.revision_after == "0002"


def test_lock_timeout_is_a_clear_failure(db: Db, tmp_path: Path) -> None:
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "new")), lock_timeout_s=0.5)
    with psycopg.connect(db.dsn) as blocker:
        blocker.execute("LOCK TABLE items IN ACCESS SHARE MODE")  # held until the block ends
        result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.failed and "lock timeout" in result.detail, result.detail
    assert run.left_at_previous is True


def test_unreachable_and_wrong_password_name_the_step(db: Db, tmp_path: Path) -> None:
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "m")))
    result, _ = migrations.apply_migrations(db.dsn_as("postgres", "Bad-Password-456"), settings)
    assert result.failed and result.detail.startswith("migrate: database") and "wrong password" in result.detail
    assert "Bad-Password-456" not in result.summary()
    unreachable = db.dsn.replace(str(db.cluster.port), "56197")
    version = migrations.check_version(unreachable, "alembic", "0003")
    assert version.inconclusive and "unreachable" in version.detail and PASSWORD not in version.summary()


def test_downgrade_and_reversibility_on_a_scratch_copy(db: Db, tmp_path: Path) -> None:
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "m")))
    migrations.apply_migrations(db.dsn, settings)
    db.sql("INSERT INTO items (name, description) VALUES ('a', 'b')")
    with psycopg.connect(db.dsn) as busy:  # the database is in use: the copy is made by dump/restore
        busy.execute("SELECT 1")
        result = migrations.check_reversible(db.dsn, settings, down_to="0002", down_to_known=True)
    assert result.passed, result.summary()
    assert result.evidence["down_to"] == "0002" and "pg_dump" in result.evidence["scratch_copy"]
    assert migrations.check_version(db.dsn, "alembic", "0003").passed  # the live database was not touched
    assert not db.cluster.psql("SELECT datname FROM pg_database WHERE datname LIKE '%rg_scratch%'")
    downgraded = migrations.downgrade(db.dsn, settings, "0001")
    assert downgraded.passed and migrations.check_version(db.dsn, "alembic", "0001").passed


def test_irreversible_migration_is_caught(db: Db, tmp_path: Path) -> None:
    folder = alembic_folder(tmp_path / "m")
    script = folder / "versions" / "0003_items_description.py"
    script.write_text(script.read_text().replace('    op.drop_index("ix_items_name", table_name="items")\n', ""))
    settings = MigrationSettings(path=str(folder))
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    result = migrations.check_reversible(db.dsn, settings)
    assert result.failed and "already exists" in result.detail, result.summary()
    assert result.evidence["scratch_copy"].startswith("CREATE DATABASE")


def test_sql_files_apply_in_order_and_roll_back(db: Db, tmp_path: Path) -> None:
    settings = MigrationSettings(tool="sql", path=str(sql_folder(tmp_path / "sql")))
    assert migrations.pending(db.dsn, settings) == ["0001", "0002", "0003"]
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.passed and run.revision_after == "0003"
    assert db.sql("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations") == "0001,0002,0003"
    assert migrations.check_no_pending(db.dsn, settings).passed
    assert migrations.check_reversible(db.dsn, settings).passed
    assert migrations.downgrade(db.dsn, settings, "0001").passed
    assert migrations.pending(db.dsn, settings) == ["0002", "0003"]
    assert db.sql("SELECT to_regclass('orders') IS NULL") == "t"


def test_broken_sql_file_keeps_the_version_before(db: Db, tmp_path: Path) -> None:
    settings = MigrationSettings(tool="sql", path=str(sql_folder(tmp_path / "sql", third="broken")))
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.failed and run.revision_after == "0002" and run.left_at_previous is False
    assert "0003_items_description.sql" in result.detail and "owner_id" in result.detail
    assert _columns(db) == ["id", "name"]


def test_sql_downgrade_without_a_rollback_file_changes_nothing(db: Db, tmp_path: Path) -> None:
    folder = sql_folder(tmp_path / "sql")
    (folder / "rollback_0003.sql").unlink()
    settings = MigrationSettings(tool="sql", path=str(folder))
    migrations.apply_migrations(db.dsn, settings)
    result = migrations.downgrade(db.dsn, settings, "0002")
    assert result.failed and "rollback_0003.sql" in result.detail
    assert migrations.current_version(db.dsn, "sql") == "0003"


@pytest.mark.parametrize("path", [None, "does/not/exist"])
def test_missing_migrations_path_is_a_clear_error(db: Db, path: str | None) -> None:
    result, _ = migrations.apply_migrations(db.dsn, MigrationSettings(path=path))
    assert result.failed and "database.migrations.path" in result.detail


def test_migration_running_too_long_is_stopped_and_rolled_back(db: Db, tmp_path: Path) -> None:
    migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "old", third=None))))
    folder = alembic_folder(tmp_path / "slow")
    script = folder / "versions" / "0003_items_description.py"
    script.write_text(script.read_text().replace(
        '    op.create_index("ix_items_name", "items", ["name"])\n',
        '    op.create_index("ix_items_name", "items", ["name"])\n    op.execute("SELECT pg_sleep(30)")\n'))
    result, run = migrations.apply_migrations(db.dsn, MigrationSettings(path=str(folder), timeout_s=3))
    assert result.failed and run.left_at_previous is True
    assert "statement timeout" in result.detail or "still running after 3s" in result.detail, result.detail
    assert _columns(db) == ["id", "name"]


def test_reversibility_as_an_owner_without_createdb_needs_a_scratch_dsn(db: Db, tmp_path: Path) -> None:
    db.sql(f'ALTER DATABASE "{db.name}" OWNER TO migrator; GRANT CREATE, USAGE ON SCHEMA public TO migrator')
    owner = db.dsn_as("migrator", APP_PASSWORD)
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "m")))
    assert migrations.apply_migrations(owner, settings)[0].passed
    refused = migrations.check_reversible(owner, settings)
    assert refused.inconclusive and "database.scratch_dsn" in refused.detail and APP_PASSWORD not in refused.detail
    with psycopg.connect(owner) as busy:  # in use: the copy is made by dump/restore, owned by the migrator
        busy.execute("SELECT 1")
        result = migrations.check_reversible(owner, settings, creator_dsn=db.cluster.dsn)
    assert result.passed, result.summary()
    assert not db.cluster.psql("SELECT datname FROM pg_database WHERE datname LIKE '%rg_scratch%'")
