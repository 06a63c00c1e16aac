"""What every database check shares: DSNs without their password, client binaries, one-line errors.

A DSN's password never goes on a command line or into a message: client programs (pg_dump,
pg_restore, psql) get the DSN without its password plus ``PGPASSWORD`` in their environment,
and every message shows the DSN through ``checks.secrets.redact``.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg import sql

from releasegate.checks import secrets
from releasegate.checks.errors import CheckError

CONNECT_TIMEOUT_S = 5


class DatabaseError(CheckError):
    """A database step could not run; the message is one line naming the step and the database."""


def parse_dsn(dsn: str) -> dict[str, str]:
    """The DSN's parameters (libpq's parser, so URLs and ``key=value`` strings both work)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception as exc:
        raise DatabaseError(f"cannot parse the DSN {redacted(dsn)}: {_first_line(exc)}") from None


def redacted(dsn: str) -> str:
    """The DSN as it may be shown: its password masked (and registered for every later redaction)."""
    secrets.register_many(secrets.url_passwords(dsn))
    match = re.search(r"password=(\S+)", dsn)
    if match:
        secrets.register(match.group(1))
    try:
        from psycopg.conninfo import conninfo_to_dict

        secrets.register(str(conninfo_to_dict(dsn).get("password") or ""))  # decoded: %40 -> @
    except Exception:
        pass
    return re.sub(r"password=\S+", "password=" + secrets.MASK, secrets.redact(dsn))


def database_name(dsn: str) -> str:
    params = parse_dsn(dsn)
    return params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE", "postgres")


def user_name(dsn: str) -> str:
    return parse_dsn(dsn).get("user") or os.environ.get("PGUSER", "")


def with_database(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database (a URL stays a URL: alembic's env.py needs one)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    from psycopg.conninfo import make_conninfo

    if re.match(r"^postgres(ql)?://", dsn):
        parts = urlsplit(dsn)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname), parts.query, parts.fragment))
    params = parse_dsn(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def client_args(dsn: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password for ``--dbname``, and the environment that carries the password."""
    from psycopg.conninfo import make_conninfo

    params = parse_dsn(dsn)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        secrets.register(password)
        env["PGPASSWORD"] = password
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    return make_conninfo("", **params), env


def pg_binary(name: str) -> str:
    """A PostgreSQL client program from the newest /usr/lib/postgresql/*/bin (it reads older servers' data)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if found:
        return found[-1]
    raise DatabaseError(f"{name} not found in /usr/lib/postgresql/*/bin: install Debian's postgresql-client package")


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


@contextmanager
def connect(dsn: str, *, autocommit: bool = True, step: str = "connect") -> Iterator[Any]:
    """A psycopg connection; a failure to connect raises ``DatabaseError`` with a one-line message."""
    import psycopg

    try:
        conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=autocommit)
    except Exception as exc:
        raise DatabaseError(describe(exc, dsn, step)) from None
    try:
        yield conn
    finally:
        conn.close()


def reason(error: Exception | str) -> str:
    """What went wrong, in words a person acts on: wrong password, unreachable, lock timeout, ..."""
    text = str(error).strip()
    sqlstate = getattr(error, "sqlstate", None)
    lowered = text.lower()
    if "password authentication failed" in lowered or sqlstate == "28P01":
        return "wrong password (password authentication failed); check the password in the DSN's variable"
    if "no password supplied" in lowered or "fe_sendauth" in lowered:
        return "no password supplied; put the password variable in the DSN"
    if sqlstate == "55P03" or "lock timeout" in lowered:
        return ("lock timeout: another session holds a lock on the table (a long transaction?);"
                " retry when it is released")
    if sqlstate == "57014" or "statement timeout" in lowered:
        return "statement timeout: the statement ran longer than statement_timeout"
    if re.search(r"database \"[^\"]+\" does not exist", lowered):
        return _first_line(text)
    if any(word in lowered for word in ("connection refused", "could not connect", "timeout expired",
                                        "could not translate host name", "no route to host",
                                        "connection timed out", "server closed the connection")):
        return f"database unreachable ({_first_line(text)})"
    return _first_line(text) or type(error).__name__


def describe(error: Exception | str, dsn: str, step: str) -> str:
    """One line: the step, the database (DSN with its password masked) and the reason."""
    return secrets.redact(f"{step}: database {database_name_safe(dsn)!r} ({redacted(dsn)}): {reason(error)}")


def database_name_safe(dsn: str) -> str:
    try:
        return database_name(dsn)
    except DatabaseError:
        return "?"


def _first_line(error: Exception | str) -> str:
    text = str(error).strip()
    for line in text.splitlines():
        line = line.strip()
        if line:
            return secrets.redact(line.removeprefix("pg_dump: error: ").removeprefix("pg_restore: error: "))
    return ""


def qualified(table: str) -> sql.Identifier:
    """``schema.table`` (as fingerprints and backups name tables) as an SQL identifier."""
    return sql.Identifier(*table.split(".", 1))
