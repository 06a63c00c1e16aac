"""Rolling the database stage back, by the runbook's policy, from recorded state.

Policies (``database.rollback_policy``):

- ``app-only``: the migration is backward compatible; touch nothing, verify the schema is still
  at the revision recorded before the release or later (what the previous release can run on);
- ``downgrade``: alembic downgrade (or the ``rollback_<version>.sql`` files) to the revision
  recorded before the release;
- ``restore``: restore the verified backup, after counting (and saving to CSV) the rows written
  since the backup, which the restore loses; ``refuse_data_loss`` stops before restoring instead;
- ``freeze``: do nothing; the result is INCONCLUSIVE: a person is needed, and it says why.

After a downgrade or a restore the schema version is verified again, and the data fingerprint
recorded before the release is compared with the database: rows that were there and are gone
fail the rollback, by table.

Every function takes the recorded state (``DatabaseState``, JSON-serializable) so that the
rollback plan can call ``rollback_action`` long after the scenario that recorded it, from the
journal: its params are a ``RollbackRequest.to_dict()`` (no secrets: the DSN is read again from
the runbook when the action runs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from psycopg import sql

from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import fingerprint, migrations
from releasegate.checks.database.backup import restore_backup
from releasegate.checks.database.fingerprint import Fingerprint
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.database.state import DatabaseState, load_state, update_state
from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.run.rollback_plan import register_action

Policy = Literal["app-only", "downgrade", "restore", "freeze"]
POLICIES: tuple[str, ...] = ("app-only", "downgrade", "restore", "freeze")
ACTION = "database.rollback"


@dataclass
class RollbackRequest:
    """What the migrate stage records in the journal so that the rollback plan can undo it later."""

    policy: str
    settings: MigrationSettings = field(default_factory=MigrationSettings)
    state_file: str | None = None
    runbook: str | None = None
    state: DatabaseState = field(default_factory=DatabaseState)
    refuse_data_loss: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "settings": self.settings.to_dict(), "state_file": self.state_file,
                "runbook": self.runbook, "state": self.state.to_dict(), "refuse_data_loss": self.refuse_data_loss}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RollbackRequest:
        return cls(policy=str(data.get("policy", "freeze")),
                   settings=MigrationSettings.from_dict(data.get("settings") or {}),
                   state_file=data.get("state_file"), runbook=data.get("runbook"),
                   state=DatabaseState.from_dict(data.get("state") or {}),
                   refuse_data_loss=bool(data.get("refuse_data_loss", False)))


def _version(dsn: str, settings: MigrationSettings) -> str | None:
    return migrations.current_version(dsn, settings.tool, step="rollback: schema version")


def app_only(dsn: str, settings: MigrationSettings, state: DatabaseState) -> CheckResult:
    """Touch nothing; the schema must still be at the recorded revision or a later one."""
    name = "database rollback (app-only): schema still compatible"
    before = state.revision_before
    expected = f"revision {before or 'none'} or later"
    if not state.revision_before_known:
        return CheckResult.unknown(name, "no schema version was recorded before the release; a person must check"
                                   " that the previous release runs on this schema", expected)
    try:
        now = _version(dsn, settings)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    evidence = {"revision_before": before, "revision_now": now, "policy": "app-only"}
    if now == before or before is None:
        return CheckResult.ok(name, f"at {now or 'none'}", expected, evidence=evidence,
                              detail="the database was not touched")
    if now is None:
        return CheckResult.fail(name, "never migrated", expected, evidence=evidence)
    later = before in migrations.ancestors(settings, now) if settings.path else False
    if not later and not settings.path and state.migration is not None and now == state.migration.revision_after:
        later = True  # the revision this run's migration reached from the recorded one
    return CheckResult.judge(name, later, f"at {now}", expected, evidence=evidence,
                             detail="the database was not touched" if later else
                             f"revision {now} is not {before} nor a descendant of it: the previous release may not"
                             " run on it; consider the downgrade or restore policy")


def downgrade_to_recorded(dsn: str, settings: MigrationSettings, state: DatabaseState) -> CheckResult:
    """Downgrade to the revision recorded before the release."""
    if not state.revision_before_known:
        return CheckResult.fail("database rollback (downgrade)", "not downgraded", "the revision before the release",
                                detail="no schema version was recorded before the release: nothing to downgrade to;"
                                " a person must decide")
    result = migrations.downgrade(dsn, settings, state.revision_before, step="rollback: downgrade")
    result.name = f"database rollback (downgrade to {state.revision_before or 'base'})"
    return result


def added_keys(before: Fingerprint, after: Fingerprint) -> dict[str, list[str]]:
    """Keys in ``after`` absent from ``before``, by table, where both kept their keys."""
    return {table: difference.sample for table, difference in fingerprint.rows_added(before, after, sample=None).items()
            if difference.exact}


def save_rows(dsn: str, current: Fingerprint, keys: dict[str, list[str]], folder: Path) -> dict[str, str]:
    """Write the rows with these keys to ``folder/<table>.csv`` (what a restore is about to lose)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    with dbconn.connect(dsn, step="rollback: save rows a restore loses") as conn:
        cursor = conn.cursor()
        for table, wanted in keys.items():
            expression = fingerprint.key_expression(current.tables[table].key)
            path = folder / f"{table}.csv"
            statement = sql.SQL("COPY (SELECT * FROM {} t WHERE {} = ANY(%s)) TO STDOUT (FORMAT csv, HEADER)")
            with path.open("wb") as out, cursor.copy(statement.format(dbconn.qualified(table), expression),
                                                     (wanted,)) as copy:
                for chunk in copy:
                    out.write(bytes(chunk))
            written[table] = str(path)
    return written


