"""Backups proven by a restore into a scratch database and by their age; idempotent migrations; real PostgreSQL."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from support.database import Db, alembic_folder

from releasegate.checks.database import backup, migrations, proven
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.migrations.idempotent import check_idempotent, schema_dump


def _databases(db: Db) -> str:
    return db.sql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")


def _migrated(db: Db, tmp_path: Path) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "m"))))[0].passed
    db.sql("INSERT INTO items (name) VALUES ('a'), ('b'), ('c')")


def test_the_latest_backup_restores_into_a_scratch_database_with_its_fingerprint(db: Db, tmp_path: Path) -> None:
    _migrated(db, tmp_path)
    taken, record = backup.take_backup(db.dsn, tmp_path / "backups")
    assert taken.passed and record is not None
    db.sql("INSERT INTO items (name) VALUES ('written after the backup')")  # the live database moves on
    before = _databases(db)
    latest = proven.latest_backup(None, tmp_path / "backups", db.name)
    assert latest is not None and latest.path == record.path
    result = proven.check_backup_restores(latest, db.dsn)
    assert result.passed, result.summary()
    assert "fingerprint matches" in result.observed and result.evidence["restored"]["public.items"]["rows"] == 3
    assert _databases(db) == before  # the scratch database is gone
    assert db.sql("SELECT count(*) FROM items") == "4"  # the live database is untouched

    fingerprint_file = Path(str(record.fingerprint_path))
    recorded = json.loads(fingerprint_file.read_text())
    recorded["tables"]["public.items"]["rows"] = 2
    fingerprint_file.write_text(json.dumps(recorded))
    result = proven.check_backup_restores(record, db.dsn)
    assert result.failed and "public.items: 2 rows recorded, 3 restored" in result.detail
    assert _databases(db) == before


def test_a_changed_dump_is_not_restored_and_no_backup_is_inconclusive(db: Db, tmp_path: Path) -> None:
    _migrated(db, tmp_path)
    _, record = backup.take_backup(db.dsn, tmp_path / "backups")
    assert record is not None
    with Path(record.path).open("ab") as dump:
        dump.write(b"tampered")
    result = proven.check_backup_restores(record, db.dsn)
    assert result.failed and "failed verification" in result.observed
    assert proven.check_backup_restores(None, db.dsn).inconclusive


def test_backup_age_from_the_run_or_the_folder(db: Db, tmp_path: Path) -> None:
    _migrated(db, tmp_path)
    folder = tmp_path / "backups"
    assert proven.check_backup_age(proven.latest_backup(None, folder, db.name), 24).failed  # none yet
    _, record = backup.take_backup(db.dsn, folder)
    assert record is not None
    from_folder = proven.latest_backup(None, folder, db.name)
    assert from_folder is not None and from_folder.checksum == record.checksum
    assert proven.latest_backup(None, folder, "another_database") is None
    fresh = proven.check_backup_age(from_folder, 1)
    assert fresh.passed and "0.0h old" in fresh.observed, fresh.summary()
    stale = proven.check_backup_age(from_folder, 1, now=time.time() + 2 * 3600)
    assert stale.failed and "2.0h old" in stale.detail
    shutil.copy(record.path, record.path + ".bak")
    Path(record.path).write_bytes(b"not a dump")
    broken = proven.check_backup_age(from_folder, 24)
    assert broken.failed and "does not verify" in broken.detail


def test_the_migrations_are_idempotent_on_a_scratch_copy(db: Db, tmp_path: Path) -> None:
    assert migrations.apply_migrations(db.dsn, MigrationSettings(
        path=str(alembic_folder(tmp_path / "old", third=None))))[0].passed
    before = _databases(db)
    settings = MigrationSettings(path=str(alembic_folder(tmp_path / "new")))
    result = check_idempotent(db.dsn, settings)
    assert result.passed and result.observed == "same schema at 0003 after both upgrades", result.summary()
    assert result.evidence["schema_lines"] > 5
    assert migrations.current_version(db.dsn, "alembic") == "0002" and _databases(db) == before
    assert "CREATE TABLE public.items" in schema_dump(db.dsn) and "\\restrict" not in schema_dump(db.dsn)

    broken = check_idempotent(db.dsn, MigrationSettings(path=str(alembic_folder(tmp_path / "broken", third="broken"))))
    assert broken.failed and broken.observed == "the first upgrade failed"
    assert _databases(db) == before
