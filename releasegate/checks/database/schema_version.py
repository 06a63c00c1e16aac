"""The schema version a database says it is at: alembic's ``alembic_version`` or a ``schema_migrations`` table."""

from __future__ import annotations

from typing import Any, Literal

from psycopg import sql

Tool = Literal["alembic", "sql"]

SQL_TABLE = "schema_migrations"


def read_version(conn: Any, tool: Tool | None = None) -> str | None:
    """The current version, or None for a database that has never been migrated.

    alembic: the ``version_num`` of ``alembic_version`` (several heads joined with ",");
    sql: the greatest ``version`` in ``schema_migrations``. Without ``tool``, whichever table exists.
    """
    if tool in (None, "alembic") and _exists(conn, "alembic_version"):
        rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
        return ",".join(str(r[0]) for r in rows) or None
    if tool in (None, "sql") and _exists(conn, SQL_TABLE):
        row = conn.execute(sql.SQL("SELECT max(version) FROM {}").format(sql.Identifier(SQL_TABLE))).fetchone()
        return str(row[0]) if row and row[0] is not None else None
    return None


def _exists(conn: Any, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])
