"""The journal's lifecycle without pytest: created only when the run starts, durable appends, a cut-off
line tolerated and reported, and which run ``--rollback-only`` resumes (``Journal.newest_unfinished``)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks.run.journal import LATEST, DeferredJournal, Journal


def test_a_deferred_journal_writes_nothing_until_the_run_starts(tmp_path: Path) -> None:
    journal = DeferredJournal.reserve(tmp_path / "journal", "run-1")
    journal.append("run_started", environment="local")
    journal.stage_completed("deploy", "swap", {"to": "blue"})
    assert not journal.path.exists() and not journal.started
    assert [e["event"] for e in journal.events()] == ["run_started", "stage_completed"]  # readable meanwhile
    assert list((tmp_path / "journal").iterdir()) == []
    journal.start(make_latest=True)
    journal.append("run_finished", decision="PROMOTED")
    assert journal.started
    assert [e["event"] for e in Journal.open(tmp_path / "journal", "run-1").events()] == [
        "run_started", "stage_completed", "run_finished"]
    assert Journal.latest(tmp_path / "journal") is not None
    assert (tmp_path / "journal" / LATEST).read_text() == "run-1\n"


def test_latest_moves_when_a_run_first_journals_a_change(tmp_path: Path) -> None:
    Journal.create(tmp_path, "old")
    journal = DeferredJournal.reserve(tmp_path, "new")
    journal.append("run_started")
    journal.start(make_latest=False)
    journal.append("scenario_started", nodeid="f::preflight")
    assert (tmp_path / LATEST).read_text() == "old\n"  # started, but nothing changed yet
    Journal.open(tmp_path, "new").stage_completed("deploy", "swap", {"to": "blue"})  # from a worker
    assert (tmp_path / LATEST).read_text() == "new\n"
    journal.make_latest()  # at the sign-off: already there, nothing rewritten
    assert (tmp_path / LATEST).read_text() == "new\n"


def test_a_dry_run_journal_starts_without_moving_latest(tmp_path: Path) -> None:
    Journal.create(tmp_path, "real")
    dry = DeferredJournal.reserve(tmp_path, "dry")
    dry.start(make_latest=False)
    assert dry.path.is_file() and (tmp_path / LATEST).read_text() == "real\n"


def test_appends_from_other_threads_while_the_run_starts_are_all_kept(tmp_path: Path) -> None:
    journal = DeferredJournal.reserve(tmp_path, "run")
    threads = [threading.Thread(target=lambda n=n: [journal.append("notification", n=n, i=i) for i in range(50)])
               for n in range(4)]
    for thread in threads:
        thread.start()
    journal.start()
    for thread in threads:
        thread.join()
    lines = journal.path.read_bytes().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["event"] == "notification" for line in lines)


def test_every_append_and_the_creation_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    journal = Journal.create(tmp_path, "run")
    assert str(tmp_path) in synced  # the folder: the new file's name survives a power loss
    synced.clear()
    journal.append("stage_completed", stage="deploy")
    assert synced == [str(journal.path)]


def test_a_cut_off_last_line_is_ignored_reported_and_the_next_event_starts_a_new_line(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "run")
    journal.stage_completed("migrate", "db.downgrade", {"to": "0002"})
    complete = journal.path.stat().st_size
    with open(journal.path, "ab") as handle:
        handle.write(b'{"ts": 2.0, "run": "run", "event": "stage_comp')
    assert [s.action for s in journal.plan()] == ["db.downgrade"]
    assert journal.damage() == [complete]
    assert journal.describe_damage() == (
        f"warning: journal {journal.path}: incomplete line at byte {complete} (cut off, for example by a power"
        " loss); ignored: the rollback runs from the complete lines")
    journal.append("rollback_started", trigger="test")
    assert [e["event"] for e in journal.events()] == ["stage_completed", "rollback_started"]
    assert journal.damage() == [complete]  # still named, now as a line that is not an event
    assert Journal.create(tmp_path, "clean").describe_damage() == ""


def write(directory: Path, run_id: str, *events: dict[str, Any], ts: float) -> Journal:
    journal = Journal.create(directory, run_id)
    with open(journal.path, "a", encoding="utf-8") as handle:
        for n, event in enumerate(events):
            handle.write(json.dumps({"ts": ts + n, "run": run_id, "id": f"{run_id}-{n}", **event}) + "\n")
    return journal


STARTED = {"event": "run_started", "environment": "prod", "dry_run": False}
CHANGED = {"event": "stage_completed", "stage": "deploy", "undo": {"action": "swap", "params": {"to": "blue"}}}


@pytest.mark.parametrize(("later", "found"), [
    ([STARTED], "died"),  # a run stopped before it changed anything
    ([{**STARTED, "dry_run": True}, CHANGED], "died"),  # a dry run (its plan is never real)
    ([STARTED, {"event": "run_finished", "decision": "BLOCKED"}], "died"),
    ([{**STARTED, "environment": "staging"}, CHANGED], "died"),  # another environment's run
    ([STARTED, CHANGED, {"event": "rollback_finished", "outcome": "PASS"}], "died"),  # rolled back already
    ([STARTED, CHANGED], "later"),  # a newer unfinished run
    ([STARTED, CHANGED, {"event": "rollback_finished", "outcome": "FAIL"}], "later"),  # its rollback failed
    ([STARTED, CHANGED, {"event": "run_finished", "decision": "HALTED"}], "later"),  # changes left for a person
    ([STARTED, CHANGED, {"event": "run_finished", "decision": "PROMOTED"}], None),  # supersedes older ones
], ids=["not started changing", "dry run", "blocked", "other environment", "rolled back", "unfinished",
        "rollback failed", "halted", "promoted"])
def test_newest_unfinished(tmp_path: Path, later: list[dict[str, Any]], found: str | None) -> None:
    write(tmp_path, "died", STARTED, CHANGED, ts=1000.0)
    write(tmp_path, "later", *later, ts=2000.0)
    unfinished = Journal.newest_unfinished(tmp_path, environment="prod")
    assert (unfinished.journal.run_id if unfinished.journal else None) == found
    if found is None:
        assert unfinished.why_none(tmp_path) == ("the newest finished release, run later, was PROMOTED: it"
                                                 " supersedes any older unfinished run")


def test_nothing_unfinished_says_why(tmp_path: Path) -> None:
    assert Journal.newest_unfinished(tmp_path).why_none(tmp_path) == (
        f"no run in {tmp_path} journaled a change that is not rolled back")
    write(tmp_path, "done", STARTED, CHANGED, {"event": "rollback_finished", "outcome": "PASS"}, ts=1.0)
    assert Journal.newest_unfinished(tmp_path).why_none(tmp_path).startswith("run done was rolled back already")


def test_the_order_is_the_runs_first_event_not_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "b-older", STARTED, CHANGED, ts=1.0)
    write(tmp_path, "a-newer", STARTED, CHANGED, ts=5.0)
    found = Journal.newest_unfinished(tmp_path).journal
    assert found is not None and found.run_id == "a-newer"
