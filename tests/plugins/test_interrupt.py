"""SIGTERM mid-run rolls back what had completed; --rollback-only finishes the rollback of a run that died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from support.release_project import Release

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


def test_sigterm_mid_run_rolls_back_what_had_completed(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project)
    wait_until_waiting(project, process)
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    # the rollback runs when the session ends, too late for the @post-rollback scenario: not ROLLED BACK
    assert process.returncode == 10, output
    assert project.events("rollback_decision")[0]["reason"] == "run interrupted"
    assert [e["stage"] for e in project.events("rollback_action_done")] == ["deploy", "migrate"]
    assert project.events("rollback_finished")[0]["outcome"] == "PASS"
    assert project.events("run_finished")[0]["decision"] == "HALTED"
    assert project.state() == {}
    assert ("decision: HALTED - run interrupted; the rollback ran, but 1 post-rollback check(s) did not pass:"
            " previous version serving (never finished); whether the previous state is back is unknown") in output


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

    # a second --rollback-only does not run any action again
    again = project.pytester.runpytest("--env", "local", "--rollback-only", "-p", "no:cacheprovider")
    assert again.ret == 1
    assert len(project.events("rollback_started")) == 1
    assert len(project.rollbacks()) == 2
    again.stdout.fnmatch_lines(["*rollback already finished (PASS)*"])


def test_sigterm_to_the_xdist_controller_rolls_back_once(release: Callable[..., Release]) -> None:
    project = release(SLOW_FEATURE)
    process = start(project, "-n", "2")
    wait_until_waiting(project, process)
    deadline = time.monotonic() + 30  # the two workers: deploy may finish just after the slow scenario began
    while len(project.events("stage_completed")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 10, output  # the @post-rollback scenario could not run after the rollback
    assert len(project.events("rollback_started")) == 1
    assert sorted(e["stage"] for e in project.events("rollback_action_done")) == ["deploy", "migrate"]
    assert project.events("run_finished")[0]["decision"] == "HALTED"
    assert project.state() == {}
