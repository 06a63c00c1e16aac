"""Are the migrations idempotent? Upgrade to head twice on a scratch copy: the schema (``pg_dump
--schema-only``) after the second upgrade must be the schema after the first.

This proves that running the release's migrate step again (a retried release, a second worker) changes
nothing: the tool sees its version table and does nothing, or every statement is written to be re-run.
Whether each statement survives a re-run after a failure halfway is the lint's ``prefer-robust-stmts``.
"""

from __future__ import annotations

import difflib
import subprocess

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.migrations import runner
from releasegate.checks.database.migrations.reversible import scratch_copy
from releasegate.checks.database.migrations.settings import MigrationSettings
from releasegate.checks.result import CheckResult


def schema_dump(dsn: str, *, step: str = "schema dump") -> str:
    """``pg_dump --schema-only`` without owners, privileges, comments or pg_dump's per-run ``\\restrict`` key."""
    conninfo, env = dbconn.client_args(dsn)
    done = subprocess.run([dbconn.pg_binary("pg_dump"), "--schema-only", "--no-owner", "--no-privileges",
                           f"--dbname={conninfo}"], capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise dbconn.DatabaseError(dbconn.describe(done.stderr or "pg_dump failed", dsn, step))
    kept = [line for line in done.stdout.splitlines()
            if line.strip() and not line.startswith("--") and not line.startswith(("\\restrict", "\\unrestrict"))]
    return "\n".join(kept) + "\n"


def check_idempotent(dsn: str, settings: MigrationSettings, *, creator_dsn: str | None = None) -> CheckResult:
    name = "the migrations are idempotent"
    expected = "the second upgrade to head succeeds and leaves the schema of the first (pg_dump --schema-only)"
    try:
        with scratch_copy(dsn, creator_dsn=creator_dsn, step="idempotency check") as (copy, how):
            first, _ = runner.apply_migrations(copy, settings, step="idempotency check: upgrade")
            if not first.passed:
                return CheckResult.fail(name, "the first upgrade failed", expected, detail=first.detail,
                                        evidence={"scratch_copy": how, "first": first.as_dict()})
            once = schema_dump(copy)
            second, _ = runner.apply_migrations(copy, settings, step="idempotency check: upgrade again")
            if not second.passed:
                return CheckResult.fail(name, "the second upgrade failed", expected, detail=second.detail,
                                        evidence={"scratch_copy": how, "second": second.as_dict()})
            twice = schema_dump(copy)
            revision = runner.current_version(copy, settings.tool)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    diff = list(difflib.unified_diff(once.splitlines(), twice.splitlines(), "after the first upgrade",
                                     "after the second", lineterm="", n=1))
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return CheckResult.judge(name, not diff, f"{len(changed)} schema lines differ" if diff else
                             f"same schema at {revision or 'none'} after both upgrades", expected,
                             detail="; ".join(changed[:8]),
                             evidence={"scratch_copy": how, "revision": revision, "diff": diff[:200],
                                       "schema_lines": len(once.splitlines())})
