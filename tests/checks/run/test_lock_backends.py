"""The release lock's backends: a lock directory (stale when its process is gone), a real PostgreSQL advisory lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.database import Db

from releasegate.checks.run.lock import (
    FREE,
    HELD,
    STALE,
    DirectoryLock,
    Holder,
    LockError,
    PostgresLock,
    advisory_key,
    ci_job_url,
    holder_comment,
    holder_for,
    holder_from_query,
    lock_for,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def holder(release: str = "1.2.0", **changes: object) -> Holder:
    base = holder_for("prod", release=release, approver="alice", run_id="run-1", now=1767225600.0)
    return Holder(**{**base.as_dict(), **changes})  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def hold_in_child(code: str) -> Iterator[subprocess.Popen[str]]:
    """A child process that takes a lock, prints "held" and sleeps until killed."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "held", line
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)


# ---- the holder --------------------------------------------------------------------------------


def test_holder_names_release_operator_ci_job_host_pid_and_since(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_JOB_URL", "https://gitlab.example.com/team/app/-/jobs/77")
    found = holder_for("prod", release="1.2.0", approver=None, now=1767225600.0)
    assert found.ci_job_url == "https://gitlab.example.com/team/app/-/jobs/77"
    assert found.operator == os.environ.get("USER") or found.operator
    assert found.pid == os.getpid()
    assert found.since == "2026-01-01T00:00:00+00:00"
    text = found.describe()
    assert "release 1.2.0" in text and f"pid {os.getpid()}" in text and "CI job https://gitlab" in text


def test_ci_job_url_of_github_actions() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "9",
           "GITHUB_RUN_ATTEMPT": "2"}
    assert ci_job_url(env) == "https://github.com/o/r/actions/runs/9/attempts/2"
    assert ci_job_url({}) is None


def test_the_holder_comment_cannot_end_the_sql_comment() -> None:
    tricky = holder(operator="x */ SELECT pg_sleep(100); /* %s", ci_job_url="https://ci/a/*b*/")
    comment = holder_comment(tricky)
    assert comment.count("*") == 2 and comment.startswith("/* ") and comment.endswith(" */")
    assert holder_from_query(f"SELECT 1 {comment}") == tricky


# ---- the directory backend ----------------------------------------------------------------------


def test_directory_lock_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = DirectoryLock("prod", tmp_path), DirectoryLock("prod", tmp_path)
    assert first.status().state == FREE
    assert first.acquire(holder("1.2.0")).acquired
    blocked = second.acquire(holder("1.3.0"))
    assert not blocked.acquired
    assert blocked.blocked_by is not None and blocked.blocked_by.holder == holder("1.2.0")
    assert "environment prod is locked by release 1.2.0, operator alice" in blocked.blocked_by.describe()
    assert json.loads((tmp_path / "prod.lock" / "holder.json").read_text())["release"] == "1.2.0"
    assert DirectoryLock("staging", tmp_path).acquire(holder()).acquired  # another environment: its own lock
    assert first.release()
    assert second.acquire(holder("1.3.0")).acquired


def test_directory_lock_waits_up_to_the_timeout_and_reports_the_holder_once(tmp_path: Path) -> None:
    DirectoryLock("prod", tmp_path).acquire(holder("1.2.0"))
    clock, seen = FakeClock(), []
    result = DirectoryLock("prod", tmp_path).acquire(holder("1.3.0"), 5, on_wait=lambda s, left: seen.append(left),
                                                     clock=clock, sleep=clock.sleep)
    assert not result.acquired
    assert result.waited_s == 5
    assert seen == [5]


def test_a_dead_holders_directory_lock_is_stale_and_taken_over(tmp_path: Path) -> None:
    code = f"""
        from pathlib import Path
        import time
        from releasegate.checks.run.lock import DirectoryLock, holder_for
        assert DirectoryLock("prod", Path({str(tmp_path)!r})).acquire(holder_for("prod", release="1.2.0")).acquired
        print("held", flush=True)
        time.sleep(600)
    """
    for child in hold_in_child(code):
        status = DirectoryLock("prod", tmp_path).status()
        assert status.state == HELD and status.holder is not None and status.holder.pid == child.pid
        assert not DirectoryLock("prod", tmp_path).acquire(holder("1.3.0")).acquired
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        stale = DirectoryLock("prod", tmp_path).status()
        assert stale.state == STALE
        assert f"process {child.pid} no longer runs" in stale.describe()
        taken = DirectoryLock("prod", tmp_path).acquire(holder("1.3.0"))
        assert taken.acquired
        assert taken.took_over is not None and taken.took_over.holder is not None
        assert taken.took_over.holder.pid == child.pid


def test_a_reused_pid_is_stale_too(tmp_path: Path) -> None:
    lock = DirectoryLock("prod", tmp_path)
    assert lock.acquire(holder(pid_started=1.0)).acquired  # this process, but "started" long ago: another one
    assert "pid reused" in DirectoryLock("prod", tmp_path).status().detail


def test_a_holder_on_another_host_is_never_called_stale(tmp_path: Path) -> None:
    DirectoryLock("prod", tmp_path).acquire(holder(host="elsewhere.example", pid=999999))
    assert DirectoryLock("prod", tmp_path).status().state == HELD


