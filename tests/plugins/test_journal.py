"""The run journal and the rollback plan, without pytest in between."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks import secrets
from releasegate.checks.result import CheckResult
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.rollback_plan import execute_plan, register_action, resolve_action, unregister_action


def _append_many(path: str, writer: int, count: int) -> None:
    journal = Journal(Path(path))
    for n in range(count):
        journal.append("stage_completed", stage="deploy", scenario=f"w{writer}", n=n, padding="x" * 3000,
                       undo={"action": "noop", "params": {"writer": writer, "n": n}})


def _count_call(params: dict[str, Any]) -> CheckResult:
    with open(params["log"], "a") as log:
        log.write(f"{params['n']}\n")
    return CheckResult.ok("counted", observed=params["n"])


def _run_plan(path: str) -> bool:
    register_action("test.count", _count_call)
    return execute_plan(Journal(Path(path)), trigger="test").ran


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_append_many, args=(str(journal.path), w, 150)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 600
    assert all(json.loads(line)["event"] == "stage_completed" for line in lines)
    assert len(journal.plan()) == 600


def test_latest_pointer_and_plan_newest_first_without_duplicates(tmp_path: Path) -> None:
    old = Journal.create(tmp_path, "run-1")
    journal = Journal.create(tmp_path, "run-2")
    assert Journal.latest(tmp_path) is not None and Journal.latest(tmp_path).path == journal.path  # type: ignore[union-attr]
    Journal.create(tmp_path, "dry", make_latest=False)
    assert Journal.latest(tmp_path).run_id == "run-2"  # type: ignore[union-attr]
    journal.stage_completed("backup", "db.restore", {"dump": "a.dump"})
    journal.stage_completed("migrate", "db.downgrade", {"to": "0041"})
    journal.stage_completed("deploy", "swap", {"to": "blue"})
    journal.stage_completed("deploy", "swap", {"to": "blue"})  # the same undo recorded by two workers
    journal.append("stage_completed", stage="smoke", undo=None)
    assert [(s.stage, s.action) for s in journal.plan()] == [("deploy", "swap"), ("migrate", "db.downgrade"),
                                                             ("backup", "db.restore")]
    assert old.plan() == []


def test_plan_runs_once_even_when_two_processes_race(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    log = tmp_path / "calls.log"
    for n in range(3):
        journal.stage_completed("deploy", "test.count", {"n": n, "log": str(log)})
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        ran = pool.map(_run_plan, [str(journal.path)] * 2)
    assert sorted(ran) == [False, True]
    assert log.read_text().splitlines() == ["2", "1", "0"]
    assert len(journal.events("rollback_started")) == 1


def test_retry_runs_only_what_failed_and_unknown_actions_fail_clearly(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    log = tmp_path / "calls.log"
    register_action("test.count", _count_call)
    journal.stage_completed("deploy", "test.count", {"n": 1, "log": str(log)})
    journal.stage_completed("deploy", "test.missing", {})
    first = execute_plan(journal, trigger="test")
    assert first.outcome.value == "FAIL"
    assert "no rollback action registered under 'test.missing'" in first.failed_steps[0].result.summary()  # type: ignore[union-attr]
    assert not execute_plan(journal, trigger="again").ran  # finished is finished, unless asked to retry
    register_action("test.missing", lambda params: CheckResult.ok("now registered"))
    try:
        second = execute_plan(journal, trigger="retry", retry_failed=True)
    finally:
        unregister_action("test.missing")
    assert second.ran and second.outcome.value == "PASS"
    assert log.read_text().splitlines() == ["1"]  # the action that had succeeded was not run again
    assert [s.result is None for s in second.steps] == [False, True]


def test_command_action_and_dotted_path_actions(tmp_path: Path) -> None:
    command = resolve_action("command")
    assert command({"run": f"echo hi > {tmp_path}/out"}).passed
    assert (tmp_path / "out").read_text() == "hi\n"
    failed = command({"run": "echo broken >&2; exit 3"})
    assert failed.failed and failed.observed == "exit status 3" and failed.detail == "broken"
    assert command({"run": "sleep 5", "timeout_s": 0.2}).failed
    assert resolve_action("json:dumps") is json.dumps
    with pytest.raises(ValueError, match="already registered"):
        register_action("command", lambda params: CheckResult.ok("other"))


def test_journal_lines_are_redacted(tmp_path: Path) -> None:
    secrets.register("s3cr3t-value-xyz")
    journal = Journal.create(tmp_path)
    journal.append("check_failed", message="password s3cr3t-value-xyz leaked")
    assert "s3cr3t-value-xyz" not in journal.path.read_text()
