"""Schema migrations: alembic (on the host or inside the service's container) or ordered SQL files.

alembic on the host runs ``python -m alembic -c <ini> upgrade head`` with the DSN in the
``DATABASE_URL`` environment variable (the env.py convention of the demo service), never on the
command line. ``path`` is an ``alembic.ini``, or a folder holding one, or a script folder with
``env.py`` (an ini naming it is written to a temporary file). Inside a container it runs
``docker exec <container> python -m alembic upgrade head`` (or the runbook's ``command``); the
container uses its own database settings.

SQL files (seed 004's style): ``<version>_<name>.sql`` in a folder, applied in name order, each
in its own transaction together with its row in ``schema_migrations``; ``rollback_<version>.sql``
undoes one version.

PostgreSQL has transactional DDL: a migration that fails halfway leaves the database at the
revision before it. ``apply_migrations`` reads the revision again after a failure and says so.
Every session gets ``lock_timeout`` (``PGOPTIONS``), so a migration waiting for a lock fails
with "lock timeout" instead of blocking the application.
"""

from __future__ import annotations

import hashlib
import os
import secrets as random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from releasegate.checks import secrets
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import schema_version as schemaversion
from releasegate.checks.database.schema_version import Tool
from releasegate.checks.result import CheckResult, combine

DEFAULT_CONTAINER_COMMAND = ("python", "-m", "alembic", "upgrade", "head")


@dataclass
class MigrationSettings:
    """How migrations run; JSON-serializable and free of secrets (the DSN is passed separately)."""

    tool: Tool = "alembic"
    run: Literal["host", "container"] = "host"
    path: str | None = None
    container: str | None = None
    image: str | None = None
    command: list[str] | None = None
    downgrade_command: list[str] | None = None
    timeout_s: float = 300.0
    lock_timeout_s: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MigrationSettings:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def describe(self) -> str:
        if self.tool == "sql":
            return f"SQL files in {self.path}"
        if self.run == "container":
            return f"alembic in container {self.container or self.image}"
        return f"alembic ({self.path})"


@dataclass
class MigrationRun:
    """What one ``upgrade head`` did; recorded in the run's database state."""

    outcome: str
    revision_before: str | None
    revision_after: str | None
    target: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    error: str = ""
    left_at_previous: bool | None = None  # after a failure: still at revision_before (transactional DDL)
    finished_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MigrationRun:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


# --- reading versions -----------------------------------------------------------------------------


def current_version(dsn: str, tool: Tool | None = None, *, step: str = "schema version") -> str | None:
    """The database's schema version (None: never migrated). Raises ``DatabaseError`` with a one-line message."""
    import psycopg

    with dbconn.connect(dsn, step=step) as conn:
        try:
            return schemaversion.read_version(conn, tool)
        except psycopg.Error as exc:
            raise dbconn.DatabaseError(dbconn.describe(exc, dsn, step)) from None


@contextmanager
def _alembic_ini(settings: MigrationSettings) -> Iterator[Path]:
    """The alembic.ini to run with: the runbook's, or a temporary one naming the script folder."""
    if not settings.path:
        raise dbconn.DatabaseError("database.migrations.path is not set: name the alembic.ini or migrations folder")
    path = Path(settings.path)
    if path.is_file():
        yield path
        return
    if (path / "alembic.ini").is_file():
        yield path / "alembic.ini"
        return
    if not (path / "env.py").is_file():
        raise dbconn.DatabaseError(
            f"database.migrations.path {path} is neither an alembic.ini nor a folder with alembic.ini or env.py")
    with tempfile.TemporaryDirectory(prefix="releasegate-alembic-") as folder:
        ini = Path(folder) / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {path.resolve()}\n", encoding="utf-8")
        yield ini