def test_break_frees_the_lock_and_is_handed_to_the_next_holder_once(tmp_path: Path) -> None:
    DirectoryLock("prod", tmp_path).acquire(holder("1.2.0"))
    before = DirectoryLock("prod", tmp_path).break_("run 1234 was killed", "bob")
    assert before.state == HELD
    nxt = DirectoryLock("prod", tmp_path)
    assert nxt.acquire(holder("1.3.0")).acquired
    breaks = nxt.pending_breaks()
    assert [(b["by"], b["reason"], b["holder"]["release"]) for b in breaks] == [("bob", "run 1234 was killed",
                                                                                 "1.2.0")]
    assert nxt.pending_breaks() == []


def test_releasing_a_lock_someone_broke_and_retook_leaves_theirs(tmp_path: Path) -> None:
    mine = DirectoryLock("prod", tmp_path)
    mine.acquire(holder("1.2.0"))
    mine.break_("stuck", "bob")
    theirs = DirectoryLock("prod", tmp_path)
    assert theirs.acquire(holder("1.3.0")).acquired
    assert not mine.release()
    assert DirectoryLock("prod", tmp_path).status().holder == holder("1.3.0")


def test_odd_environment_names_make_safe_distinct_folders(tmp_path: Path) -> None:
    a, b = DirectoryLock("eu/prod", tmp_path), DirectoryLock("eu_prod", tmp_path)
    assert a.acquire(holder()).acquired and b.acquire(holder()).acquired
    assert a.path.parent == tmp_path and a.path != b.path


def test_backend_resolution(tmp_path: Path) -> None:
    assert isinstance(lock_for("prod", None, tmp_path), DirectoryLock)
    assert isinstance(lock_for("prod", "postgresql://u@127.0.0.1:1/db", tmp_path), PostgresLock)


# ---- the PostgreSQL backend (a real cluster) ---------------------------------------------------


def test_postgres_lock_one_holder_at_a_time_and_the_holder_from_pg_stat_activity(db: Db, tmp_path: Path) -> None:
    first, second = PostgresLock("prod", db.dsn, tmp_path), PostgresLock("prod", db.dsn, tmp_path)
    assert first.status().state == FREE
    assert first.acquire(holder("1.2.0")).acquired
    blocked = second.acquire(holder("1.3.0"))
    assert not blocked.acquired
    assert blocked.blocked_by is not None and blocked.blocked_by.holder == holder("1.2.0")
    assert f"advisory lock (1380404299, {advisory_key('prod')})" in blocked.blocked_by.describe()
    granted = db.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     f" AND objid = {advisory_key('prod')}")
    assert granted.strip() == "1"
    assert PostgresLock("staging", db.dsn, tmp_path).acquire(holder()).acquired
    assert first.release()
    assert second.acquire(holder("1.3.0")).acquired
    second.release()


def test_a_killed_holders_postgres_lock_is_free(db: Db, tmp_path: Path) -> None:
    code = f"""
        from pathlib import Path
        import time
        from releasegate.checks.run.lock import PostgresLock, holder_for
        lock = PostgresLock("prod", {db.dsn!r}, Path({str(tmp_path)!r}))
        assert lock.acquire(holder_for("prod", release="1.2.0")).acquired
        print("held", flush=True)
        time.sleep(600)
    """
    for child in hold_in_child(code):
        status = PostgresLock("prod", db.dsn, tmp_path).status()
        assert status.state == HELD and status.holder is not None and status.holder.pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10
        while PostgresLock("prod", db.dsn, tmp_path).status().state != FREE:  # the backend notices the EOF
            assert time.monotonic() < deadline, "PostgreSQL kept a dead session's lock"
            time.sleep(0.1)
        lock = PostgresLock("prod", db.dsn, tmp_path)
        assert lock.acquire(holder("1.3.0")).acquired
        lock.release()


def test_postgres_break_ends_the_holders_session(db: Db, tmp_path: Path) -> None:
    holding = PostgresLock("prod", db.dsn, tmp_path)
    assert holding.acquire(holder("1.2.0")).acquired
    before = PostgresLock("prod", db.dsn, tmp_path).break_("pipeline 55 hung", "bob")
    assert before.state == HELD and before.holder == holder("1.2.0")
    assert PostgresLock("prod", db.dsn, tmp_path).status().state == FREE
    assert not holding.release()  # its session was ended
    assert PostgresLock("prod", db.dsn, tmp_path).pending_breaks()[0]["reason"] == "pipeline 55 hung"


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    lock = PostgresLock("prod", "postgresql://app:s3cret-Pw@127.0.0.1:9/app", tmp_path)
    with pytest.raises(LockError) as caught:
        lock.acquire(holder())
    assert "s3cret-Pw" not in str(caught.value) and "\n" not in str(caught.value)
    assert "release lock" in str(caught.value)


def test_a_runbook_with_a_database_gets_postgres_unless_it_starts_its_own_stack(tmp_path: Path) -> None:
    from releasegate.checks.run.lock import lock_for_runbook
    from releasegate.checks.runbook.model import Runbook

    base = {"name": "prod", "database": {"dsn": "postgresql://app@127.0.0.1:1/app"}}
    assert isinstance(lock_for_runbook("prod", Runbook.model_validate(base), tmp_path), PostgresLock)
    local = Runbook.model_validate({**base, "stack": {"kind": "local"}})
    assert isinstance(lock_for_runbook("local", local, tmp_path), DirectoryLock)
    assert isinstance(lock_for_runbook("x", Runbook.model_validate({"name": "x"}), tmp_path), DirectoryLock)