def restore_recorded_backup(dsn: str, settings: MigrationSettings, state: DatabaseState, *,
                            refuse_data_loss: bool = False) -> CheckResult:
    """Count the rows the restore loses (by table, saved to CSV), then restore the verified backup."""
    name = "database rollback (restore the verified backup)"
    record = state.backup
    if record is None:
        return CheckResult.fail(name, "no verified backup recorded", "the backup restored",
                                detail="the restore policy needs a verified backup taken in this run; a person must"
                                " decide")
    evidence: dict[str, Any] = {"backup": record.to_dict(), "policy": "restore"}
    backup_fingerprint = record.fingerprint()
    lost: dict[str, int] = {}
    if backup_fingerprint is None:
        evidence["rows_lost_by_restore"] = "unknown: the backup's fingerprint was not kept"
    else:
        try:
            current = fingerprint.take_fingerprint(dsn, step="rollback: fingerprint before restore")
        except dbconn.DatabaseError as exc:
            return CheckResult.fail(name, "not restored", "the backup restored", detail=str(exc), evidence=evidence)
        lost = {t: d.count for t, d in fingerprint.rows_added(backup_fingerprint, current).items()}
        evidence["rows_lost_by_restore"] = lost
        if lost and refuse_data_loss:
            listing = ", ".join(f"{t}: {n}" for t, n in lost.items())
            return CheckResult.fail(name, "not restored: rows written after the backup would be lost",
                                    "the backup restored", evidence=evidence,
                                    detail=f"a restore would lose rows written since the backup ({listing});"
                                    " database.restore_data_loss is refuse: a person must decide")
        keys = added_keys(backup_fingerprint, current)
        if keys:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            try:
                evidence["lost_rows_saved_to"] = save_rows(dsn, current, keys,
                                                           Path(record.path + f".lost-rows-{stamp}"))
            except (dbconn.DatabaseError, OSError) as exc:
                evidence["lost_rows_saved_to"] = f"not saved: {exc}"
    restored = restore_backup(record, dsn, step="rollback: restore")
    restored.evidence.update(evidence)
    restored.name = name
    if lost and restored.passed:
        listing = ", ".join(f"{t}: {n} row(s)" for t, n in lost.items())
        restored.detail = f"rows written after the backup were lost by the restore: {listing}" + (
            f" (saved to {Path(next(iter(evidence['lost_rows_saved_to'].values()))).parent})"
            if isinstance(evidence.get("lost_rows_saved_to"), dict) else "")
    return restored


