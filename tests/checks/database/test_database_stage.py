"""What the database stage says when what a step needs is missing (no PostgreSQL needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks.database.stage import DatabaseStage
from releasegate.checks.result import CheckResult
from releasegate.checks.run.changes import Change
from releasegate.checks.run.journal import Journal
from releasegate.checks.runbook.model import Database

DSN = "postgresql://app@127.0.0.1:9/none"


class Undos:
    """A run without a journal file: what the stage records (the plugins' recorder does the same and more)."""

    journal: Journal | None = None

    def __init__(self) -> None:
        self.recorded: list[dict[str, Any]] = []

    def change(self, action: str, params: dict[str, Any], *, stage: str | None = None) -> Change:
        return Change(None, stage or "", action, params, sink=self.recorded)


def stage(tmp_path: Path, database: Database | None = None) -> DatabaseStage:
    return DatabaseStage("local", database, tmp_path, tmp_path / "journal" / "database-state.json", Undos())


@pytest.mark.parametrize("step", [
    DatabaseStage.take_backup, DatabaseStage.remove_old_backups, DatabaseStage.record_fingerprint,
    DatabaseStage.check_nothing_lost, DatabaseStage.record_schema_version, DatabaseStage.migrate,
    DatabaseStage.check_no_pending, DatabaseStage.check_reversible, DatabaseStage.check_app_role,
    DatabaseStage.check_readonly_role, lambda s: s.check_version("0003"), lambda s: s.check_pool(10),
])
def test_a_runbook_without_a_database_section_is_inconclusive(
        tmp_path: Path, step: Callable[[DatabaseStage], CheckResult]) -> None:
    result = step(stage(tmp_path))
    assert result.inconclusive and result.name == "database"
    assert "runbook 'local' has no database section; add database.dsn" in result.detail


def test_what_was_not_recorded_in_this_run_is_inconclusive(tmp_path: Path) -> None:
    database = Database(dsn=DSN)
    verified = stage(tmp_path).verify_backup()
    assert verified.inconclusive and "no backup was taken in this run" in verified.detail
    timed = stage(tmp_path).check_migration_time(60)
    assert timed.inconclusive and "no migration run is recorded" in timed.detail
    lost = stage(tmp_path, database).check_nothing_lost()
    assert lost.inconclusive and "no fingerprint was recorded before the release" in lost.detail
    previous = stage(tmp_path, database).check_version_before_release()
    assert previous.inconclusive and "no revision was recorded in this run" in previous.detail
    reader = stage(tmp_path, database).check_readonly_role()
    assert reader.inconclusive and "set database.readonly_role" in reader.detail


def test_an_unreadable_state_file_is_inconclusive_and_names_it(tmp_path: Path) -> None:
    broken = stage(tmp_path)
    broken.state_file.parent.mkdir(parents=True)
    broken.state_file.write_text("{not json")
    result = broken.verify_backup()
    assert result.inconclusive and result.name == "database state"
    assert str(broken.state_file) in result.detail and "delete it to start afresh" in result.detail


def test_a_pool_size_variable_must_be_an_integer(tmp_path: Path) -> None:
    result = stage(tmp_path, Database(dsn=DSN)).check_pool_in_variable("DB_POOL_MAX_SIZE", "ten")
    assert result.failed and result.detail == "set DB_POOL_MAX_SIZE to the pool's maximum size"


def test_a_migration_that_cannot_read_the_version_is_a_failure_and_records_no_undo(tmp_path: Path) -> None:
    recorder = Undos()
    unreachable = DatabaseStage("local", Database(dsn=DSN), tmp_path, tmp_path / "state.json", recorder)
    result = unreachable.migrate()
    assert result.failed and result.name == "migrations applied to head" and "unreachable" in result.detail
    assert recorder.recorded == []
