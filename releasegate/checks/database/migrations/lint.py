"""The safety lint of the pending migrations: their SQL, from the revision the database is at to the release's
head, checked by squawk (the ``squawk-cli`` package ships the binary) before anything runs.

Where the SQL comes from (nothing is executed on the database: only its revision and version are read):

- alembic: offline mode, ``alembic upgrade --sql FROM:head``; inside the release's image or the service's
  container when the runbook runs migrations there (``database.migrations.sql_command``, ``{range}`` is
  ``FROM:head``), else from the host copy (``path``). The output is split per revision at alembic's
  ``-- Running upgrade A -> B`` comments, so a line is a line of that revision's SQL;
- SQL files: the pending files as they are (lines are the file's).

Every finding is evidence (rule, migration, line, statement, squawk's message and help) with a verdict from
the runbook's ``database.migrations.lint``: ``fail``, ``warn``, ``waived`` (a reviewed waiver: rule +
migration + reason) or ``covered``: squawk's ``require-lock-timeout`` and ``require-statement-timeout`` ask
for timeouts that releasegate sets for every migration session (``MigrationSettings.session_settings``:
PGOPTIONS for alembic on the host and in containers, SET for SQL files). What squawk cannot see is a
migration that changes those timeouts itself: a ``SET lock_timeout`` / ``statement_timeout`` (or
``set_config``) to 0 or above the session's value is releasegate's own finding ``timeout-override``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support import shell, squawk
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.migrations import alembic, container, runner, sqlfiles
from releasegate.checks.database.migrations.settings import MigrationSettings
from releasegate.checks.errors import CheckError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import OWN_LINT_RULES, MigrationLint

DEFAULT_SQL_COMMAND = ("python", "-m", "alembic", "upgrade", "--sql", "{range}")
TIMEOUT_OVERRIDE = "timeout-override"
COVERED_RULES = {"require-lock-timeout": "lock_timeout", "require-statement-timeout": "statement_timeout"}
OWN_RULES = OWN_LINT_RULES

# Rules whose statement holds a lock while PostgreSQL scans or rewrites the table: only statement_timeout
# bounds how long. (Other findings take their lock briefly; waiting for it is bounded by lock_timeout.)
LONG_LOCK_RULES = {
    "adding-field-with-default": "ACCESS EXCLUSIVE while the table is rewritten",
    "changing-column-type": "ACCESS EXCLUSIVE while the table is rewritten",
    "adding-serial-primary-key-field": "ACCESS EXCLUSIVE while the table is rewritten and indexed",
    "adding-not-nullable-field": "ACCESS EXCLUSIVE while the table is scanned",
    "disallowed-unique-constraint": "ACCESS EXCLUSIVE while the unique index is built",
    "require-concurrent-index-creation": "SHARE (writes blocked) while the index is built",
    "constraint-missing-not-valid": "the constraint's lock while every row is checked",
    "adding-foreign-key-constraint": "SHARE ROW EXCLUSIVE on both tables while every row is checked",
}

_RUNNING = re.compile(r"^-- Running upgrade (?P<source>\S*) -> (?P<target>\S+)\s*$", re.M)
_FRAME = {"", "BEGIN;", "COMMIT;"}
_SET_TIMEOUT = re.compile(
    r"\bSET\s+(?:SESSION\s+|LOCAL\s+)?(?P<name>lock_timeout|statement_timeout)\s*(?:=|\bTO\b)\s*"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s;]+)"
    r"|\bset_config\s*\(\s*'(?P<fname>lock_timeout|statement_timeout)'\s*,\s*'(?P<fvalue>[^']*)'",
    re.I)
_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "": 1}


class LintError(CheckError):
    """The lint could not run: squawk missing or refusing an option, or the SQL could not be produced."""


@dataclass(frozen=True)
class PendingMigration:
    name: str  # the alembic revision or the SQL file's version: what a waiver names
    label: str  # "0002 -> 0003", or the file name
    sql: str
    path: str | None = None  # an SQL file, linted as it is

    def names(self) -> set[str]:
        found = {self.name, self.label}
        if self.path:
            found |= {Path(self.path).name, Path(self.path).stem}
        return found


@dataclass
class Finding:
    rule: str
    migration: str
    line: int  # 1-based, in the migration's SQL
    column: int
    statement: str
    message: str
    help: str
    verdict: str = "fail"  # fail, warn, waived, covered
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        return secrets.redact(f"{self.migration} line {self.line}: {self.rule}: {self.message}"
                              f" [{_shorten(self.statement, 100)}]")


@dataclass
class LintReport:
    migrations: list[PendingMigration]
    findings: list[Finding]
    source: str  # how the SQL was produced
    revision: str | None  # where the database is
    squawk: str  # squawk's version
    pg_version: str | None
    session: dict[str, int]  # the timeouts every migration session gets, in ms
    unused_waivers: list[dict[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def having(self, verdict: str) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]

    def evidence(self) -> dict[str, Any]:
        return {
            "revision": self.revision, "source": self.source, "squawk": self.squawk, "pg_version": self.pg_version,
            "session_settings_ms": self.session, "lint_seconds": round(self.elapsed_s, 3),
            "migrations": [{"name": m.name, "label": m.label, "path": m.path, "sql": secrets.redact(m.sql[:20_000])}
                           for m in self.migrations],
            "findings": [f.to_dict() for f in self.findings],
            "waived": [{"rule": f.rule, "migration": f.migration, "line": f.line, "reason": f.reason}
                       for f in self.having("waived")],
            "unused_waivers": self.unused_waivers,
        }


# --- squawk ------------------------------------------------------------------------------------------


def _squawk(arguments: list[str], *, stdin: str | None = None, cwd: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    try:
        return squawk.run(arguments, stdin=stdin, cwd=cwd)
    except FileNotFoundError as exc:
        raise LintError(str(exc)) from None
    except subprocess.TimeoutExpired:
        raise LintError(f"squawk still running after {squawk.TIMEOUT_S}s") from None


def check_rule_names(lint: MigrationLint) -> None:
    """Every rule the runbook names is one squawk knows (the model checks it at load time too)."""
    fields = [("fail", lint.fail or []), ("warn", lint.warn), ("include", lint.include),
              ("waivers", [w.rule for w in lint.waivers])]
    for where, names in fields:
        unknown = squawk.unknown_rule(n for n in names if n not in OWN_RULES)
        if unknown is not None:
            raise LintError(f"database.migrations.lint.{where}: squawk {squawk.version()} has no rule"
                            f" {unknown!r}; see https://squawkhq.com/docs/rules for the rule names")


def run_squawk(migrations: list[PendingMigration], *, pg_version: str | None = None, include: Sequence[str] = (),
               assume_in_transaction: bool = True) -> list[Finding]:
    """squawk over every migration in one run; findings with 1-based lines and the statement each names."""
    if not migrations:
        return []
    with tempfile.TemporaryDirectory(prefix="releasegate-lint-") as folder:
        by_file: dict[str, PendingMigration] = {}
        for index, migration in enumerate(migrations):
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", migration.name)[:60]
            path = Path(folder) / f"{index:04d}_{safe}.sql"
            path.write_text(migration.sql, encoding="utf-8")
            by_file[str(path)] = migration
        arguments = ["--reporter", "json"]
        if include:
            arguments.append(f"--include={','.join(include)}")
        if pg_version:
            arguments.append(f"--pg-version={pg_version}")
        arguments.append("--assume-in-transaction" if assume_in_transaction else "--no-assume-in-transaction")
        done = _squawk([*arguments, *by_file], cwd=folder)
    if done.returncode not in (0, 1):
        raise LintError(f"squawk failed: {_first_line(done.stderr) or f'exit status {done.returncode}'}")
    try:
        raw = json.loads(done.stdout or "[]")
    except ValueError:
        raise LintError(f"squawk's JSON report is unreadable: {_shorten(done.stdout, 200)}") from None
    findings: list[Finding] = []
    for item in raw:
        found = by_file.get(str(item.get("file")))
        if found is None:
            continue
        migration = found
        line, end = int(item.get("line") or 0), int(item.get("line_end") or item.get("line") or 0)
        lines = migration.sql.splitlines()[line:end + 1]
        findings.append(Finding(rule=str(item.get("rule_name") or "unknown"), migration=migration.name,
                                line=line + 1, column=int(item.get("column") or 0) + 1,
                                statement=" ".join(x.strip() for x in lines if x.strip())[:500],
                                message=str(item.get("message") or ""), help=str(item.get("help") or "")))
    return findings


# --- the SQL of the pending migrations ---------------------------------------------------------------


def split_offline(text: str) -> list[PendingMigration]:
    """alembic's offline output, one migration per ``-- Running upgrade A -> B`` comment (bookkeeping first)."""
    marks = list(_RUNNING.finditer(text))
    migrations: list[PendingMigration] = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        lines = text[mark.end():end].splitlines()
        while lines and lines[-1].strip() in _FRAME:  # COMMIT; / BEGIN; between or after revisions
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        source = mark.group("source") or "base"
        migrations.append(PendingMigration(mark.group("target"), f"{source} -> {mark.group('target')}",
                                           "\n".join(lines) + "\n"))
    return migrations


