"""Backups that are proven, not assumed: the latest backup restored into a scratch database and fingerprinted,
and how old the newest verified backup is.

The latest backup is the one this run recorded, else the newest releasegate backup of the same database in
the backup folder (its ``<file>.json`` record, written by ``backup.take_backup``): runbooks that take the
backup outside the release use the folder. The restore goes into a new, empty database on the same server
(``migrations.reversible.scratch_copy(empty=True)``), which is dropped afterwards; the live database is
never touched. The restored data must have the fingerprint recorded when the backup was taken.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from releasegate.checks.database import backup, fingerprint
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.backup import BackupRecord
from releasegate.checks.database.migrations.reversible import scratch_copy
from releasegate.checks.result import CheckResult


def folder_backups(directory: Path, database: str) -> list[BackupRecord]:
    """The records of the releasegate backups of ``database`` in ``directory``, oldest first."""
    found: list[BackupRecord] = []
    for path in backup.backup_files(directory):
        try:
            record = BackupRecord.from_dict(json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            continue  # a dump without its record cannot be verified: not a proven backup
        if record.database == database:
            found.append(record)
    return sorted(found, key=lambda r: r.created_at)


def latest_backup(recorded: BackupRecord | None, directory: Path, database: str) -> BackupRecord | None:
    """The newest of the run's recorded backup and the folder's backups of ``database``."""
    candidates = folder_backups(directory, database) + ([recorded] if recorded is not None else [])
    return max(candidates, key=lambda r: r.created_at, default=None)


def check_backup_restores(record: BackupRecord | None, dsn: str, *, creator_dsn: str | None = None) -> CheckResult:
    """Restore ``record`` into a scratch database, compare its fingerprint with the backup's, drop the scratch."""
    name = "the latest backup restores into a scratch database"
    expected = "restored, with the fingerprint recorded when the backup was taken"
    if record is None:
        return CheckResult.unknown(name, "no backup of this database in this run or in database.backup.dir; take"
                                   " one first ('Given a verified backup of the database is taken')", expected)
    recorded = record.fingerprint()
    if recorded is None:
        return CheckResult.unknown(name, f"{Path(record.path).name} has no recorded fingerprint"
                                   f" ({record.fingerprint_path or 'none'}): nothing to compare the restore with",
                                   expected)
    started = time.monotonic()
    evidence: dict[str, object] = {"backup": record.to_dict()}
    try:
        with scratch_copy(dsn, creator_dsn=creator_dsn, step="restore test", empty=True) as (scratch, how):
            evidence["scratch"] = f"{dbconn.database_name_safe(scratch)} ({how}, dropped afterwards)"
            restored = backup.restore_backup(record, scratch, step="restore test")
            evidence["restore"] = restored.as_dict()
            if not restored.passed:
                return CheckResult.fail(name, restored.observed, expected, detail=restored.detail,
                                        elapsed_s=time.monotonic() - started, evidence=evidence)
            now = fingerprint.take_fingerprint(scratch, step="restore test")
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected, evidence=evidence)
    differences = sorted(
        f"{table}: {old.rows} rows recorded, {now.tables[table].rows} restored" if table in now.tables
        else f"{table}: missing from the restore"
        for table, old in recorded.tables.items()
        if table not in now.tables or (old.rows, old.checksum) != (now.tables[table].rows, now.tables[table].checksum))
    differences += sorted(f"{table}: restored, not in the backup's fingerprint"
                          for table in set(now.tables) - set(recorded.tables))
    evidence.update({"recorded": recorded.summary(), "restored": now.summary(), "differences": differences})
    total = sum(now.counts().values())
    return CheckResult.judge(name, not differences,
                             f"{len(now.tables)} tables, {total} rows, fingerprint "
                             + ("matches" if not differences else f"differs in {len(differences)} tables"),
                             expected, detail="; ".join(differences[:10]), elapsed_s=time.monotonic() - started,
                             evidence=evidence)


def check_backup_age(record: BackupRecord | None, hours: float, *, now: float | None = None) -> CheckResult:
    """The newest backup is younger than ``hours`` and still verifies (checksum, table of contents)."""
    name = f"a backup of the database was taken less than {hours:g} hours ago"
    expected = f"a verified backup younger than {hours:g}h"
    if record is None:
        return CheckResult.fail(name, "no backup found", expected,
                                detail="no releasegate backup of this database in this run or in"
                                " database.backup.dir")
    age_h = ((time.time() if now is None else now) - record.created_at) / 3600
    verified = backup.verify_backup(record)
    evidence = {"backup": record.to_dict(), "age_hours": round(age_h, 3), "verify": verified.as_dict()}
    observed = f"{Path(record.path).name}, {age_h:.1f}h old"
    if not verified.passed:
        return CheckResult.fail(name, observed, expected, evidence=evidence,
                                detail=f"the newest backup does not verify: {verified.detail or verified.summary()}")
    return CheckResult.judge(name, age_h < hours, observed, expected, evidence=evidence,
                             detail="" if age_h < hours else f"the newest backup is {age_h:.1f}h old; take one")
