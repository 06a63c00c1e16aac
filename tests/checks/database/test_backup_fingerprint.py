"""Verified backups and data fingerprints against a real PostgreSQL cluster."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from support.database import PASSWORD, Db

from releasegate.checks.database import backup, fingerprint
from releasegate.checks.result import Outcome


def _fill(db: Db, rows: int = 5) -> None:
    db.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"
           "CREATE TABLE tags (item_id int, tag text, PRIMARY KEY (item_id, tag));"
           "CREATE TABLE events (payload text);"  # no primary key: the whole row is the key
           f"INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, {rows}) g;"
           "INSERT INTO tags VALUES (1, 'a'), (1, 'b'), (2, 'a');"
           "INSERT INTO events VALUES ('x'), ('x'), ('y');")


def test_backup_restore_round_trip_keeps_every_row(db: Db, tmp_path: Path) -> None:
    _fill(db)
    result, record = backup.take_backup(db.dsn, tmp_path)
    assert result.passed, result.summary()
    assert record is not None
    assert Path(record.path).is_file() and record.size == Path(record.path).stat().st_size
    assert sorted(record.tables) == ["public.events", "public.items", "public.tags"]
    assert len(record.checksum) == 64 and record.database == db.name
    assert json.loads(Path(record.path + ".json").read_text())["checksum"] == record.checksum
    assert backup.verify_backup(record).passed

    db.sql("DELETE FROM items WHERE id <= 2; UPDATE tags SET tag = 'z' WHERE tag = 'b'; DELETE FROM events;"
           "CREATE TABLE later (id int PRIMARY KEY REFERENCES items (id))")
    restored = backup.restore_backup(record, db.dsn)
    assert restored.passed, restored.summary()
    assert restored.evidence["dropped_tables_created_after_backup"] == ["public.later"]
    assert db.sql("SELECT count(*) FROM items") == "5"
    assert db.sql("SELECT string_agg(tag, ',' ORDER BY tag) FROM tags") == "a,a,b"
    taken = record.fingerprint()
    assert taken is not None
    now = fingerprint.take_fingerprint(db.dsn)
    assert fingerprint.check_nothing_lost(taken, now).passed
    assert {t: f.checksum for t, f in now.tables.items()} == {t: f.checksum for t, f in taken.tables.items()}


def test_a_tampered_backup_is_not_restored(db: Db, tmp_path: Path) -> None:
    _fill(db)
    _, record = backup.take_backup(db.dsn, tmp_path)
    assert record is not None
    with open(record.path, "ab") as handle:
        handle.write(b"tampered")
    db.sql("DELETE FROM items")
    verified = backup.verify_backup(record)
    assert verified.failed and "changed since the backup" in verified.detail
    restored = backup.restore_backup(record, db.dsn)
    assert restored.failed and "failed verification" in str(restored.observed)
    assert db.sql("SELECT count(*) FROM items") == "0"  # nothing was touched


def test_backup_failures_name_the_database_and_hide_the_password(db: Db, tmp_path: Path) -> None:
    wrong = db.dsn_as("postgres", "Not-The-Password-123")
    result, record = backup.take_backup(wrong, tmp_path)
    assert record is None and result.failed
    assert "wrong password" in result.detail and db.name in result.detail and result.detail.startswith("backup:")
    assert "Not-The-Password-123" not in result.summary()
    unreachable = db.dsn.replace(str(db.cluster.port), "56197")  # nothing listens there
    result, _ = backup.take_backup(unreachable, tmp_path)
    assert result.failed and "unreachable" in result.detail and PASSWORD not in result.summary()
    assert not list(tmp_path.glob("*.dump*"))


def test_retention_removes_only_old_releasegate_backups(db: Db, tmp_path: Path) -> None:
    _fill(db)
    _, old = backup.take_backup(db.dsn, tmp_path)
    _, recent = backup.take_backup(db.dsn, tmp_path)
    _, kept_by_request = backup.take_backup(db.dsn, tmp_path)
    assert old and recent and kept_by_request
    forty_days_ago = time.time() - 40 * 86400
    for record in (old, kept_by_request):
        sidecar = Path(record.path + ".json")
        data = json.loads(sidecar.read_text())
        data["created_at"] = forty_days_ago
        sidecar.write_text(json.dumps(data))
    stranger = tmp_path / "someone-else.dump"
    stranger.write_text("not ours")
    os.utime(stranger, (forty_days_ago, forty_days_ago))

    result = backup.cleanup_old_backups(tmp_path, 30, keep=(kept_by_request.path,))
    assert result.passed
    assert result.evidence["removed"] == [Path(old.path).name]
    assert not Path(old.path).exists() and not Path(old.path + ".json").exists()
    assert not Path(old.path + ".fingerprint.json").exists()
    assert Path(recent.path).exists() and Path(kept_by_request.path).exists() and stranger.exists()


def test_fingerprint_catches_a_deleted_row(db: Db) -> None:
    _fill(db)
    before = fingerprint.take_fingerprint(db.dsn)
    assert before.counts() == {"public.events": 3, "public.items": 5, "public.tags": 3}
    assert before.tables["public.tags"].key == ["item_id", "tag"]
    assert before.tables["public.events"].key == []
    db.sql("DELETE FROM items WHERE id = 3; INSERT INTO items (name) VALUES ('new');"
           "DELETE FROM events WHERE ctid IN (SELECT ctid FROM events WHERE payload = 'x' LIMIT 1)")
    after = fingerprint.take_fingerprint(db.dsn)
    assert after.counts()["public.items"] == 5  # same count: only the keys show the loss
    result = fingerprint.check_nothing_lost(before, after)
    assert result.outcome is Outcome.FAIL
    assert "public.items: 1 row(s) missing" in str(result.observed)
    assert "public.events: 1 row(s) missing" in str(result.observed)
    assert result.evidence["missing"]["public.items"]["sample_keys"] == ["3"]
    assert result.evidence["added"] == {"public.items": 1}
    assert fingerprint.check_nothing_lost(before, before).passed


def test_fingerprint_of_a_big_table_compares_counts(db: Db) -> None:
    _fill(db, rows=50)
    before = fingerprint.take_fingerprint(db.dsn, max_keys=10)
    assert before.tables["public.items"].keys is None
    db.sql("DELETE FROM items WHERE id > 45")
    after = fingerprint.take_fingerprint(db.dsn, max_keys=10)
    missing = fingerprint.rows_missing(before, after)
    assert missing["public.items"].count == 5 and not missing["public.items"].exact


def test_fingerprint_round_trips_through_json(db: Db) -> None:
    _fill(db)
    taken = fingerprint.take_fingerprint(db.dsn)
    again = fingerprint.Fingerprint.from_dict(json.loads(json.dumps(taken.to_dict())))
    assert again == taken