def _script_directory(settings: MigrationSettings) -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with _alembic_ini(settings) as ini:
        config = Config(str(ini))
        try:
            script = ScriptDirectory.from_config(config)
            script.get_heads()  # imports every revision: a broken script fails here, with its name
            return script
        except Exception as exc:
            raise dbconn.DatabaseError(
                f"broken migration scripts in {settings.path}: {type(exc).__name__}: {dbconn.reason(exc)}") from None


def sql_files(settings: MigrationSettings) -> list[tuple[str, Path]]:
    """(version, file) of every migration file in name order; ``rollback_*.sql`` excluded."""
    folder = Path(settings.path or "")
    if not settings.path or not folder.is_dir():
        raise dbconn.DatabaseError(f"database.migrations.path {settings.path!r} is not a folder of SQL files")
    files = sorted(p for p in folder.glob("*.sql") if not p.name.startswith("rollback_"))
    return [(p.stem.split("_", 1)[0], p) for p in files]


def heads(settings: MigrationSettings) -> list[str]:
    """The version(s) that ``upgrade head`` reaches."""
    if settings.tool == "sql":
        files = sql_files(settings)
        return [files[-1][0]] if files else []
    if settings.run == "container" and not settings.path:
        done = _docker_exec(settings, ["python", "-m", "alembic", "heads"], timeout=60)
        if done.returncode != 0:
            raise dbconn.DatabaseError(f"alembic heads in container {settings.container}: "
                                       f"{_last_error_line(done.stderr)}")
        return sorted(line.split()[0] for line in done.stdout.splitlines() if line.strip())
    return sorted(_script_directory(settings).get_heads())


def _known_heads(settings: MigrationSettings) -> list[str] | None:
    """The heads, or None when alembic runs in a container that cannot tell them (no alembic.ini there)."""
    try:
        return heads(settings)
    except dbconn.DatabaseError:
        if settings.run == "container" and not settings.path:
            return None
        raise


def pending(dsn: str, settings: MigrationSettings) -> list[str]:
    """Versions not yet applied, oldest first."""
    if settings.tool == "sql":
        with dbconn.connect(dsn, step="pending migrations") as conn:
            applied = _applied_sql_versions(conn)
        return [version for version, _ in sql_files(settings) if version not in applied]
    current = current_version(dsn, "alembic", step="pending migrations")
    targets = heads(settings)
    if current is not None and sorted(current.split(",")) == targets:
        return []
    if settings.run == "container" and not settings.path:
        return targets
    script = _script_directory(settings)
    revisions = script.iterate_revisions("heads", current.split(",") if current else "base")
    return [r.revision for r in reversed(list(revisions))]


def ancestors(settings: MigrationSettings, version: str) -> set[str]:
    """Every version at or below ``version`` (empty when it is unknown to the scripts)."""
    if settings.tool == "sql":
        return {v for v, _ in sql_files(settings) if v <= version}
    try:
        script = _script_directory(settings)
        return {r.revision for r in script.iterate_revisions(version.split(","), "base")}
    except Exception:
        return set()


# --- running -------------------------------------------------------------------------------------


def _session_options(settings: MigrationSettings) -> str:
    # statement_timeout too: a migration stopped at timeout_s must not keep running on the server
    return (f"-c lock_timeout={int(settings.lock_timeout_s * 1000)}"
            f" -c statement_timeout={int(settings.timeout_s * 1000)}")


def _environment(dsn: str, settings: MigrationSettings) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = dsn
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " " + _session_options(settings)).strip()
    return env


