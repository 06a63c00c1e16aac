"""The write-ahead journal: a change is in the rollback plan from its intent on, unless it says nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasegate.checks.run import decision
from releasegate.checks.run.changes import Change
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.rollback_plan import pending_plan
from releasegate.plugins.journal import StageRecorder


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path / "journal")


def test_plan_holds_done_failed_but_made_and_unfinished_changes_newest_intent_first(journal: Journal) -> None:
    journal.stage_completed("backup", "db.restore", {"dump": "a.dump"})
    migrated = journal.intend("migrate", "db.downgrade", {"to": "0002"}, scenario="migrate")
    journal.change_done(migrated)
    not_run = journal.intend("migrate", "db.downgrade", {"to": "0001"})
    journal.change_failed(not_run, made=False)
    half = journal.intend("deploy", "swap", {"service": "api"})
    journal.change_updated(half, {"service": "api", "colour": "green"})
    journal.change_failed(half, made=True)
    died = journal.intend("deploy", "swap", {"service": "web"})
    journal.change_updated(died, {"service": "web", "colour": "blue"})
    journal.change_updated(died, {"service": "web", "colour": "blue", "weights": {"b": 100}})

    plan = journal.plan()
    assert [(s.key, s.status, s.params) for s in plan] == [
        (died, "intended", {"service": "web", "colour": "blue", "weights": {"b": 100}}),
        (half, "failed", {"service": "api", "colour": "green"}),
        (migrated, "done", {"to": "0002"}),
        (plan[3].key, "done", {"dump": "a.dump"}),
    ]
    assert plan[2].scenario == "migrate" and plan[3].action == "db.restore"
    assert "intended, no outcome journaled" in plan[0].describe() and plan[2].describe().endswith('{"to": "0002"}')
    assert pending_plan(journal).steps == plan  # what --rollback-only and --dry-run --rollback-only see


def test_a_change_that_changed_nothing_leaves_an_empty_plan_and_a_critical_failure_blocked(journal: Journal) -> None:
    key = journal.intend("migrate", "database.rollback", {"policy": "downgrade"})
    assert journal.plan() != []  # from the intent on: a process that dies here still rolls back
    journal.change_failed(key, {"policy": "downgrade"}, made=False)
    assert journal.plan() == []
    failed = decision.FailedCheck("f::migrations", "migrations", "migrate", critical=True, post_rollback=False,
                                  outcome="FAIL", message="not run")
    answer = decision.decide_rollback(failed, decision.RollbackPolicy(), has_changes=bool(journal.plan()))
    assert answer.action == decision.NONE and "nothing to roll back" in answer.reason


def test_the_same_undo_recorded_twice_is_planned_once_and_an_outcome_without_intent_is_ignored(
        journal: Journal) -> None:
    first = journal.intend("deploy", "swap", {"to": "blue"})
    journal.change_done(first)
    journal.stage_completed("deploy", "swap", {"to": "blue"})  # another worker, the same undo
    journal.change_failed("unknown-key", {"to": "green"}, made=True)
    assert [(s.action, s.params) for s in journal.plan()] == [("swap", {"to": "blue"})]


def test_change_writes_intent_progress_and_outcome_and_an_exception_marks_it_failed_and_made(
        journal: Journal) -> None:
    with Change(journal, "deploy", "swap", {"colour": None}, scenario="deploy it") as change:
        change.update({"colour": "green"})
    with pytest.raises(RuntimeError, match="router gone"), \
            Change(journal, "deploy", "swap", {"colour": "blue"}) as broken:
        raise RuntimeError("router gone")
    with pytest.raises(OSError), Change(journal, "migrate", "db.downgrade", {}) as refused:
        refused.made = False  # the code knows nothing was changed yet
        raise OSError("no connection")

    events = [(e["event"], e.get("key"), e.get("made")) for e in journal.events() if e["event"].startswith("change_")]
    assert events == [
        ("change_intended", None, None), ("change_updated", change.key, None), ("change_done", change.key, None),
        ("change_intended", None, None), ("change_failed", broken.key, True),
        ("change_intended", None, None), ("change_failed", refused.key, False),
    ]
    done = journal.last("change_done")
    assert done is not None and done["params"] == {"colour": "green"}
    assert [(s.key, s.status) for s in journal.plan()] == [(broken.key, "failed"), (change.key, "done")]
    with pytest.raises(RuntimeError, match="already done"):
        change.fail()


def test_stage_recorder_change_names_stage_and_scenario_and_works_without_a_journal(journal: Journal) -> None:
    recorder = StageRecorder(journal, None)
    with recorder.change("swap", {"colour": "green"}, stage="deploy") as change:
        change.fail({"colour": "green", "steps": ["started"]}, made=True)
    intent = journal.first("change_intended")
    assert intent is not None and (intent["stage"], intent["undo"]) == ("deploy", {"action": "swap",
                                                                                  "params": {"colour": "green"}})
    assert journal.plan()[0].params == {"colour": "green", "steps": ["started"]}

    offline = StageRecorder(None, None)
    with offline.change("swap", {"colour": "blue"}) as change:
        change.update({"colour": "blue", "weights": [100]})
    assert [e["event"] for e in offline.recorded] == ["change_intended", "change_updated", "change_done"]
    assert offline.recorded[0]["stage"] == "unstaged" and change.key is None


def test_the_journal_lines_are_json_a_person_can_read(journal: Journal) -> None:
    key = journal.intend("deploy", "swap", {"colour": "green"}, scenario="s")
    journal.change_failed(key, made=False)
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["change_intended", "change_failed"]
    assert lines[1]["key"] == key and lines[1]["made"] is False and "params" not in lines[1]