def offline_range(current: str | None) -> str:
    if current and "," in current:
        raise LintError(f"the database is at several alembic heads ({current}): alembic's offline mode needs one"
                        " starting revision")
    return f"{current}:head" if current else "head"


def pending_migrations(dsn: str, settings: MigrationSettings) -> tuple[list[PendingMigration], str, str | None]:
    """The pending migrations' SQL, how it was produced, and the revision the database is at."""
    current = runner.current_version(dsn, settings.tool, step="migration lint")
    if settings.tool == "sql":
        waiting = set(sqlfiles.pending(dsn, settings))
        files = [PendingMigration(v, p.name, p.read_text(encoding="utf-8"), str(p))
                 for v, p in sqlfiles.files(settings) if v in waiting]
        return files, f"SQL files in {settings.path}", current
    span = offline_range(current)
    if settings.run == "container" and (settings.image or settings.container):
        command = shell.fill_argv(settings.sql_command or DEFAULT_SQL_COMMAND, {"range": span})
        done = container.run(dsn, settings, command, timeout=settings.timeout_s)
        where = f"container {settings.container}" if settings.container else f"image {settings.image}"
    else:
        done = alembic.run(dsn, dataclasses.replace(settings, run="host"), "upgrade", "--sql", span)
        where = f"the host copy {settings.path}"
    how = f"alembic offline mode ({span}) in {where}"
    if done.returncode != 0:
        raise LintError(f"migration lint: {how} failed: {alembic.error(done)}")
    found = split_offline(done.stdout)
    if not found and any(line.strip() not in _FRAME and not line.startswith("--") for line in done.stdout.splitlines()):
        raise LintError(f"migration lint: {how} printed SQL without alembic's '-- Running upgrade' comments;"
                        " is database.migrations.sql_command alembic's upgrade --sql {range}?")
    return found, how, current


