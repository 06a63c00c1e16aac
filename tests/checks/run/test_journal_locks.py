"""The journal's locks (filelock): writers in several processes never interleave; one process at a time is exclusive."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from releasegate.checks.run import Journal

WRITERS, EVENTS = 4, 200


def _write(path: str, writer: int) -> None:
    journal = Journal(Path(path))
    for index in range(EVENTS):
        journal.append("check_failed", writer=writer, index=index, padding="x" * 2000)


def _hold(path: str, seconds: float) -> None:
    with Journal(Path(path)).exclusive():
        Journal(Path(path)).append("rollback_started")
        time.sleep(seconds)
        Journal(Path(path)).append("rollback_finished")


def test_writers_in_several_processes_never_interleave(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write, args=(str(journal.path), n)) for n in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    lines = journal.path.read_bytes().split(b"\n")[:-1]
    assert len(lines) == len(journal.events()) == WRITERS * EVENTS
    for writer in range(WRITERS):
        assert [e["index"] for e in journal.events() if e["writer"] == writer] == list(range(EVENTS))


def test_exclusive_lets_one_process_in_at_a_time(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    context = multiprocessing.get_context("spawn")
    holder = context.Process(target=_hold, args=(str(journal.path), 1.0))
    holder.start()
    deadline = time.monotonic() + 30
    while journal.first("rollback_started") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with journal.exclusive():
        assert journal.last("rollback_finished") is not None  # the other process finished before this one got in
    holder.join(30)
    assert holder.exitcode == 0
