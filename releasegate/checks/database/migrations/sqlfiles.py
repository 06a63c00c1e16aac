"""SQL-file migrations (seed 004's style): ``<version>_<name>.sql`` in a folder, applied in name order.

Each file runs in its own transaction together with its row in ``schema_migrations``;
``rollback_<version>.sql`` undoes one version. Sessions get the settings' lock and statement
timeouts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.migrations.settings import MigrationSettings
from releasegate.checks.database.schema_version import SQL_TABLE

_TABLE = sql.Identifier(SQL_TABLE)


def files(settings: MigrationSettings) -> list[tuple[str, Path]]:
    """(version, file) of every migration file in name order; ``rollback_*.sql`` excluded."""
    folder = Path(settings.path or "")
    if not settings.path or not folder.is_dir():
        raise dbconn.DatabaseError(f"database.migrations.path {settings.path!r} is not a folder of SQL files")
    found = sorted(p for p in folder.glob("*.sql") if not p.name.startswith("rollback_"))
    return [(p.stem.split("_", 1)[0], p) for p in found]


def heads(settings: MigrationSettings) -> list[str]:
    found = files(settings)
    return [found[-1][0]] if found else []


def pending(dsn: str, settings: MigrationSettings) -> list[str]:
    """Versions not yet applied, oldest first."""
    with dbconn.connect(dsn, step="pending migrations") as conn:
        applied = applied_versions(conn)
    return [version for version, _ in files(settings) if version not in applied]


def ancestors(settings: MigrationSettings, version: str) -> set[str]:
    return {v for v, _ in files(settings) if v <= version}


def one_below(settings: MigrationSettings, head: str) -> str | None:
    earlier = [v for v, _ in files(settings) if v < head]
    return earlier[-1] if earlier else None


def applied_versions(conn: Any) -> set[str]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (SQL_TABLE,)).fetchone()[0]
    if not exists:
        return set()
    return {str(r[0]) for r in conn.execute(sql.SQL("SELECT version FROM {}").format(_TABLE)).fetchall()}


def _session(conn: Any, settings: MigrationSettings) -> None:
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(int(settings.lock_timeout_s * 1000))))
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(settings.timeout_s * 1000))))


def apply(dsn: str, settings: MigrationSettings, step: str) -> str:
    """Apply pending SQL files; returns "" or the one-line error of the file that failed."""
    import psycopg

    found = files(settings)
    with dbconn.connect(dsn, step=step) as conn:
        _session(conn, settings)
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version text PRIMARY KEY, name text, checksum text,"
                             " applied_at timestamptz NOT NULL DEFAULT now())").format(_TABLE))
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (SQL_TABLE,)).fetchall()}
        applied = applied_versions(conn)
        for version, path in found:
            if version in applied:
                continue
            text = path.read_text(encoding="utf-8")
            try:
                with conn.transaction():
                    conn.execute(text.encode("utf-8"))
                    if {"name", "checksum"} <= columns:
                        conn.execute(sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)")
                                     .format(_TABLE), (version, path.name, hashlib.sha256(text.encode()).hexdigest()))
                    else:
                        conn.execute(sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(_TABLE), (version,))
            except psycopg.Error as exc:
                return f"{path.name}: {dbconn.reason(exc)}"
    return ""


def downgrade(dsn: str, settings: MigrationSettings, target: str | None, step: str) -> str:
    """Run the rollback files of every version above ``target``, newest first; "" or the one-line error."""
    import psycopg

    folder = Path(settings.path or "")
    with dbconn.connect(dsn, step=step) as conn:
        _session(conn, settings)
        to_undo = sorted((v for v in applied_versions(conn) if target is None or v > target), reverse=True)
        missing = [f"rollback_{v}.sql" for v in to_undo if not (folder / f"rollback_{v}.sql").is_file()]
        if missing:
            return f"no rollback file {', '.join(missing)} in {folder}; nothing was undone"
        for version in to_undo:
            path = folder / f"rollback_{version}.sql"
            try:
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8").encode("utf-8"))
                    conn.execute(sql.SQL("DELETE FROM {} WHERE version = %s").format(_TABLE), (version,))
            except psycopg.Error as exc:
                return f"{path.name}: {dbconn.reason(exc)}"
    return ""