def _docker_exec(settings: MigrationSettings, command: list[str], *,
                 timeout: float) -> subprocess.CompletedProcess[str]:
    if not settings.container:
        raise dbconn.DatabaseError("database.migrations.container is not set: name the service's container"
                                   " (or set database.migrations.image to run the release's image)")
    env = dict(os.environ)
    env["PGOPTIONS"] = _session_options(settings)
    return subprocess.run(["docker", "exec", "-e", "PGOPTIONS", settings.container, *command],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def _docker_run(dsn: str, settings: MigrationSettings, command: list[str], *,
                timeout: float) -> subprocess.CompletedProcess[str]:
    """A one-off container of the release's image on the host network, DATABASE_URL passed by name only."""
    name = f"releasegate-migrate-{random.token_hex(4)}"
    try:
        return subprocess.run(["docker", "run", "--rm", "--name", name, "--network", "host", "-e", "DATABASE_URL",
                               "-e", "PGOPTIONS", str(settings.image), *command],
                              capture_output=True, text=True, env=_environment(dsn, settings), timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        raise


def _alembic(dsn: str, settings: MigrationSettings, *arguments: str) -> subprocess.CompletedProcess[str]:
    # a downgrade without a downgrade_command runs on the host from the host copy of the migrations (path)
    host_downgrade = arguments[0] == "downgrade" and not settings.downgrade_command and bool(settings.path)
    if settings.run == "container" and not host_downgrade:
        if arguments[0] == "upgrade":
            command = list(settings.command or DEFAULT_CONTAINER_COMMAND)
        else:
            template = settings.downgrade_command or ["python", "-m", "alembic", "downgrade", "{revision}"]
            command = [part.replace("{revision}", arguments[1]) for part in template]
        if settings.image and not settings.container:
            return _docker_run(dsn, settings, command, timeout=settings.timeout_s)
        return _docker_exec(settings, command, timeout=settings.timeout_s)
    with _alembic_ini(settings) as ini:
        return subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), *arguments],
                              capture_output=True, text=True, env=_environment(dsn, settings),
                              timeout=settings.timeout_s, cwd=str(ini.parent), check=False)