def server_version(dsn: str) -> str | None:
    """The server's version as squawk takes it (``16.4``), read without changing anything."""
    with dbconn.connect(dsn, step="migration lint") as conn:
        number = int(conn.execute("SHOW server_version_num").fetchone()[0])
    return f"{number // 10000}.{number % 100}" if number >= 100000 else None


# --- verdicts ----------------------------------------------------------------------------------------


def timeout_overrides(migration: PendingMigration, session: dict[str, int]) -> list[Finding]:
    """Statements of the migration that lift a timeout releasegate set for its session (0, or above it)."""
    found: list[Finding] = []
    for match in _SET_TIMEOUT.finditer(migration.sql):
        name = (match.group("name") or match.group("fname")).lower()
        value = (match.group("value") or match.group("fvalue") or "").strip("'\"")
        milliseconds = _milliseconds(value)
        limit = session[name]
        if milliseconds is not None and 0 < milliseconds <= limit:
            continue
        line = migration.sql.count("\n", 0, match.start()) + 1
        shown = "0 (no limit)" if milliseconds == 0 else f"{value!r}"
        found.append(Finding(
            TIMEOUT_OVERRIDE, migration.name, line, 1, match.group(0),
            f"the migration sets {name} to {shown}, above the {limit} ms releasegate sets for every migration"
            " session", f"remove the SET, or change database.migrations.{_runbook_field(name)} in the runbook"))
    return found


def judge(findings: list[Finding], migrations: list[PendingMigration], lint: MigrationLint,
          session: dict[str, int]) -> list[dict[str, str]]:
    """Give every finding its verdict; returns the waivers that matched nothing."""
    by_name = {m.name: m for m in migrations}
    used: set[int] = set()
    for finding in findings:
        names = by_name[finding.migration].names() if finding.migration in by_name else {finding.migration}
        waiver = next((i for i, w in enumerate(lint.waivers) if w.rule == finding.rule and w.migration in names),
                      None)
        if waiver is not None:
            used.add(waiver)
            finding.verdict, finding.reason = "waived", lint.waivers[waiver].reason
        elif finding.rule in COVERED_RULES:
            setting = COVERED_RULES[finding.rule]
            finding.verdict = "covered"
            finding.reason = f"releasegate sets {setting} = {session[setting]} ms for every migration session"
        elif lint.fail is not None:
            finding.verdict = "fail" if finding.rule in lint.fail else "warn"
        else:
            finding.verdict = "warn" if finding.rule in lint.warn else "fail"
    return [w.model_dump() for i, w in enumerate(lint.waivers) if i not in used]


def lint_pending(dsn: str, settings: MigrationSettings, lint: MigrationLint) -> LintReport:
    """The pending migrations' SQL linted and judged. Raises ``LintError`` or ``DatabaseError`` (one line)."""
    started = time.monotonic()
    check_rule_names(lint)
    migrations, how, revision = pending_migrations(dsn, settings)
    pg_version = lint.pg_version or server_version(dsn)
    session = settings.session_settings()
    findings = run_squawk(migrations, pg_version=pg_version, include=lint.include)
    for migration in migrations:
        findings += timeout_overrides(migration, session)
    unused = judge(findings, migrations, lint, session)
    return LintReport(migrations, findings, how, revision, squawk.version(), pg_version, session, unused,
                      time.monotonic() - started)


