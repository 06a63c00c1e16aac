"""Least privilege and connection headroom, checked for real.

The role checks try the operations themselves inside a transaction that is always rolled back
(``CREATE TABLE``, ``DROP TABLE``, ``INSERT``/``UPDATE``/``DELETE``/``TRUNCATE``), each in a
savepoint, as the role: either connected as it, or connected as an administrator and
``SET LOCAL ROLE <role>``. ``lock_timeout`` is short: PostgreSQL checks ownership and
privileges before it waits for a lock, so waiting (a lock timeout) means the role was allowed.
``has_table_privilege`` / ``has_schema_privilege`` are recorded beside as evidence.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable
from typing import Any

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.fingerprint import user_tables
from releasegate.checks.result import CheckResult

MAX_TABLES = 50


def _attempt(conn: Any, statement: sql.Composable) -> str:
    """Run ``statement`` in a savepoint: "denied", "allowed" or "allowed (<what stopped it after the check>)"."""
    import psycopg

    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return "denied"
    except psycopg.Error as exc:
        # the privilege check passed; a constraint, a lock or a dependency stopped it afterwards
        return f"allowed ({dbconn.reason(exc)})"
    return "allowed"


def _create_probe(schema: str) -> sql.Composable:
    """CREATE TABLE of a table no one else uses (the attempt is rolled back)."""
    probe = sql.Identifier(schema, f"releasegate_probe_{random.token_hex(4)}")
    return sql.SQL("CREATE TABLE {} (id integer)").format(probe)


def _as_role(dsn: str, role: str | None, name: str, expected: str,
             work: Callable[[Any, str], CheckResult]) -> CheckResult:
    import psycopg

    try:
        with dbconn.connect(dsn, autocommit=False, step=name) as conn:
            try:
                conn.execute("SET LOCAL lock_timeout = '2s'")
                conn.execute("SET LOCAL statement_timeout = '20s'")
                if role:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                who, superuser = conn.execute(
                    "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
                if superuser:
                    return CheckResult.fail(name, f"{who} is a superuser", expected,
                                            detail=f"role {who} is a superuser: it can do anything;"
                                            " use a role without SUPERUSER")
                return work(conn, str(who))
            except psycopg.Error as exc:
                return CheckResult.unknown(name, dbconn.describe(exc, dsn, name), expected)
            finally:
                conn.rollback()
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)


def check_cannot_create_or_drop(dsn: str, role: str | None = None, *, schema: str = "public") -> CheckResult:
    """The role can neither create a table (in ``schema``) nor drop any existing user table."""
    name = f"role {role or '(of the DSN)'} cannot create or drop tables"
    expected = "CREATE TABLE and DROP TABLE denied"

    def work(conn: Any, who: str) -> CheckResult:
        tables = user_tables(conn, exclude=())[:MAX_TABLES]
        attempts = {f"CREATE TABLE {schema}.<probe>": _attempt(conn, _create_probe(schema))}
        for table in tables:
            attempts[f"DROP TABLE {table}"] = _attempt(conn, sql.SQL("DROP TABLE {}").format(dbconn.qualified(table)))
        privileges = conn.execute("SELECT has_schema_privilege(current_user, %s, 'CREATE')", (schema,)).fetchone()
        allowed = [op for op, outcome in attempts.items() if outcome != "denied"]
        evidence = {"role": who, "attempts": attempts, "schema_create_privilege": bool(privileges[0]),
                    "note": "every attempt ran in a transaction that was rolled back"}
        name_ = f"role {who} cannot create or drop tables"
        if allowed:
            return CheckResult.fail(name_, f"allowed: {', '.join(allowed)}", expected, evidence=evidence,
                                    detail=f"{who} may {', '.join(allowed)}; revoke CREATE on schema {schema} and"
                                    " give table ownership to the migration role")
        return CheckResult.ok(name_, f"denied ({len(attempts)} attempts)", expected, evidence=evidence)

    return _as_role(dsn, role, name, expected, work)


def check_read_only(dsn: str, role: str | None = None, *, schema: str = "public") -> CheckResult:
    """The role can SELECT from every user table and can do nothing else to them (nor create tables)."""
    name = f"role {role or '(of the DSN)'} can only select"
    expected = "SELECT allowed; INSERT, UPDATE, DELETE, TRUNCATE and CREATE denied"

    def work(conn: Any, who: str) -> CheckResult:
        attempts: dict[str, str] = {}
        tables = user_tables(conn, exclude=())[:MAX_TABLES]
        for table in tables:
            source = dbconn.qualified(table)
            attempts[f"SELECT {table}"] = _attempt(conn, sql.SQL("SELECT 1 FROM {} LIMIT 1").format(source))
            column = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
                " ORDER BY attnum LIMIT 1", (source.as_string(),)).fetchone()
            attempts[f"INSERT {table}"] = _attempt(conn, sql.SQL("INSERT INTO {} DEFAULT VALUES").format(source))
            if column is not None:
                attempts[f"UPDATE {table}"] = _attempt(conn, sql.SQL("UPDATE {} SET {col} = {col} WHERE false").format(
                    source, col=sql.Identifier(column[0])))
            attempts[f"DELETE {table}"] = _attempt(conn, sql.SQL("DELETE FROM {} WHERE false").format(source))
            attempts[f"TRUNCATE {table}"] = _attempt(conn, sql.SQL("TRUNCATE {}").format(source))
        attempts[f"CREATE TABLE {schema}.<probe>"] = _attempt(conn, _create_probe(schema))
        cannot_select = [op for op, outcome in attempts.items() if op.startswith("SELECT") and outcome != "allowed"]
        may_write = [op for op, outcome in attempts.items() if not op.startswith("SELECT") and outcome != "denied"]
        evidence = {"role": who, "attempts": attempts,
                    "note": "every attempt ran in a transaction that was rolled back"}
        name_ = f"role {who} can only select"
        problems = ([f"cannot {op}" for op in cannot_select] + [f"may {op}" for op in may_write])
        if not tables:
            return CheckResult.unknown(name_, "the database has no user tables to try", expected, evidence=evidence)
        if problems:
            return CheckResult.fail(name_, "; ".join(problems[:10]) + (" ..." if len(problems) > 10 else ""),
                                    expected, evidence=evidence,
                                    detail=f"{who} should have SELECT only: GRANT SELECT and REVOKE the rest")
        return CheckResult.ok(name_, f"SELECT only on {len(tables)} tables", expected, evidence=evidence)

    return _as_role(dsn, role, name, expected, work)


def check_pool_fits(dsn: str, pool_max_size: int, instances: int = 1) -> CheckResult:
    """``max_connections`` (less the reserved slots) holds every instance's full pool."""
    name = f"database allows a connection pool of {pool_max_size} x {instances} instance(s)"
    needed = pool_max_size * instances
    expected = f"at least {needed} connections for the application"
    try:
        with dbconn.connect(dsn, step="connection pool") as conn:
            rows = dict(conn.execute(
                "SELECT name, setting::int FROM pg_settings WHERE name IN"
                " ('max_connections', 'superuser_reserved_connections', 'reserved_connections')").fetchall())
            in_use = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                                  ).fetchone()[0]
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    available = rows["max_connections"] - rows.get("superuser_reserved_connections", 0) \
        - rows.get("reserved_connections", 0)
    evidence = {**rows, "available_to_applications": available, "pool_max_size": pool_max_size,
                "instances": instances, "client_connections_now": in_use}
    return CheckResult.judge(name, needed <= available, f"{available} available (max_connections"
                             f" {rows['max_connections']})", expected, evidence=evidence,
                             detail="" if needed <= available else
                             f"raise max_connections or lower the pool size: {needed} > {available}")
