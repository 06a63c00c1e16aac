"""One release at a time per environment (real processes, the PostgreSQL lock on a real cluster); release windows."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.database import Db, db, pg  # noqa: F401  (fixtures)
from support.release_project import RUNBOOK, Release

from releasegate.checks.run.journal import Journal

REPO_ROOT = Path(__file__).resolve().parents[2]

HOLD_STEPS = '''
import os
import time
from pathlib import Path

from pytest_bdd import parsers, when

ROOT = Path(__file__).resolve().parent


@when(parsers.parse('the run holds until "{name}" exists'))
def hold(name):
    (ROOT / f"holding-{os.getpid()}").write_text("")
    deadline = time.monotonic() + 120
    while not (ROOT / name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
'''

FEATURE = """
Feature: Release
  @preflight @critical
  Scenario: preflight checks pass
    Then the fake check "preflight" passes

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    When the run holds until "go" exists
    Then the fake check "deploy health" passes

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
"""


@pytest.fixture(params=["directory", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def project(release: Callable[..., Release], request: pytest.FixtureRequest) -> Release:
    """The release project; with the ``backend`` "postgres" its runbook has a database on the real cluster."""
    runbook = RUNBOOK
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "postgres":
        database: Db = request.getfixturevalue("db")
        runbook += f"database:\n  dsn: {database.dsn}\n"
    made = release(FEATURE, runbook=runbook)
    (made.root / "reports").mkdir(exist_ok=True)
    (made.root / "hold_steps.py").write_text(HOLD_STEPS)
    conftest = made.root / "conftest.py"
    conftest.write_text(conftest.read_text() + '\npytest_plugins.append("hold_steps")\n')
    return made


def command(project: Release, name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "features/release.feature", "--env", "local", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--signoff", f"reports/signoff-{name}.md", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "USER": "ops-person"}


@pytest.fixture
def holding(project: Release) -> Iterator[subprocess.Popen[str]]:
    """Run A, started and holding the lock inside its deploy scenario until the file "go" exists."""
    process = subprocess.Popen(command(project, "a"), cwd=project.root, env=env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not (project.root / f"holding-{process.pid}").exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "run A never reached its deploy scenario"
        time.sleep(0.05)
    try:
        yield process
    finally:
        (project.root / "go").touch()
        if process.poll() is None:
            process.wait(60)
        if process.stdout is not None:
            process.stdout.close()


def run(project: Release, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(project, name, *args), cwd=project.root, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def journal_of(project: Release, pid: int) -> Journal:
    found = sorted((project.root / "reports" / "journal").glob(f"*-{pid}-*.jsonl"))
    assert len(found) == 1, found
    return Journal(found[0])


def finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=90)
    return output


def times(journal: Journal, kind: str) -> list[float]:
    return [float(e["ts"]) for e in journal.events(kind)]


def test_two_releases_at_once_exactly_one_proceeds_the_other_is_blocked_naming_the_holder(
        project: Release, holding: subprocess.Popen[str], backend: str) -> None:
    second = run(project, "b")
    (project.root / "go").touch()
    first_output = finish(holding)
    assert holding.returncode == 0, first_output
    assert second.returncode == 1, second.stdout
    blocked = [line for line in second.stdout.splitlines() if line.startswith("releasegate: release blocked")]
    assert len(blocked) == 1, second.stdout
    assert "environment local is locked by release 1.1.0, operator ops-person, host" in blocked[0]
    assert f"pid {holding.pid}" in blocked[0]
    assert "decision: BLOCKED - release blocked" in second.stdout and "nothing was changed" in second.stdout
    a, b = journal_of(project, holding.pid), journal_of(project, second_pid(project, holding.pid))
    assert [e["backend"] for e in a.events("lock_acquired")] == [backend]
    assert a.events("lock_released")[0]["still_held"] is True
    assert b.events("lock_acquired") == [] and b.events("stage_completed") == []
    assert b.events("lock_blocked")[0]["holder"]["pid"] == holding.pid
    # A's changes all happened while it held the lock
    start, end = times(a, "lock_acquired")[0], times(a, "lock_released")[0]
    assert all(start < ts < end for ts in times(a, "stage_completed"))
    assert "| Release lock | held by this run" in (project.root / "reports" / "signoff-a.md").read_text()


def second_pid(project: Release, first: int) -> int:
    pids = {int(p.name.split("-")[1]) for p in (project.root / "reports" / "journal").glob("*.jsonl")}
    others = pids - {first}
    assert len(others) == 1, pids
    return others.pop()


def test_a_second_release_waits_with_lock_timeout_then_proceeds_without_interleaving(
        project: Release, holding: subprocess.Popen[str], backend: str) -> None:
    second = subprocess.Popen(command(project, "b", "--lock-timeout", "120"), cwd=project.root, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not any(Journal(p).events("lock_waited") for p in (project.root / "reports" / "journal").glob(
            f"*-{second.pid}-*.jsonl")):
        assert second.poll() is None, second.communicate()[0]
        assert time.monotonic() < deadline, "run B never waited for the lock"
        time.sleep(0.1)
    (project.root / "go").touch()
    finish(holding)
    assert holding.returncode == 0
    output = finish(second)
    assert second.returncode == 0, output
    assert "releasegate: waiting up to 1" in output and f"pid {holding.pid}" in output
    a, b = journal_of(project, holding.pid), journal_of(project, second.pid)
    assert b.events("lock_waited")[0]["holder"]["pid"] == holding.pid
    released_a = times(a, "lock_released")[0]
    assert times(b, "lock_acquired")[0] >= released_a
    assert times(b, "stage_completed") and all(ts > released_a for ts in times(b, "stage_completed"))
    assert all(ts < released_a for ts in times(a, "stage_completed"))
    assert b.events("lock_acquired")[0]["waited_s"] > 0


def test_a_sigkilled_holders_lock_is_free_or_reported_stale_and_the_next_run_proceeds(
        project: Release, holding: subprocess.Popen[str], backend: str) -> None:
    holding.send_signal(signal.SIGKILL)
    holding.wait(30)
    (project.root / "go").touch()  # the next run's deploy scenario holds on nothing
    time.sleep(0.5 if backend == "postgres" else 0)  # the server notices the closed socket
    nxt = run(project, "b")
    assert nxt.returncode == 0, nxt.stdout
    b = journal_of(project, second_pid(project, holding.pid))
    acquired = b.events("lock_acquired")[0]
    if backend == "directory":
        assert acquired["took_over_stale"]["pid"] == holding.pid
        assert "releasegate: took over a stale release lock: environment local is STALE lock" in nxt.stdout
        assert f"process {holding.pid} no longer runs" in nxt.stdout
    else:
        assert acquired["took_over_stale"] is None  # PostgreSQL freed it with the session


def test_dry_run_takes_no_lock_and_says_who_holds_one(project: Release, holding: subprocess.Popen[str],
                                                       backend: str) -> None:
    dry = run(project, "b", "--dry-run")
    assert dry.returncode == 0, dry.stdout
    assert "releasegate: dry run: no lock taken; environment local is locked by release 1.1.0" in dry.stdout
    assert f"pid {holding.pid}" in dry.stdout
    b = journal_of(project, second_pid(project, holding.pid))
    assert b.events("lock_acquired") == [] and b.events("lock_status")[0]["state"] == "held"


def test_rollback_only_takes_the_same_lock_and_never_races_a_live_release(
        project: Release, holding: subprocess.Popen[str], backend: str) -> None:
    resume = run(project, "b", "--rollback-only")
    assert "releasegate: release blocked: environment local is locked" in resume.stdout, resume.stdout
    assert resume.returncode == 10, resume.stdout  # the live run's change is in place: a person decides
    assert project.rollbacks() == []
    a = journal_of(project, holding.pid)  # --rollback-only resumes the latest journal: the live run's
    assert a.events("rollback_action_started") == []
    assert any("release blocked" in e["reason"] for e in a.events("rollback_decision"))
    (project.root / "go").touch()
    finish(holding)
    assert holding.returncode == 0


def lock_cli(project: Release, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "releasegate.cli.lock", *args], cwd=project.root, env=env(),
                          capture_output=True, text=True, timeout=60)


def test_lock_status_and_break_from_the_command_line(project: Release, holding: subprocess.Popen[str],
                                                     backend: str) -> None:
    status = lock_cli(project, "status", "local")
    assert status.returncode == 1, status.stderr
    assert "environment local is locked by release 1.1.0" in status.stdout and f"pid {holding.pid}" in status.stdout
    broken = lock_cli(project, "break", "local", "--reason", "pipeline 55 hung", "--by", "bob")
    assert broken.returncode == 0, broken.stderr
    assert "broke the release lock" in broken.stdout
    free = lock_cli(project, "status", "local")
    assert free.returncode == 0 and "is not locked" in free.stdout
    (project.root / "go").touch()
    finish(holding)
    assert journal_of(project, holding.pid).events("lock_released")[0]["still_held"] is False
    nxt = run(project, "b")
    assert nxt.returncode == 0, nxt.stdout
    broke = journal_of(project, second_pid(project, holding.pid)).events("lock_broken")
    assert [(e["by"], e["reason"], e["holder"]["pid"]) for e in broke] == [("bob", "pipeline 55 hung", holding.pid)]
    assert "| Lock broken before this run | by bob" in (project.root / "reports" / "signoff-b.md").read_text()


def test_lock_cli_bad_input_is_one_line(project: Release) -> None:
    unknown = lock_cli(project, "status", "nowhere")
    assert unknown.returncode == 4 and len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown environment 'nowhere'" in unknown.stderr
    no_reason = lock_cli(project, "break", "local", "--reason", "  ")
    assert no_reason.returncode == 4 and "--reason" in no_reason.stderr
    missing = lock_cli(project, "break", "local")
    assert missing.returncode == 4 and "--reason" in missing.stderr


def test_a_usage_error_takes_no_lock(project: Release) -> None:
    bad = run(project, "b", "--lock-timeout", "soon")
    assert bad.returncode == 4
    assert "--lock-timeout 'soon': expected a number of seconds >= 0" in bad.stderr + bad.stdout
    assert not (project.root / "reports" / "journal" / "locks").exists()


# ---- release windows -------------------------------------------------------------------------


def frozen_runbook(extra: str = "") -> str:
    today = dt.datetime.now(dt.UTC).date()
    windows = (f"  windows:\n    timezone: UTC\n    freezes:\n      - name: audit\n"
               f"        from: {today - dt.timedelta(days=1)}\n        to: {today + dt.timedelta(days=1)}\n"
               "        reason: quarterly audit\n")
    marker = '  previous_version: "1.0.0"\n'
    assert marker in RUNBOOK
    return RUNBOOK.replace(marker, marker + windows) + extra


def windowed(release: Callable[..., Release], extra: str = "") -> Release:
    feature = FEATURE.replace('    When the run holds until "go" exists\n', "")
    made = release(feature, runbook=frozen_runbook(extra))
    (made.root / "reports").mkdir(exist_ok=True)
    return made


def test_a_run_in_a_freeze_is_blocked_before_anything_runs_with_the_next_allowed_time(
        release: Callable[..., Release]) -> None:
    project = windowed(release)
    result = run(project, "a")
    assert result.returncode == 1, result.stdout
    after = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    assert f"next allowed: {after}T00:00+00:00" in result.stdout
    assert "decision: BLOCKED - release blocked: in the freeze 'audit'" in result.stdout
    events: list[dict[str, Any]] = project.events()
    assert [e for e in events if e["event"] in ("stage_completed", "lock_acquired")] == []
    assert project.events("window_checked")[0]["allowed"] is False
    assert {e["outcome"] for e in project.events("scenario_finished")} == {"SKIPPED"}  # preflight too


def test_override_window_records_the_reason_and_who_gave_it(release: Callable[..., Release]) -> None:
    project = windowed(release)
    result = run(project, "a", "--override-window", "hotfix for INC-123")
    assert result.returncode == 0, result.stdout
    overridden = project.events("window_overridden")[0]
    assert (overridden["reason"], overridden["by"]) == ("hotfix for INC-123", "ops-person")
    signoff = (project.root / "reports" / "signoff-a.md").read_text()
    assert "OVERRIDDEN by ops-person: hotfix for INC-123" in signoff
    assert "freeze 'audit'" in signoff


def test_override_window_needs_approval_where_the_runbook_requires_it(release: Callable[..., Release]) -> None:
    project = windowed(release, "require_approval: true\n")
    refused = run(project, "a", "--override-window", "hotfix")
    assert refused.returncode == 4
    assert "--override-window needs an approver: pass --approve NAME" in refused.stderr + refused.stdout
    approved = run(project, "a", "--override-window", "hotfix", "--approve", "carol")
    assert approved.returncode == 0, approved.stdout
    assert project.events("window_overridden")[0]["by"] == "carol"


def test_a_bad_window_in_the_runbook_is_one_line(release: Callable[..., Release]) -> None:
    project = release(FEATURE, runbook=RUNBOOK.replace('  previous_version: "1.0.0"\n',
                                                       '  previous_version: "1.0.0"\n  windows:\n'
                                                       '    timezone: Mars/Olympus\n'))
    (project.root / "reports").mkdir(exist_ok=True)
    result = run(project, "a")
    assert result.returncode == 4
    lines = [line for line in (result.stderr + result.stdout).splitlines() if "Mars/Olympus" in line]
    assert lines and "unknown time zone 'Mars/Olympus'" in lines[0] and "release.windows.timezone" in lines[0]


def test_under_xdist_the_controller_takes_the_lock_before_any_scenario_is_handed_out(
        project: Release, holding: subprocess.Popen[str]) -> None:
    blocked = run(project, "b", "-n", "2")
    assert blocked.returncode == 1, blocked.stdout
    assert "releasegate: release blocked: environment local is locked by release 1.1.0" in blocked.stdout
    b = journal_of(project, second_pid(project, holding.pid))
    assert b.events("stage_completed") == [] and b.events("lock_blocked")
    (project.root / "go").touch()
    finish(holding)
    again = run(project, "c", "-n", "2")
    assert again.returncode == 0, again.stdout
    latest = project.journal()
    acquired = times(latest, "lock_acquired")
    assert len(acquired) == 1 and acquired[0] < min(times(latest, "scenario_started"))
    changes = times(latest, "stage_completed")
    assert changes and times(latest, "lock_released")[0] > max(changes)


def test_rollback_only_is_never_held_back_by_a_window(release: Callable[..., Release]) -> None:
    feature = FEATURE.replace('    When the run holds until "go" exists\n', "").replace('"deploy health" passes',
                                                                                        '"deploy health" fails')
    project = release(feature, runbook=frozen_runbook())
    (project.root / "reports").mkdir(exist_ok=True)
    # a run left halted with its change in place (a PROMOTED run is never rolled back)
    assert run(project, "a", "--override-window", "hotfix", "--no-rollback").returncode == 10
    resume = run(project, "b", "--rollback-only")
    assert "releasegate: --rollback-only runs outside the release window: in the freeze 'audit'" in resume.stdout
    assert "release blocked" not in resume.stdout
    assert [e["stage"] for e in project.events("rollback_action_done")] == ["deploy"]
    assert project.events("lock_acquired")  # it took the lock, as a release does
