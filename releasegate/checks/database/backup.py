"""Verified backups: pg_dump in custom format, checked with pg_restore --list and a sha256 checksum.

``take_backup`` dumps the database from an exported snapshot and, in the same snapshot, takes
its data fingerprint and schema version, so the record says exactly what the file holds. The
file is ``releasegate-<db>-<UTC stamp>.dump`` in the backup folder, beside it
``<file>.json`` (the record) and ``<file>.fingerprint.json``. ``cleanup_old_backups`` removes
only files of that naming. ``restore_backup`` verifies the checksum before it touches anything,
then restores in one transaction (tables created after the backup are dropped first, so the
restored schema is the backup's).

The password travels in ``PGPASSWORD``, never on a command line; every message is redacted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets as random
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import fingerprint
from releasegate.checks.database import schema_version as schemaversion
from releasegate.checks.database.fingerprint import Fingerprint
from releasegate.checks.result import CheckResult

PREFIX = "releasegate-"
SUFFIX = ".dump"
DUMP_TIMEOUT_S = 3600.0
_TOC_LINE = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?P<kind>TABLE DATA|TABLE)\s+(?P<schema>\S+)\s+(?P<name>\S+)\s")


@dataclass
class BackupRecord:
    """What a verified backup is: JSON-serializable, recorded in the run journal's database state."""

    path: str
    checksum: str  # sha256 of the file, hex
    size: int
    created_at: float
    database: str
    tables: list[str] = field(default_factory=list)
    revision: str | None = None
    fingerprint_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackupRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def fingerprint(self) -> Fingerprint | None:
        """The data fingerprint taken in the backup's snapshot, when it was kept."""
        if not self.fingerprint_path:
            return None
        try:
            return Fingerprint.from_dict(json.loads(Path(self.fingerprint_path).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def list_contents(path: Path) -> tuple[list[str], list[str]]:
    """Tables and tables with data in a custom-format dump (``pg_restore --list``); raises DatabaseError."""
    done = _run([dbconn.pg_binary("pg_restore"), "--list", str(path)], dict(os.environ), 300)
    if done.returncode != 0:
        raise dbconn.DatabaseError(f"pg_restore --list {path}: {dbconn.reason(done.stderr or 'failed')}")
    tables: list[str] = []
    with_data: list[str] = []
    for line in done.stdout.splitlines():
        match = _TOC_LINE.match(line)
        if match:
            name = f"{match.group('schema')}.{match.group('name')}"
            (with_data if match.group("kind") == "TABLE DATA" else tables).append(name)
    return tables, with_data


def take_backup(dsn: str, directory: Path, *, step: str = "backup") -> tuple[CheckResult, BackupRecord | None]:
    """Dump, verify and record the database; FAIL (with a one-line reason) when any part does not hold."""
    import psycopg

    name = "verified backup taken"
    expected = "a custom-format dump that pg_restore can list, with its sha256 recorded"
    database = dbconn.database_name_safe(dsn)
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{PREFIX}{_safe_name(database)}-{stamp}-{random.token_hex(2)}{SUFFIX}"
    partial = final.with_name(final.name + ".partial")
    conninfo, env = dbconn.client_args(dsn)
    try:
        with dbconn.connect(dsn, autocommit=False, step=step) as conn:
            try:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                revision = schemaversion.read_version(conn)
                data = fingerprint.fingerprint_in(conn, database)
            except psycopg.Error as exc:
                raise dbconn.DatabaseError(dbconn.describe(exc, dsn, step)) from None
            dump = _run([dbconn.pg_binary("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
                         f"--file={partial}", f"--dbname={conninfo}"], env, DUMP_TIMEOUT_S)
            conn.rollback()
        if dump.returncode != 0:
            raise dbconn.DatabaseError(dbconn.describe(dump.stderr or "pg_dump failed", dsn, f"{step} (pg_dump)"))
        tables, with_data = list_contents(partial)
        missing = sorted(set(data.tables) - set(with_data))
        if missing:
            raise dbconn.DatabaseError(f"{step}: the dump of {database!r} has no data for {', '.join(missing)}")
        os.replace(partial, final)
    except (dbconn.DatabaseError, subprocess.TimeoutExpired, OSError) as exc:
        partial.unlink(missing_ok=True)
        detail = str(exc) if isinstance(exc, dbconn.DatabaseError) else dbconn.describe(exc, dsn, step)
        return CheckResult.fail(name, "no backup", expected, detail=detail,
                                elapsed_s=time.monotonic() - started, evidence={"dsn": dbconn.redacted(dsn)}), None
    fingerprint_file = final.with_name(final.name + ".fingerprint.json")
    fingerprint_file.write_text(json.dumps(data.to_dict()), encoding="utf-8")
    record = BackupRecord(path=str(final.resolve()), checksum=sha256_of(final), size=final.stat().st_size,
                          created_at=time.time(), database=database, tables=tables, revision=revision,
                          fingerprint_path=str(fingerprint_file.resolve()))
    final.with_name(final.name + ".json").write_text(json.dumps(record.to_dict(), indent=2), encoding="utf-8")
    return CheckResult.ok(
        name, f"{final.name} ({record.size} bytes, {len(tables)} tables)", expected,
        elapsed_s=time.monotonic() - started,
        evidence={"backup": record.to_dict(), "rows": data.counts(), "dsn": dbconn.redacted(dsn)},
    ), record


def verify_backup(record: BackupRecord) -> CheckResult:
    """The file is there, its sha256 is the recorded one, and pg_restore can read its table of contents."""
    name = "backup verified"
    path = Path(record.path)
    expected = f"sha256 {record.checksum[:16]}... and a readable table of contents"
    if not path.is_file():
        return CheckResult.fail(name, "file missing", expected, detail=f"{path} does not exist")
    actual = sha256_of(path)
    evidence = {"path": str(path), "recorded_sha256": record.checksum, "actual_sha256": actual,
                "size": path.stat().st_size}
    if actual != record.checksum:
        return CheckResult.fail(name, f"sha256 {actual[:16]}...", expected, evidence=evidence,
                                detail=f"{path} changed since the backup was taken; do not restore it")
    try:
        tables, _ = list_contents(path)
    except dbconn.DatabaseError as exc:
        return CheckResult.fail(name, "unreadable", expected, detail=str(exc), evidence=evidence)
    missing = sorted(set(record.tables) - set(tables))
    if missing:
        return CheckResult.fail(name, f"tables missing: {', '.join(missing)}", expected, evidence=evidence)
    return CheckResult.ok(name, f"sha256 matches, {len(tables)} tables listed", expected, evidence=evidence)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "db"


def backup_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{PREFIX}*{SUFFIX}")) if directory.is_dir() else []


def _created_at(path: Path) -> float:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return float(json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))["created_at"])
    return path.stat().st_mtime


def cleanup_old_backups(directory: Path, retention_days: float, *, now: float | None = None,
                        keep: tuple[str, ...] = ()) -> CheckResult:
    """Remove releasegate backups (and their side files) older than ``retention_days``; never one in ``keep``."""
    name = f"backups older than {retention_days:g} days removed"
    now = time.time() if now is None else now
    limit = now - retention_days * 86400
    kept_paths = {str(Path(p).resolve()) for p in keep}
    removed: list[str] = []
    kept: list[str] = []
    errors: list[str] = []
    for path in backup_files(directory):
        if str(path.resolve()) in kept_paths or _created_at(path) >= limit:
            kept.append(path.name)
            continue
        try:
            for side in (path, path.with_name(path.name + ".json"), path.with_name(path.name + ".fingerprint.json")):
                side.unlink(missing_ok=True)
            removed.append(path.name)
        except OSError as exc:
            errors.append(f"{path.name}: {exc.strerror}")
    evidence = {"directory": str(directory), "retention_days": retention_days, "removed": removed, "kept": kept}
    observed = f"{len(removed)} removed, {len(kept)} kept"
    if errors:
        return CheckResult.fail(name, observed, "every old backup removed", detail="; ".join(errors),
                                evidence=evidence)
    return CheckResult.ok(name, observed, "every old backup removed", evidence=evidence)


def restore_backup(record: BackupRecord, dsn: str, *, step: str = "restore", timeout_s: float = 3600) -> CheckResult:
    """Restore a verified backup into the database of ``dsn``, in one transaction.

    The checksum is verified first; a backup that fails verification is not restored. Tables
    that the backup does not have (created after it) are dropped in the same transaction, then
    ``pg_restore --clean --if-exists`` recreates every object of the backup with its data.
    """
    name = f"backup restored into {dbconn.database_name_safe(dsn)!r}"
    expected = f"{Path(record.path).name} restored"
    verified = verify_backup(record)
    if not verified.passed:
        return CheckResult.fail(name, "not restored: the backup failed verification", expected,
                                detail=verified.detail or verified.summary(), evidence={"verify": verified.as_dict()})
    started = time.monotonic()
    try:
        with dbconn.connect(dsn, step=step) as conn:
            extra = sorted(set(fingerprint.user_tables(conn, exclude=())) - set(record.tables))
    except dbconn.DatabaseError as exc:
        return CheckResult.fail(name, "not restored", expected, detail=str(exc))
    conninfo, env = dbconn.client_args(dsn)
    with tempfile.TemporaryDirectory(prefix="releasegate-restore-") as folder:
        drops = Path(folder) / "drop-extra-tables.sql"
        drops.write_text("".join(sql.SQL("DROP TABLE IF EXISTS {} CASCADE;\n").format(dbconn.qualified(t)).as_string()
                                 for t in extra),
                         encoding="utf-8")
        script = Path(folder) / "restore.sql"
        made = _run([dbconn.pg_binary("pg_restore"), "--clean", "--if-exists", f"--file={script}", record.path],
                    env, timeout_s)
        if made.returncode != 0:
            return CheckResult.fail(name, "not restored", expected,
                                    detail=f"{step}: pg_restore {record.path}: {dbconn.reason(made.stderr)}")
        try:
            done = _run([dbconn.pg_binary("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
                         "-v", "ON_ERROR_STOP=1", f"--dbname={conninfo}", "-f", str(drops), "-f", str(script)],
                        env, timeout_s)
        except subprocess.TimeoutExpired:
            return CheckResult.fail(name, "not restored", expected,
                                    detail=f"{step}: restore still running after {timeout_s:g}s; rolled back")
    evidence = {"backup": record.to_dict(), "dropped_tables_created_after_backup": extra,
                "dsn": dbconn.redacted(dsn), "stderr": dbconn.redacted(done.stderr[-2000:])}
    if done.returncode != 0:
        return CheckResult.fail(name, "not restored (rolled back)", expected, evidence=evidence,
                                detail=dbconn.describe(_error_text(done.stderr), dsn, step),
                                elapsed_s=time.monotonic() - started)
    return CheckResult.ok(name, f"restored {len(record.tables)} tables", expected, evidence=evidence,
                          elapsed_s=time.monotonic() - started)


def _error_text(stderr: str) -> str:
    for line in stderr.splitlines():
        if "ERROR:" in line or "FATAL:" in line or "error:" in line:
            return line.split("ERROR:", 1)[-1].split("FATAL:", 1)[-1].strip()
    return stderr.strip() or "psql failed"
