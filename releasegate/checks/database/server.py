"""PostgreSQL preflight: accepts connections (over SSL when required), extensions, server version.

Every message goes through ``checks.secrets.redact``: the DSN's password never appears, and
the DSN is shown as ``postgresql://user:*****@host:port/db``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from releasegate.checks import secrets
from releasegate.checks.preflight.tools import version_tuple
from releasegate.checks.result import CheckResult

T = TypeVar("T")


def _safe(dsn: str) -> str:
    secrets.register_many(secrets.url_passwords(dsn))
    return secrets.redact(dsn)


def _error_line(exc: Exception) -> str:
    text = str(exc).strip()
    return secrets.redact(text.splitlines()[0] if text else type(exc).__name__)


def _with_connection(dsn: str, timeout_s: float, work: Callable[[Any], T]) -> T:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s)), autocommit=True) as conn:
        return work(conn)


def connection_facts(conn: Any) -> dict[str, Any]:
    """Who and where we are, and whether the connection is encrypted."""
    row = conn.execute(
        "SELECT current_user, current_database(), current_setting('server_version'),"
        " current_setting('server_version_num')::int"
    ).fetchone()
    ssl_row = conn.execute(
        "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    ).fetchone()
    return {
        "user": row[0],
        "database": row[1],
        "server_version": row[2],
        "server_version_num": row[3],
        "ssl": bool(ssl_row[0]) if ssl_row else bool(conn.pgconn.ssl_in_use),
        "ssl_version": ssl_row[1] if ssl_row else None,
        "ssl_cipher": ssl_row[2] if ssl_row else None,
    }


def sslmode(dsn: str) -> str:
    """The sslmode a client uses with ``dsn`` (libpq's default is "prefer")."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        mode = conninfo_to_dict(dsn).get("sslmode")
    except Exception:
        mode = None
    return str(mode or os.environ.get("PGSSLMODE") or "prefer")


def check_connects(dsn: str, *, require_ssl: bool = False, timeout_s: float = 5) -> CheckResult:
    """The database accepts a connection with ``dsn``; with ``require_ssl``, an encrypted one."""
    name = "database accepts connections" + (" over SSL" if require_ssl else "")
    expected = "connected" + (" over SSL" if require_ssl else "")
    where = _safe(dsn)
    try:
        facts = _with_connection(dsn, timeout_s, connection_facts)
    except Exception as exc:  # psycopg.Error, or a DSN that libpq cannot parse
        return CheckResult.fail(name, "no connection", expected, detail=f"{where}: {_error_line(exc)}",
                                evidence={"dsn": where})
    observed = f"connected as {facts['user']} to {facts['database']}" + (" over SSL" if facts["ssl"] else "")
    evidence = {"dsn": where, **facts}
    if require_ssl and not facts["ssl"]:
        return CheckResult.fail(name, observed, expected, evidence=evidence,
                                detail="the connection is not encrypted; add sslmode=require (or verify-full) to the"
                                " DSN and enable ssl on the server")
    return CheckResult.ok(name, observed, expected, evidence=evidence)


def check_uses_ssl(dsn: str, timeout_s: float = 5) -> CheckResult:
    """The connection made with ``dsn`` is encrypted (as reported by pg_stat_ssl)."""
    name = "database connection uses SSL"
    where = _safe(dsn)
    try:
        facts = _with_connection(dsn, timeout_s, connection_facts)
    except Exception as exc:
        return CheckResult.unknown(name, f"no connection to {where}: {_error_line(exc)}", "SSL",
                                   evidence={"dsn": where})
    observed = f"SSL ({facts['ssl_version']}, {facts['ssl_cipher']})" if facts["ssl"] else "no SSL"
    detail = ""
    mode = sslmode(dsn)
    if facts["ssl"] and mode in ("prefer", "allow"):
        detail = f"sslmode is {mode}: a client could fall back to plain text; use sslmode=require"
    elif not facts["ssl"]:
        detail = "the connection is not encrypted; enable ssl on the server and use sslmode=require"
    return CheckResult.judge(name, bool(facts["ssl"]), observed, "SSL", detail=detail,
                             evidence={"dsn": where, "sslmode": mode, **facts})


def check_extension(dsn: str, extension: str, *, installed: bool = False, timeout_s: float = 5) -> CheckResult:
    """An extension is available on the server (``pg_available_extensions``) or installed in the database."""
    state = "installed" if installed else "available"
    name = f"extension {extension} {state}"
    where = _safe(dsn)

    def look(conn: Any) -> tuple[Any, ...] | None:
        row = conn.execute(
            "SELECT name, default_version, installed_version FROM pg_available_extensions WHERE name = %s",
            (extension,),
        ).fetchone()
        return tuple(row) if row else None

    try:
        row = _with_connection(dsn, timeout_s, look)
    except Exception as exc:
        return CheckResult.unknown(name, f"no connection to {where}: {_error_line(exc)}", state,
                                   evidence={"dsn": where})
    if row is None:
        return CheckResult.fail(name, "not available", state, evidence={"dsn": where},
                                detail=f"the server has no {extension} extension (not in pg_available_extensions);"
                                " install its package on the database server")
    evidence = {"dsn": where, "default_version": row[1], "installed_version": row[2]}
    if not installed:
        return CheckResult.ok(name, f"available (version {row[1]})", state, evidence=evidence)
    if row[2] is None:
        return CheckResult.fail(name, f"available (version {row[1]}) but not installed", state, evidence=evidence,
                                detail=f"run CREATE EXTENSION {extension} in the database")
    return CheckResult.ok(name, f"installed (version {row[2]})", state, evidence=evidence)


def check_server_version(dsn: str, minimum: str, timeout_s: float = 5) -> CheckResult:
    """The server's version is at least ``minimum`` ("14", "15.2")."""
    name = f"PostgreSQL server at version {minimum} or later"
    expected = f">= {minimum}"
    where = _safe(dsn)
    try:
        parts = version_tuple(minimum)
    except ValueError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    # server_version_num is major * 10000 + minor since PostgreSQL 10
    wanted = parts[0] * 10000 + (parts[1] if len(parts) > 1 else 0)
    try:
        facts = _with_connection(dsn, timeout_s, connection_facts)
    except Exception as exc:
        return CheckResult.unknown(name, f"no connection to {where}: {_error_line(exc)}", expected,
                                   evidence={"dsn": where})
    return CheckResult.judge(name, facts["server_version_num"] >= wanted, facts["server_version"], expected,
                             evidence={"dsn": where, "server_version_num": facts["server_version_num"]})
