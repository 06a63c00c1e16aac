"""SIGTERM mid-run rolls back what had completed; --rollback-only finishes the rollback of a run that died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import RUNBOOK, Release

from releasegate.checks.run.journal import Journal

REPO_ROOT = Path(__file__).resolve().parents[2]

SLOW_FEATURE = """
Feature: Release
  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state

  @smoke
  Scenario: smoke checks take a while
    When the run waits 60 seconds
    Then the fake check "smoke" passes

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
"""


def start(project: Release, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pytest", "features/release.feature", "--env", "local",
                             "-p", "no:cacheprovider", *args],
                            cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_waiting(project: Release, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not (project.root / "waiting").exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the slow scenario never started"
        time.sleep(0.05)


def test_sigterm_mid_run_rolls_back_what_had_completed_then_verifies_it(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project)
    wait_until_waiting(project, process)
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    # the @post-rollback scenario runs right after the rollback, before the session ends: ROLLED BACK
    assert process.returncode == 1, output
    assert project.events("rollback_decision")[0]["reason"] == "run interrupted"
    assert [e["stage"] for e in project.events("rollback_action_done")] == ["deploy", "migrate"]
    assert project.events("rollback_finished")[0]["outcome"] == "PASS"
    assert project.events("run_finished")[0]["decision"] == "ROLLED BACK"
    assert project.state() == {}
    assert "decision: ROLLED BACK - run interrupted" in output
    # the journal alone shows that the verification ran after the rollback, and how it ended
    events = project.events()
    kinds = [(e["event"], e.get("nodeid", "").rpartition("::")[2]) for e in events]
    finished_at = kinds.index(("rollback_finished", ""))
    assert kinds.index(("scenario_started", "test_previous_version_serving")) > finished_at
    verified = [e for e in events if e["event"] == "scenario_finished" and e["stage"] == "post-rollback"]
    assert [(e["scenario"], e["outcome"]) for e in verified] == [("previous version serving", "PASS")]
    assert "Post-rollback checks passed: previous version serving" in project.signoff()


def test_sigterm_when_the_post_rollback_check_fails_is_rollback_failed(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE.replace('Given the fake stage "deploy" changes the state',
                                           'Given the fake stage "deploy" changes the state with an undo that fails'))
    process = start(project)
    wait_until_waiting(project, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 11, output
    verified = [e for e in project.events("scenario_finished") if e["stage"] == "post-rollback"]
    assert [e["outcome"] for e in verified] == ["FAIL"]


def test_sigterm_with_no_rollback_leaves_the_changes_for_a_person(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project, "--no-rollback")
    wait_until_waiting(project, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 10, output
    assert project.events("rollback_started") == []
    assert project.state() == {"migrate": "changed", "deploy": "changed"}


def test_rollback_only_finishes_a_run_that_died(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project)
    wait_until_waiting(project, process)
    process.kill()  # SIGKILL: no chance to roll back
    process.communicate(timeout=60)
    assert project.events("rollback_started") == []
    died = project.journal().run_id

    result = project.pytester.runpytest("features/release.feature", "--env", "local", "--rollback-only", "-v",
                                        "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()
    result.assert_outcomes(passed=1)  # only the @post-rollback scenario runs, after the rollback
    assert project.journal().run_id == died
    assert [e["stage"] for e in project.events("rollback_action_done")] == ["deploy", "migrate"]
    assert project.events("rollback_started")[0]["trigger"] == "--rollback-only"
    assert project.state() == {}

    # a second --rollback-only finds nothing left to roll back (one line) and runs no action again
    again = project.pytester.runpytest("--env", "local", "--rollback-only", "-p", "no:cacheprovider")
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    assert len(project.events("rollback_started")) == 1
    assert len(project.rollbacks()) == 2
    again.stderr.fnmatch_lines([f"*nothing to roll back: run {died} was rolled back already*"])


HOST_RUNBOOK = RUNBOOK + """
targets:
  - name: web
    kind: host
    url: local://
    options:
      version_command: cat {version_file}
"""


@pytest.mark.parametrize(("serving", "code", "outcome"), [("1.0.0", 1, "PASS"), ("1.1.0", 11, "FAIL")])
def test_rollback_only_without_a_feature_runs_the_built_in_verification(release: Callable[..., Release],
                                                                        serving: str, code: int,
                                                                        outcome: str) -> None:
    project = release(SLOW_FEATURE[:SLOW_FEATURE.index("  @post-rollback")])  # no @post-rollback scenario
    version_file = project.root / "version.txt"
    (project.root / "runbooks" / "local.yaml").write_text(HOST_RUNBOOK.format(version_file=version_file))
    process = start(project)
    wait_until_waiting(project, process)
    process.kill()
    process.communicate(timeout=60)
    version_file.write_text(serving + "\n")  # what the previous version's undo left serving

    result = project.pytester.runpytest("--env", "local", "--rollback-only", "-p", "no:cacheprovider")
    assert result.ret == code, result.stdout.str()
    result.stdout.fnmatch_lines(["*releasegate: verifying the rollback (no @post-rollback scenario ran)*",
                                 f"api serves 1.0.0: {outcome}*"])
    verified = [e for e in project.events("scenario_finished") if e["stage"] == "post-rollback"]
    assert [(e["scenario"], e["outcome"]) for e in verified] == [("built-in: api serves 1.0.0", outcome)]
    started = project.events("scenario_started")
    assert started[-1]["nodeid"].endswith("api serves 1.0.0") and started[-1]["post_rollback"] is True
    if outcome == "PASS":
        assert "Post-rollback checks passed: built-in: api serves 1.0.0" in project.signoff()
    else:
        assert "ROLLBACK FAILED - 1 post-rollback check(s) failed after the rollback" in result.stdout.str()


def changes(project: Release) -> list[dict[str, object]]:
    """The changes journaled so far (``latest`` names the run once it journaled its first one)."""
    journal = Journal.latest(project.root / "reports" / "journal")
    return journal.events("stage_completed") if journal is not None else []


def test_sigterm_to_the_xdist_controller_rolls_back_once(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project, "-n", "2")
    wait_until_waiting(project, process)
    deadline = time.monotonic() + 30  # the two workers: deploy may finish just after the slow scenario began
    while len(changes(project)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    # the workers are gone with the controller: the @post-rollback scenario cannot run after the rollback, and
    # the runbook (no target, no database) offers no built-in check: whether the previous state is back is unknown
    assert process.returncode == 10, output
    assert len(project.events("rollback_started")) == 1
    assert sorted(e["stage"] for e in project.events("rollback_action_done")) == ["deploy", "migrate"]
    assert project.events("run_finished")[0]["decision"] == "HALTED"
    assert "previous version serving (never finished); whether the previous state is back is unknown" in output
    assert project.state() == {}
