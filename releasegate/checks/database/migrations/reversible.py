"""Is the release's migration reversible? upgrade -> downgrade -> upgrade on a scratch copy of the database.

The copy is made with ``CREATE DATABASE ... TEMPLATE`` (or pg_dump | pg_restore while the
database is in use) and dropped afterwards; the live database is never touched. The schema
after the second upgrade must be the schema after the first.
"""

from __future__ import annotations

import secrets as random
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.migrations import alembic, runner, sqlfiles
from releasegate.checks.database.migrations.settings import MigrationSettings
from releasegate.checks.result import CheckResult, combine

_SCHEMA_SQL = """
SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
       || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END || coalesce(' default ' || column_default, '')
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'index ' || schemaname || '.' || indexname || ' ' || indexdef FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
ORDER BY 1
"""


def schema_shape(dsn: str) -> list[str]:
    """Columns, indexes and constraints of the user schemas, one line each (to compare two schemas)."""
    with dbconn.connect(dsn, step="schema") as conn:
        return [str(r[0]) for r in conn.execute(_SCHEMA_SQL).fetchall()]


@contextmanager
def scratch_copy(dsn: str, *, creator_dsn: str | None = None, step: str = "scratch copy",
                 empty: bool = False) -> Iterator[tuple[str, str]]:
    """A throw-away copy of the database: ``CREATE DATABASE ... TEMPLATE``, or dump/restore while it is in use.

    ``creator_dsn`` is a role allowed to CREATE DATABASE on the same server (default: ``dsn``'s);
    the copy is owned by ``dsn``'s user, who migrates it. Yields (dsn of the copy, how it was
    made); the copy is dropped afterwards, also when making it failed halfway. ``empty``: a new
    empty database instead of a copy (to restore a backup into).
    """
    import psycopg

    source = dbconn.database_name(dsn)
    scratch = f"{source[:40]}_rg_scratch_{random.token_hex(3)}"
    creator = dbconn.with_database(creator_dsn or dsn, "postgres")
    owner = dbconn.user_name(dsn)
    owned = sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if creator_dsn and owner else sql.SQL("")
    how = "CREATE DATABASE (empty)" if empty else "CREATE DATABASE ... TEMPLATE"
    created = False
    try:
        with dbconn.connect(creator, step=step) as conn:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}{} TEMPLATE {}").format(
                    sql.Identifier(scratch), owned, sql.Identifier("template0" if empty else source)))
                created = True
            except psycopg.errors.ObjectInUse:
                how = "pg_dump | pg_restore (the database is in use, so it cannot be a template)"
                conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(scratch), owned))
                created = True
            except psycopg.errors.InsufficientPrivilege as exc:
                raise dbconn.DatabaseError(
                    dbconn.describe(exc, creator, step) + "; set database.scratch_dsn to a role that may CREATE"
                    " DATABASE on this server") from None
            except psycopg.Error as exc:
                raise dbconn.DatabaseError(dbconn.describe(exc, creator, step)) from None
        if how.startswith("pg_dump"):
            _copy_by_dump(dsn, dbconn.with_database(dsn, scratch), step)
        yield dbconn.with_database(dsn, scratch), how
    finally:
        if created:
            with dbconn.connect(creator, step=step) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def _copy_by_dump(source: str, target: str, step: str) -> None:
    conninfo, env = dbconn.client_args(source)
    target_info, _ = dbconn.client_args(target)
    with tempfile.TemporaryDirectory(prefix="releasegate-scratch-") as folder:
        dump = Path(folder) / "copy.dump"
        for args in ([dbconn.pg_binary("pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={conninfo}"],
                     [dbconn.pg_binary("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                      f"--dbname={target_info}", str(dump)]):
            done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600, check=False)
            if done.returncode != 0:
                raise dbconn.DatabaseError(dbconn.describe(done.stderr or "copy failed", source, step))


def check_reversible(dsn: str, settings: MigrationSettings, *, down_to: str | None = None,
                     down_to_known: bool = False, creator_dsn: str | None = None) -> CheckResult:
    """upgrade head -> downgrade -> upgrade head on a scratch copy; the live database is not touched.

    The downgrade goes to ``down_to`` (the revision recorded before the release) when
    ``down_to_known``, else one step below head. The schema after the second upgrade must be the
    schema after the first.
    """
    name = "the migration is reversible"
    expected = "upgrade -> downgrade -> upgrade succeeds and ends with the same schema"
    if settings.in_container_only:
        return CheckResult.unknown(name, "the reversibility check runs alembic on the host: set"
                                   " database.migrations.path to the migrations the container ships", expected)
    try:
        with scratch_copy(dsn, creator_dsn=creator_dsn, step="reversibility check") as (copy, how):
            steps: list[CheckResult] = []
            first, _ = runner.apply_migrations(copy, settings, step="reversibility check: upgrade")
            steps.append(first)
            if not first.passed:
                return _reversible_result(name, expected, steps, how)
            head = runner.current_version(copy, settings.tool)
            shape_head = schema_shape(copy)
            target = down_to if down_to_known and down_to != head else _one_below(settings, head)
            steps.append(runner.downgrade(copy, settings, target, step="reversibility check: downgrade"))
            if steps[-1].passed:
                again, _ = runner.apply_migrations(copy, settings, step="reversibility check: upgrade again")
                steps.append(again)
                if again.passed:
                    shape_again = schema_shape(copy)
                    differences = sorted(set(shape_head) ^ set(shape_again))
                    steps.append(CheckResult.judge(
                        "schema after the second upgrade is the schema after the first", not differences,
                        f"{len(differences)} differences", "no difference",
                        evidence={"differences": differences[:50]}))
            return _reversible_result(name, expected, steps, how, down_to=target, head=head)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)


def _one_below(settings: MigrationSettings, head: str | None) -> str | None:
    if head is None:
        return None
    return sqlfiles.one_below(settings, head) if settings.tool == "sql" else alembic.one_below(settings, head)


def _reversible_result(name: str, expected: str, steps: list[CheckResult], how: str, **facts: Any) -> CheckResult:
    result = combine(name, steps)
    result.expected = expected
    result.observed = " -> ".join(f"{s.name}: {s.outcome.value}" for s in steps)
    result.evidence.update({"scratch_copy": how, **facts})
    return result