# --- the checks --------------------------------------------------------------------------------------


def check_lint(dsn: str, settings: MigrationSettings, lint: MigrationLint) -> CheckResult:
    """PASS when no finding of the pending migrations fails the gate; warnings and waivers are evidence."""
    name = "the pending migrations pass the safety lint"
    expected = "no finding of a failing rule"
    try:
        report = lint_pending(dsn, settings, lint)
    except (LintError, dbconn.DatabaseError, subprocess.TimeoutExpired, OSError) as exc:
        return CheckResult.unknown(name, secrets.redact(str(exc) or type(exc).__name__), expected)
    failing, warnings, waived = report.having("fail"), report.having("warn"), report.having("waived")
    observed = (f"{len(failing)} failing, {len(warnings)} warnings, {len(waived)} waived in"
                f" {len(report.migrations)} pending migrations")
    if not report.migrations:
        observed = f"no pending migration (the database is at {report.revision or 'none'})"
    notes = []
    if failing:
        notes.append("; ".join(f.describe() for f in failing[:5]) + (" ..." if len(failing) > 5 else ""))
    if warnings:
        notes.append("warnings: " + ", ".join(sorted({f"{f.rule} ({f.migration})" for f in warnings})))
    if waived:
        notes.append("waived: " + ", ".join(f"{f.rule} in {f.migration} ({f.reason})" for f in waived))
    if report.unused_waivers:
        notes.append("waivers matching nothing: " + ", ".join(f"{w['rule']} in {w['migration']}"
                                                              for w in report.unused_waivers))
    return CheckResult.judge(name, not failing, observed, expected, detail="; ".join(notes),
                             elapsed_s=report.elapsed_s, evidence=report.evidence())


def check_lock_time(dsn: str, settings: MigrationSettings, lint: MigrationLint, seconds: float) -> CheckResult:
    """No pending migration can wait for a lock, or hold one during a scan or rewrite, longer than ``seconds``.

    The wait is bounded by lock_timeout. A statement that scans or rewrites a table under its lock (squawk's
    findings in ``LONG_LOCK_RULES``, unless waived) holds it up to statement_timeout. A ``timeout-override``
    lifts either bound.
    """
    name = f"the pending migrations take no lock longer than {seconds:g} seconds"
    expected = f"lock waits and lock holds bounded by {seconds:g}s"
    try:
        report = lint_pending(dsn, settings, lint)
    except (LintError, dbconn.DatabaseError, subprocess.TimeoutExpired, OSError) as exc:
        return CheckResult.unknown(name, secrets.redact(str(exc) or type(exc).__name__), expected)
    limit_ms = seconds * 1000
    problems: list[str] = []
    lock_ms, statement_ms = report.session["lock_timeout"], report.session["statement_timeout"]
    if report.migrations and lock_ms > limit_ms:
        problems.append(f"a migration may wait {lock_ms / 1000:g}s for a lock (lock_timeout) while queries on the"
                        f" table queue behind it: set database.migrations.lock_timeout_s to at most {seconds:g}")
    overrides = [f for f in report.findings if f.rule == TIMEOUT_OVERRIDE and f.verdict != "waived"]
    problems += [f.describe() for f in overrides]
    holding = [f for f in report.findings if f.rule in LONG_LOCK_RULES and f.verdict != "waived"]
    if holding and statement_ms > limit_ms:
        problems += [f"{f.migration} line {f.line}: {_shorten(f.statement, 100)} holds {LONG_LOCK_RULES[f.rule]},"
                     f" bounded only by statement_timeout {statement_ms / 1000:g}s ({f.rule})" for f in holding]
    locks = [{"migration": f.migration, "line": f.line, "statement": f.statement, "rule": f.rule,
              "holds": LONG_LOCK_RULES[f.rule], "waived": f.verdict == "waived"}
             for f in report.findings if f.rule in LONG_LOCK_RULES]
    evidence = {**report.evidence(), "long_locks": locks, "limit_s": seconds}
    observed = (f"lock_timeout {lock_ms / 1000:g}s, statement_timeout {statement_ms / 1000:g}s,"
                f" {len(holding)} statements holding a lock during a scan or rewrite")
    if not report.migrations:
        observed = f"no pending migration (the database is at {report.revision or 'none'})"
    return CheckResult.judge(name, not problems, observed, expected, detail="; ".join(problems[:6]),
                             elapsed_s=report.elapsed_s, evidence=evidence)


def _milliseconds(value: str) -> float | None:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", value.lower())
    if match is None or match.group(2) not in _UNITS_MS:
        return None
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _runbook_field(setting: str) -> str:
    return "lock_timeout_s" if setting == "lock_timeout" else "timeout_s"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return next((line.strip().removeprefix("error: ") for line in text.splitlines() if line.strip()), "")
