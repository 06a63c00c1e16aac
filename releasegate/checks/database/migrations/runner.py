"""Migrations of any tool: where the schema is, what is pending, upgrade to head, downgrade, and their checks.

PostgreSQL has transactional DDL: a migration that fails halfway leaves the database at the
revision before it. ``apply_migrations`` reads the revision again after a failure and says so; when
it cannot (the server went away) the result is INCONCLUSIVE and the revision "unknown", never a guess.
Every session gets ``lock_timeout`` (``PGOPTIONS``), so a migration waiting for a lock fails
with "lock timeout" instead of blocking the application.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from releasegate.checks import secrets
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import schema_version as schemaversion
from releasegate.checks.database.migrations import alembic, sqlfiles
from releasegate.checks.database.migrations.settings import MigrationRun, MigrationSettings
from releasegate.checks.database.schema_version import Tool
from releasegate.checks.result import CheckResult


def current_version(dsn: str, tool: Tool | None = None, *, step: str = "schema version") -> str | None:
    """The database's schema version (None: never migrated). Raises ``DatabaseError`` with a one-line message."""
    import psycopg

    with dbconn.connect(dsn, step=step) as conn:
        try:
            return schemaversion.read_version(conn, tool)
        except psycopg.Error as exc:
            raise dbconn.DatabaseError(dbconn.describe(exc, dsn, step)) from None


def heads(settings: MigrationSettings) -> list[str]:
    """The version(s) that ``upgrade head`` reaches."""
    return sqlfiles.heads(settings) if settings.tool == "sql" else alembic.heads(settings)


def _known_heads(settings: MigrationSettings) -> list[str] | None:
    """The heads, or None when alembic runs in a container that cannot tell them (no alembic.ini there)."""
    try:
        return heads(settings)
    except dbconn.DatabaseError:
        if settings.in_container_only:
            return None
        raise


def pending(dsn: str, settings: MigrationSettings) -> list[str]:
    """Versions not yet applied, oldest first."""
    if settings.tool == "sql":
        return sqlfiles.pending(dsn, settings)
    current = current_version(dsn, "alembic", step="pending migrations")
    targets = heads(settings)
    if current is not None and sorted(current.split(",")) == targets:
        return []
    if settings.in_container_only:
        return targets
    return alembic.revisions_after(settings, current)


def ancestors(settings: MigrationSettings, version: str) -> set[str]:
    """Every version at or below ``version`` (empty when it is unknown to the scripts)."""
    return sqlfiles.ancestors(settings, version) if settings.tool == "sql" else alembic.ancestors(settings, version)


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
            error = sqlfiles.apply(dsn, settings, step)
        else:
            done = alembic.run(dsn, settings, "upgrade", "head")
            output, error = alembic.output(done), alembic.error(done)
    except subprocess.TimeoutExpired:
        error = f"still running after {settings.timeout_s:g}s (database.migrations.timeout_s); stopped"
    except dbconn.DatabaseError as exc:
        error = str(exc)
    elapsed = time.monotonic() - started
    expected = f"at head ({','.join(target) or 'none'})" if target is not None else "the upgrade command succeeds"
    try:
        after = current_version(dsn, settings.tool, step=step)
    except dbconn.DatabaseError as exc:
        # unknown is recorded as unknown: neither "none" nor "left at the previous revision"
        failed = f"migration failed: {error}; " if error else ""
        detail = secrets.redact(f"{step}: database {database!r} ({where}): {failed}the revision after the migration"
                                f" could not be read ({exc}): unknown; a person must inspect the database")
        run = MigrationRun("UNKNOWN", before, None, target or [], round(elapsed, 3), error or str(exc), None,
                           revision_after_known=False)
        return CheckResult.unknown(name, detail, expected, elapsed_s=elapsed, evidence={
            "dsn": where, "tool": settings.describe(), "revision_before": before, "revision_after": "unknown",
            "left_at_previous_revision": "unknown", "head": target, **output}), run
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
    if target is None and settings.in_container_only:
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
        output: dict[str, str] = {}
        if settings.tool == "sql":
            error = sqlfiles.downgrade(dsn, settings, target, step)
        else:
            done = alembic.run(dsn, settings, "downgrade", target or "base")
            output, error = alembic.output(done), alembic.error(done)
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
    if not run.revision_after_known:
        return CheckResult.unknown(name, f"the migration's outcome is unknown: {run.error}", f"<= {seconds:g}s")
    if run.outcome != "PASS":
        return CheckResult.fail(name, f"failed after {run.elapsed_s:.1f}s", f"<= {seconds:g}s", detail=run.error)
    return CheckResult.judge(name, run.elapsed_s <= seconds, f"{run.elapsed_s:.2f}s", f"<= {seconds:g}s",
                             elapsed_s=run.elapsed_s, evidence=run.to_dict())