def _last_error_line(stderr: str) -> str:
    """The line of a traceback that says what went wrong (``SomeError: message``)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("[SQL:", "(Background", "[parameters:")):
            continue
        if ("Error" in line or "error" in line or "FAILED" in line) and not line.startswith("File "):
            return secrets.redact(line)
    return secrets.redact(lines[-1]) if lines else "failed without a message"


def _applied_sql_versions(conn: Any) -> set[str]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (schemaversion.SQL_TABLE,)).fetchone()[0]
    if not exists:
        return set()
    return {str(r[0]) for r in conn.execute(f"SELECT version FROM {schemaversion.SQL_TABLE}").fetchall()}


def _sql_session(conn: Any, settings: MigrationSettings) -> None:
    conn.execute(f"SET lock_timeout = {int(settings.lock_timeout_s * 1000)}")
    conn.execute(f"SET statement_timeout = {int(settings.timeout_s * 1000)}")


def _apply_sql(dsn: str, settings: MigrationSettings, step: str) -> str:
    """Apply pending SQL files; returns "" or the one-line error of the file that failed."""
    import psycopg

    files = sql_files(settings)
    with dbconn.connect(dsn, step=step) as conn:
        _sql_session(conn, settings)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {schemaversion.SQL_TABLE} (version text PRIMARY KEY,"
                     " name text, checksum text, applied_at timestamptz NOT NULL DEFAULT now())")
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (schemaversion.SQL_TABLE,)).fetchall()}
        applied = _applied_sql_versions(conn)
        for version, path in files:
            if version in applied:
                continue
            text = path.read_text(encoding="utf-8")
            try:
                with conn.transaction():
                    conn.execute(text.encode("utf-8"))
                    if {"name", "checksum"} <= columns:
                        conn.execute(f"INSERT INTO {schemaversion.SQL_TABLE} (version, name, checksum)"
                                     " VALUES (%s, %s, %s)",
                                     (version, path.name, hashlib.sha256(text.encode()).hexdigest()))
                    else:
                        conn.execute(f"INSERT INTO {schemaversion.SQL_TABLE} (version) VALUES (%s)", (version,))
            except psycopg.Error as exc:
                return f"{path.name}: {dbconn.reason(exc)}"
    return ""


def apply_migrations(dsn: str, settings: MigrationSettings, *,
                     step: str = "migrate") -> tuple[CheckResult, MigrationRun]:
    """Upgrade to head; after a failure, read the revision again and say where the database was left."""
    name = "migrations applied to head"
    where = dbconn.redacted(dsn)
    database = dbconn.database_name_safe(dsn)
    before: str | None = None
    try:
        before = current_version(dsn, settings.tool, step=step)
        target = _known_heads(settings)
    except dbconn.DatabaseError as exc:
        text = str(exc) if str(exc).startswith(f"{step}:") else f"{step}: database {database!r} ({where}): {exc}"
        run = MigrationRun("FAIL", before, before, error=text, left_at_previous=True)
        return CheckResult.fail(name, "not run", "at head", detail=text,
                                evidence={"dsn": where, "revision": before}), run
    started = time.monotonic()
    error = ""
    output: dict[str, str] = {}
    try:
        if settings.tool == "sql":
            error = _apply_sql(dsn, settings, step)
        else:
            done = _alembic(dsn, settings, "upgrade", "head")
            output = {"stdout": secrets.redact(done.stdout[-3000:]),
                      "stderr": secrets.redact(done.stderr[-6000:])}
            if done.returncode != 0:
                error = dbconn.reason(_last_error_line(done.stderr or done.stdout))
    except subprocess.TimeoutExpired:
        error = f"still running after {settings.timeout_s:g}s (database.migrations.timeout_s); stopped"
    except dbconn.DatabaseError as exc:
        error = str(exc)
    elapsed = time.monotonic() - started
    try:
        after = current_version(dsn, settings.tool, step=step)
    except dbconn.DatabaseError as exc:
        after = None
        error = error or str(exc)
    expected = f"at head ({','.join(target) or 'none'})" if target is not None else "the upgrade command succeeds"
    evidence: dict[str, Any] = {"dsn": where, "tool": settings.describe(), "revision_before": before,
                                "revision_after": after, "head": target, **output}
    if error:
        left = after == before
        where_left = (f"the database is still at revision {before or 'none'} (the failed migration was rolled"
                      " back)" if left else f"the database is at revision {after or 'none'}, not at the revision"
                      f" before ({before or 'none'}): inspect it")
        run = MigrationRun("FAIL", before, after, target or [], round(elapsed, 3), error, left)
        evidence["left_at_previous_revision"] = left
        detail = secrets.redact(f"{step}: database {database!r} ({where}): migration failed: {error}; "
                                       f"{where_left}")
        return CheckResult.fail(name, f"failed at revision {after or 'none'}", expected, detail=detail,
                                elapsed_s=elapsed, evidence=evidence), run
    if target is None and settings.run == "container" and not settings.path:
        evidence["head"] = ("unknown: the container has no alembic.ini for 'alembic heads'; set"
                            " database.migrations.path to a host copy of its migrations to compare with the head")
    at_target = target is not None and after is not None and sorted(after.split(",")) == target
    if settings.run == "container" and target is not None and not at_target:
        # the image ships its own migrations: its exit status says whether they all applied
        evidence["head"] = (f"{','.join(target)} in the host copy ({settings.path}); the image's migrations ended"
                            f" at {after or 'none'}")
        target = None
        expected = "the upgrade command in the image succeeds"
    reached = after is not None and (target is None or at_target)
    run = MigrationRun("PASS" if reached else "FAIL", before, after, target or [], round(elapsed, 3))
    return CheckResult.judge(name, reached, f"at revision {after or 'none'} (from {before or 'none'})", expected,
                             elapsed_s=elapsed, evidence=evidence,
                             detail="" if reached else "upgrade finished but the database is not at head"), run


def downgrade(dsn: str, settings: MigrationSettings, target: str | None, *, step: str = "downgrade") -> CheckResult:
    """Downgrade to ``target`` (None: before the first migration), then verify the schema version."""
    name = f"schema downgraded to {target or 'base'}"
    try:
        before = current_version(dsn, settings.tool, step=step)
        if before == target:
            return CheckResult.ok(name, f"already at {target or 'base'}", target or "base",
                                  detail="nothing to downgrade")
        if settings.tool == "sql":
            error = _downgrade_sql(dsn, settings, target, step)
            output: dict[str, str] = {}
        else:
            done = _alembic(dsn, settings, "downgrade", target or "base")
            output = {"stdout": secrets.redact(done.stdout[-3000:]),
                      "stderr": secrets.redact(done.stderr[-6000:])}
            error = dbconn.reason(_last_error_line(done.stderr or done.stdout)) if done.returncode else ""
        after = current_version(dsn, settings.tool, step=step)
    except subprocess.TimeoutExpired:
        return CheckResult.fail(name, "timed out", target or "base",
                                detail=f"{step}: still running after {settings.timeout_s:g}s")
    except dbconn.DatabaseError as exc:
        return CheckResult.fail(name, "not downgraded", target or "base", detail=str(exc))
    evidence = {"revision_before": before, "revision_after": after, **output}
    if error:
        return CheckResult.fail(name, f"at {after or 'base'}", target or "base", evidence=evidence,
                                detail=dbconn.describe(error, dsn, step))
    return CheckResult.judge(name, after == target, f"at {after or 'base'} (from {before or 'base'})",
                             target or "base", evidence=evidence)


def _downgrade_sql(dsn: str, settings: MigrationSettings, target: str | None, step: str) -> str:
    import psycopg

    folder = Path(settings.path or "")
    with dbconn.connect(dsn, step=step) as conn:
        _sql_session(conn, settings)
        to_undo = sorted((v for v in _applied_sql_versions(conn) if target is None or v > target), reverse=True)
        missing = [f"rollback_{v}.sql" for v in to_undo if not (folder / f"rollback_{v}.sql").is_file()]
        if missing:
            return f"no rollback file {', '.join(missing)} in {folder}; nothing was undone"
        for version in to_undo:
            path = folder / f"rollback_{version}.sql"
            try:
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8").encode("utf-8"))
                    conn.execute(f"DELETE FROM {schemaversion.SQL_TABLE} WHERE version = %s", (version,))
            except psycopg.Error as exc:
                return f"{path.name}: {dbconn.reason(exc)}"
    return ""


# --- checks ---------------------------------------------------------------------------------------


def check_version(dsn: str, tool: Tool | None, expected: str) -> CheckResult:
    name = f"schema version is {expected}"
    try:
        version = current_version(dsn, tool, step="schema version")
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    return CheckResult.judge(name, version == expected, version or "none (never migrated)", expected,
                             evidence={"dsn": dbconn.redacted(dsn)})


def check_no_pending(dsn: str, settings: MigrationSettings) -> CheckResult:
    name = "no migration is pending"
    try:
        waiting = pending(dsn, settings)
        version = current_version(dsn, settings.tool)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), "none pending")
    return CheckResult.judge(name, not waiting, f"pending: {', '.join(waiting)}" if waiting else "none pending",
                             "none pending", evidence={"revision": version, "pending": waiting},
                             detail=f"the database is at {version or 'none'}; apply the migrations" if waiting else "")


def check_finished_within(run: MigrationRun | None, seconds: float) -> CheckResult:
    name = f"migrations finish within {seconds:g} seconds"
    if run is None:
        return CheckResult.unknown(name, "no migration run is recorded in this run; apply the migrations first",
                                   f"<= {seconds:g}s")
    if run.outcome != "PASS":
        return CheckResult.fail(name, f"failed after {run.elapsed_s:.1f}s", f"<= {seconds:g}s", detail=run.error)
    return CheckResult.judge(name, run.elapsed_s <= seconds, f"{run.elapsed_s:.2f}s", f"<= {seconds:g}s",
                             elapsed_s=run.elapsed_s, evidence=run.to_dict())


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
def scratch_copy(dsn: str, *, creator_dsn: str | None = None,
                 step: str = "scratch copy") -> Iterator[tuple[str, str]]:
    """A throw-away copy of the database: ``CREATE DATABASE ... TEMPLATE``, or dump/restore while it is in use.

    ``creator_dsn`` is a role allowed to CREATE DATABASE on the same server (default: ``dsn``'s);
    the copy is owned by ``dsn``'s user, who migrates it. Yields (dsn of the copy, how it was
    made); the copy is dropped afterwards, also when making it failed halfway.
    """
    import psycopg

    source = dbconn.database_name(dsn)
    scratch = f"{source[:40]}_rg_scratch_{random.token_hex(3)}"
    creator = dbconn.with_database(creator_dsn or dsn, "postgres")
    owner = dbconn.user_name(dsn)
    owner_clause = f" OWNER {dbconn.quote_ident(owner)}" if creator_dsn and owner else ""
    how = "CREATE DATABASE ... TEMPLATE"
    created = False
    try:
        with dbconn.connect(creator, step=step) as conn:
            try:
                conn.execute(f"CREATE DATABASE {dbconn.quote_ident(scratch)}{owner_clause}"
                             f" TEMPLATE {dbconn.quote_ident(source)}")
                created = True
            except psycopg.errors.ObjectInUse:
                how = "pg_dump | pg_restore (the database is in use, so it cannot be a template)"
                conn.execute(f"CREATE DATABASE {dbconn.quote_ident(scratch)}{owner_clause}")
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
                conn.execute(f"DROP DATABASE IF EXISTS {dbconn.quote_ident(scratch)} WITH (FORCE)")


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
    if settings.run == "container" and not settings.path:
        return CheckResult.unknown(name, "the reversibility check runs alembic on the host: set"
                                   " database.migrations.path to the migrations the container ships", expected)
    try:
        with scratch_copy(dsn, creator_dsn=creator_dsn, step="reversibility check") as (copy, how):
            steps: list[CheckResult] = []
            first, _ = apply_migrations(copy, settings, step="reversibility check: upgrade")
            steps.append(first)
            if not first.passed:
                return _reversible_result(name, expected, steps, how)
            head = current_version(copy, settings.tool)
            shape_head = schema_shape(copy)
            target = down_to if down_to_known and down_to != head else _one_below(settings, head)
            steps.append(downgrade(copy, settings, target, step="reversibility check: downgrade"))
            if steps[-1].passed:
                again, _ = apply_migrations(copy, settings, step="reversibility check: upgrade again")
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
    if settings.tool == "sql":
        earlier = [v for v, _ in sql_files(settings) if v < head]
        return earlier[-1] if earlier else None
    revision = _script_directory(settings).get_revision(head)
    down = revision.down_revision if revision is not None else None
    if isinstance(down, tuple):
        return ",".join(sorted(down))
    return down


def _reversible_result(name: str, expected: str, steps: list[CheckResult], how: str, **facts: Any) -> CheckResult:
    result = combine(name, steps)
    result.expected = expected
    result.observed = " -> ".join(f"{s.name}: {s.outcome.value}" for s in steps)
    result.evidence.update({"scratch_copy": how, **facts})
    return result


def settings_for(config: Any, root: Path, version: str | None = None) -> MigrationSettings:
    """Settings from the runbook's ``database.migrations`` section; a relative path is relative to ``root``,
    ``{version}`` in the image is the release's version."""
    path = config.path
    # a container's path may name a folder inside the container: only a host folder that exists is resolved
    if path and not Path(path).is_absolute() and (config.run == "host" or (root / path).exists()):
        path = str((root / path).resolve())
    image = config.image.replace("{version}", version or "latest") if config.image else None
    return MigrationSettings(tool=config.tool, run=config.run, path=path, container=config.container, image=image,
                             command=list(config.command) if config.command else None,
                             downgrade_command=list(config.downgrade_command) if config.downgrade_command else None,
                             timeout_s=float(config.timeout_s), lock_timeout_s=float(config.lock_timeout_s))