def freeze(state: DatabaseState, *, reason: str = "", revision_now: str | None = None) -> CheckResult:
    """Do not touch the database; a person decides (INCONCLUSIVE, never a pass)."""
    parts = [f"database.rollback_policy is freeze: the database was not touched{': ' + reason if reason else ''}"]
    if revision_now is not None or state.revision_before_known:
        parts.append(f"it is at revision {revision_now or 'unknown'} (before the release:"
                     f" {state.revision_before or 'none'})")
    if state.backup is not None:
        parts.append(f"verified backup {state.backup.path} (sha256 {state.backup.checksum[:16]}...)")
    else:
        parts.append("no verified backup was taken in this run")
    parts.append("a person must decide between downgrade, restore and leaving it")
    return CheckResult.unknown("database rollback (freeze): a person is needed", "; ".join(parts),
                               "a person's decision", evidence={"policy": "freeze", **state.to_dict()})


def roll_back(policy: str, dsn: str, settings: MigrationSettings, state: DatabaseState, *,
              refuse_data_loss: bool = False) -> CheckResult:
    """Apply the policy; after a downgrade or restore verify the schema version and that no row is missing."""
    if policy not in POLICIES:
        return CheckResult.fail("database rollback", f"policy {policy!r}", " | ".join(POLICIES),
                                detail=f"unknown database.rollback_policy {policy!r}; use one of {', '.join(POLICIES)}")
    if policy == "freeze":
        try:
            now = _version(dsn, settings)
        except dbconn.DatabaseError:
            now = None
        return freeze(state, revision_now=now)
    if policy == "app-only":
        return app_only(dsn, settings, state)
    started = time.monotonic()
    if policy == "downgrade":
        action = downgrade_to_recorded(dsn, settings, state)
        wanted = state.revision_before
    else:
        action = restore_recorded_backup(dsn, settings, state, refuse_data_loss=refuse_data_loss)
        wanted = state.backup.revision if state.backup else None
    if not action.passed:
        return action
    checks = [action, _verify_version(dsn, settings, wanted)]
    before = state.fingerprint_before()
    if before is not None:
        try:
            after = fingerprint.take_fingerprint(dsn, step="rollback: fingerprint after")
            checks.append(fingerprint.check_nothing_lost(
                before, after, name="after the rollback no data written before the release is lost"))
        except dbconn.DatabaseError as exc:
            checks.append(CheckResult.unknown("data fingerprint after the rollback", str(exc), "no row missing"))
    result = combine(f"database rollback ({policy})", checks)
    result.elapsed_s = time.monotonic() - started
    if result.passed and action.detail:
        result.detail = action.detail
    return result


def _verify_version(dsn: str, settings: MigrationSettings, wanted: str | None) -> CheckResult:
    name = f"schema version after the rollback is {wanted or 'none'}"
    try:
        now = _version(dsn, settings)
    except dbconn.DatabaseError as exc:
        return CheckResult.unknown(name, str(exc), wanted or "none")
    return CheckResult.judge(name, now == wanted, now or "none", wanted or "none")


def _dsn_from_runbook(path: str | None) -> str:
    from releasegate.checks.runbook.loader import load_runbook

    if not path:
        raise ConfigError("the recorded database rollback names no runbook to read the DSN from")
    runbook = load_runbook(Path(path))
    if runbook.database is None:
        raise ConfigError(f"{path}: the runbook has no database section")
    return runbook.database.admin_dsn or runbook.database.dsn


def rollback_action(params: dict[str, Any]) -> CheckResult:
    """Roll the database back by the recorded policy (app-only, downgrade, restore or freeze)."""
    request = RollbackRequest.from_dict(params)
    state = request.state
    state_file = Path(request.state_file) if request.state_file else None
    if state_file is not None and state_file.is_file():
        try:
            state = load_state(state_file)
        except ValueError as exc:
            return CheckResult.fail(f"database rollback ({request.policy})", "state unreadable", "the recorded state",
                                    detail=str(exc))
    try:
        dsn = _dsn_from_runbook(request.runbook)
    except ConfigError as exc:
        if request.policy == "freeze":
            return freeze(state)
        return CheckResult.fail(f"database rollback ({request.policy})", "no DSN", "the runbook's database.dsn",
                                detail=str(exc))
    result = roll_back(request.policy, dsn, request.settings, state, refuse_data_loss=request.refuse_data_loss)
    if state_file is not None:
        entry = {"policy": request.policy, "outcome": result.outcome.value, "summary": result.summary(),
                 "at": time.time()}
        update_state(state_file, lambda s: s.rollbacks.append(entry))
    return result


register_action(ACTION, rollback_action)
