"""Data fingerprints: per-table row counts and a checksum of primary keys, and what two of them say.

A fingerprint is taken in one REPEATABLE READ transaction, so every table is seen at the same
moment. For each user table it records the row count, the md5 of the primary keys in order
(the whole row for a table without a primary key) and, up to ``MAX_KEYS`` rows, the keys
themselves, so that a comparison can say which rows are missing, not only that some are.

Comparing a fingerprint taken before the release with one taken after (or after a rollback):
rows present before and missing after are a FAIL, listed by table. Comparing the live database
with a backup's fingerprint counts the rows a restore would lose (written after the backup).
The migration bookkeeping tables (``alembic_version``, ``schema_migrations``) are left out:
a migration is meant to change them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.result import CheckResult

MAX_KEYS = 100_000
BOOKKEEPING_TABLES = ("alembic_version", "schema_migrations")
SAMPLE = 10

_TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

_PRIMARY_KEY_SQL = """
SELECT a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = %s::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


@dataclass
class TableFingerprint:
    rows: int
    checksum: str
    key: list[str]  # primary key columns; empty: the whole row is the key
    keys: list[str] | None = None  # sorted key texts, when the table has at most MAX_KEYS rows

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checksum": self.checksum, "key": list(self.key), "keys": self.keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableFingerprint:
        keys = data.get("keys")
        return cls(int(data["rows"]), str(data["checksum"]), [str(k) for k in data.get("key") or []],
                   [str(k) for k in keys] if keys is not None else None)


@dataclass
class Fingerprint:
    database: str
    taken_at: float = field(default_factory=time.time)
    tables: dict[str, TableFingerprint] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: table.rows for name, table in self.tables.items()}

    def summary(self) -> dict[str, dict[str, Any]]:
        """What a report shows: rows and checksum per table (not the keys)."""
        return {name: {"rows": t.rows, "checksum": t.checksum} for name, t in self.tables.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "taken_at": self.taken_at,
                "tables": {name: table.to_dict() for name, table in self.tables.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(str(data.get("database", "")), float(data.get("taken_at", 0.0)),
                   {str(name): TableFingerprint.from_dict(t) for name, t in (data.get("tables") or {}).items()})


def user_tables(conn: Any, *, exclude: tuple[str, ...] = BOOKKEEPING_TABLES) -> list[str]:
    """``schema.table`` of every ordinary table outside the system schemas and extensions."""
    rows = conn.execute(_TABLES_SQL).fetchall()
    return [f"{schema}.{name}" for schema, name in rows if name not in exclude]


def key_expression(columns: list[str]) -> sql.Composable:
    """The text of a row's key in a query over ``<table> t``: its primary key, else the whole row."""
    if not columns:
        return sql.SQL("t::text")
    if len(columns) == 1:
        return sql.SQL("{}::text").format(sql.Identifier("t", columns[0]))
    return sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier("t", c) for c in columns))


def primary_key(conn: Any, table: str) -> list[str]:
    return [row[0] for row in conn.execute(_PRIMARY_KEY_SQL, (dbconn.qualified(table).as_string(),)).fetchall()]


def fingerprint_in(conn: Any, database: str, *, max_keys: int = MAX_KEYS) -> Fingerprint:
    """The fingerprint seen by ``conn``'s current transaction (the caller chooses its isolation)."""
    result = Fingerprint(database)
    for table in user_tables(conn):
        columns = primary_key(conn, table)
        expression = key_expression(columns)
        source = dbconn.qualified(table)
        rows, checksum = conn.execute(sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(k, E'\\n' ORDER BY k COLLATE \"C\"), ''))"
            " FROM (SELECT {} AS k FROM {} t) s").format(expression, source)
        ).fetchone()
        keys: list[str] | None = None
        if rows <= max_keys:
            keys = sorted(row[0] for row in conn.execute(sql.SQL("SELECT {} FROM {} t").format(expression, source)))
        result.tables[table] = TableFingerprint(int(rows), str(checksum), columns, keys)
    return result


def take_fingerprint(dsn: str, *, step: str = "fingerprint", max_keys: int = MAX_KEYS) -> Fingerprint:
    """Every user table at one moment (REPEATABLE READ, read only). Raises ``DatabaseError``."""
    import psycopg

    with dbconn.connect(dsn, autocommit=False, step=step) as conn:
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            fingerprint = fingerprint_in(conn, dbconn.database_name(dsn), max_keys=max_keys)
            conn.rollback()
        except psycopg.Error as exc:
            raise dbconn.DatabaseError(dbconn.describe(exc, dsn, step)) from None
    return fingerprint


def check_fingerprint(dsn: str) -> tuple[CheckResult, Fingerprint | None]:
    """Take a fingerprint; the result shows rows and checksum per table."""
    name = "data fingerprint recorded"
    try:
        fingerprint = take_fingerprint(dsn)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), "a fingerprint of every user table"), None
    total = sum(fingerprint.counts().values())
    return CheckResult.ok(name, f"{len(fingerprint.tables)} tables, {total} rows", "a fingerprint of every user table",
                          evidence={"database": fingerprint.database, "tables": fingerprint.summary()}), fingerprint


@dataclass
class TableDifference:
    count: int
    sample: list[str]  # a few of the keys concerned (empty when only counts were compared)
    exact: bool  # False: only row counts could be compared (a table too big to keep its keys)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.count, "sample_keys": self.sample, "exact": self.exact}


def rows_missing(before: Fingerprint, after: Fingerprint, *,
                 sample: int | None = SAMPLE) -> dict[str, TableDifference]:
    """Rows present in ``before`` and absent from ``after``, by table (a table gone entirely: all its rows).

    Each difference keeps ``sample`` of the keys concerned (None: every one).
    """
    missing: dict[str, TableDifference] = {}
    for table, old in before.tables.items():
        new = after.tables.get(table)
        if new is None:
            if old.rows:
                missing[table] = TableDifference(old.rows, (old.keys or [])[:sample], old.keys is not None)
            continue
        if old.checksum == new.checksum and old.rows == new.rows:
            continue
        if old.keys is not None and new.keys is not None and old.key == new.key:
            lost = Counter(old.keys) - Counter(new.keys)
            if lost:
                missing[table] = TableDifference(sum(lost.values()), sorted(lost)[:sample], True)
        elif new.rows < old.rows:
            missing[table] = TableDifference(old.rows - new.rows, [], False)
    return missing


def rows_added(before: Fingerprint, after: Fingerprint, *,
               sample: int | None = SAMPLE) -> dict[str, TableDifference]:
    """Rows in ``after`` that ``before`` does not have (for a backup: the rows a restore would lose)."""
    return rows_missing(after, before, sample=sample)


def check_nothing_lost(before: Fingerprint, after: Fingerprint, *, name: str = "no data written before the release"
                       " is lost") -> CheckResult:
    """FAIL when rows of ``before`` are missing from ``after``, naming each table and how many rows."""
    missing = rows_missing(before, after)
    evidence = {"before": before.summary(), "after": after.summary(),
                "missing": {table: diff.to_dict() for table, diff in missing.items()},
                "added": {table: diff.count for table, diff in rows_added(before, after).items()}}
    if not missing:
        return CheckResult.ok(name, "every row from before is present", "no row missing",
                              evidence=evidence)
    listing = ", ".join(f"{table}: {diff.count} row(s) missing" + ("" if diff.exact else " (by count)")
                        for table, diff in missing.items())
    return CheckResult.fail(name, listing, "no row missing", evidence=evidence,
                            detail=f"rows present before are gone: {listing}")
