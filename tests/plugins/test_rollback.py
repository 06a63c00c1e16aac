"""Stop the line on a @critical failure, roll back once, then the @post-rollback checks."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from support.release_project import RUNBOOK, Release, feature

RUN = ("features/release.feature", "--env", "local", "-v", "-rs", "-p", "no:cacheprovider")


def test_stages_run_in_release_order_and_a_clean_release_is_promoted(release: Callable[..., Release]) -> None:
    project = release()
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 0
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines([
        "*test_preflight_checks_pass PASSED*",
        "*test_migrate_the_schema PASSED*",
        "*test_deploy_the_new_version PASSED*",
        "*test_smoke_checks_pass PASSED*",
        "*test_load_test PASSED*",
        "*test_previous_version_serving SKIPPED*",
        "decision: PROMOTED - every stage ran and no critical check failed",
        "*no rollback happened*",
    ])
    assert project.rollbacks() == []
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    assert project.events("run_finished")[-1]["decision"] == "PROMOTED"
    assert "# Release sign-off: PROMOTED" in project.signoff()


def test_one_critical_failure_rolls_back_once_and_skips_the_rest(release: Callable[..., Release]) -> None:
    project = release(feature('deploy health" fails'))
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "*test_deploy_the_new_version FAILED*",
        "*test_smoke_checks_pass SKIPPED*",
        "*test_load_test SKIPPED*",
        "*test_previous_version_serving PASSED*",
        "decision: ROLLED BACK - critical failure in deploy the new version",
        "SKIPPED [[]2[]] *release halted: critical failure in deploy the new version",
    ])
    # newest change first, each exactly once, and the post-rollback scenario saw the old state
    assert [line["stage"] for line in project.rollbacks()] == ["deploy", "migrate"]
    assert project.state() == {}
    assert len(project.events("rollback_started")) == 1
    assert [e["outcome"] for e in project.events("rollback_action_done")] == ["PASS", "PASS"]
    finished = project.events("rollback_finished")
    assert len(finished) == 1 and finished[0]["outcome"] == "PASS" and finished[0]["duration_s"] >= 0
    # the skipped scenarios never ran: nothing of theirs reached the journal
    assert not [e for e in project.events("check_failed") if e["scenario"] != "deploy the new version"]


def test_non_critical_failure_does_not_roll_back(release: Callable[..., Release]) -> None:
    project = release(feature(load_check='load" fails'))
    result = project.pytester.runpytest(*RUN)
    result.assert_outcomes(passed=4, failed=1, skipped=1)
    assert result.ret == 0
    assert project.rollbacks() == []
    assert project.events("rollback_started") == []
    assert project.events("release_halted") == []
    signoff = project.signoff()
    assert "PROMOTED" in signoff
    assert "**load test** (load): FAIL - load: FAIL (observed HTTP 500, expected HTTP 200)" in signoff


def test_no_rollback_reports_the_critical_failure_without_acting(release: Callable[..., Release]) -> None:
    project = release(feature('deploy health" fails'))
    result = project.pytester.runpytest(*RUN, "--no-rollback")
    assert result.ret == 10
    result.assert_outcomes(passed=2, failed=1, skipped=3)
    result.stdout.fnmatch_lines(["decision: HALTED - *rollback disabled by --no-rollback*",
                                 "*release halted: critical failure in deploy the new version*"])
    assert project.rollbacks() == []
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    assert project.events("rollback_started") == []
    assert project.events("rollback_decision")[-1]["action"] == "halt"


def test_inconclusive_critical_check_halts_for_a_person(release: Callable[..., Release]) -> None:
    project = release(feature('deploy health" is inconclusive'))
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 10
    result.stdout.fnmatch_lines(["decision: HALTED - inconclusive critical check in deploy the new version*"])
    assert project.rollbacks() == []
    assert "INCONCLUSIVE" in project.signoff()


def test_inconclusive_rolls_back_when_the_runbook_says_so(release: Callable[..., Release]) -> None:
    runbook = RUNBOOK + "rollback:\n  on_inconclusive: rollback\n"
    project = release(feature('deploy health" is inconclusive'), runbook=runbook)
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    assert [line["stage"] for line in project.rollbacks()] == ["deploy", "migrate"]


def test_a_failing_rollback_action_ends_rollback_failed(release: Callable[..., Release]) -> None:
    text = feature('deploy health" fails').replace(
        'Given the fake stage "deploy" changes the state',
        'Given the fake stage "deploy" changes the state with an undo that fails')
    project = release(text)
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 11
    # the other action still ran; the post-rollback check saw what was left
    assert [line["stage"] for line in project.rollbacks()] == ["deploy", "migrate"]
    result.stdout.fnmatch_lines(["decision: ROLLBACK FAILED - 1 rollback action(s) failed"])
    assert "rollback deploy: FAIL (observed still new, expected previous version)" in project.signoff()


def test_critical_preflight_failure_blocks_without_a_rollback(release: Callable[..., Release]) -> None:
    project = release(feature().replace('"preflight" passes', '"preflight" fails'))
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    result.assert_outcomes(failed=1, skipped=5)
    result.stdout.fnmatch_lines(["decision: BLOCKED - *nothing was changed"])
    assert project.state() == {}
    assert project.events("rollback_started") == []


def test_runbook_rollback_command_runs_for_a_stage_that_began(release: Callable[..., Release]) -> None:
    runbook = RUNBOOK + "rollback:\n  commands:\n    - stage: deploy\n      run: echo undone >> command.log\n"
    project = release(feature('deploy health" fails'), runbook=runbook)
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    assert (project.root / "command.log").read_text() == "undone\n"
    actions = [e["action"] for e in project.events("rollback_action_done")]
    assert actions == ["test.record", "command", "test.record"]


@pytest.mark.parametrize("workers", ["2", "4"])
def test_several_critical_failures_under_xdist_roll_back_exactly_once(release: Callable[..., Release],
                                                                       workers: str) -> None:
    scenarios = "".join(
        f"""
  @deploy @critical
  Scenario: deploy part {n}
    Given the fake stage "part{n}" changes the state
    When the run waits 0.3 seconds
    Then the fake check "part {n}" fails
""" for n in range(6))
    text = f"""
Feature: Release
  @preflight
  Scenario: preflight checks pass
    Then the fake check "preflight" passes
{scenarios}
  @smoke
  Scenario: smoke checks pass
    Then the fake check "smoke" passes

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
"""
    project = release(text)
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", workers, "-rs")
    assert result.ret == 1, result.stdout.str()
    assert len(project.events("rollback_started")) == 1
    assert len(project.events("rollback_decision")) == 1
    # every change that any worker recorded was undone exactly once, and nothing was left changed
    recorded = [e["undo"]["params"]["stage"] for e in project.events("stage_completed")]
    undone = [line["stage"] for line in project.rollbacks()]
    assert sorted(undone) == sorted(recorded) and len(set(undone)) == len(undone)
    assert project.state() == {}
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    assert "previous version serving" in project.signoff().split("Post-rollback checks passed:")[1]
    assert "ROLLED BACK" in project.signoff()


def test_worker_killed_during_a_critical_scenario_counts_as_a_critical_failure(
        release: Callable[..., Release]) -> None:
    text = feature().replace(
        'Then the fake check "{deploy_check}"', 'Then the worker process dies').replace(
        'Then the fake check "deploy health" passes', "Then the worker process dies")
    project = release(text)
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2", "-rs")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*test_deploy_the_new_version*"])
    assert len(project.events("rollback_started")) == 1
    assert project.events("rollback_decision")[0]["reason"] == "worker crashed during deploy the new version"
    # under xdist, migrate may have run on the other worker before the crash or been skipped after it
    recorded = [e["undo"]["params"]["stage"] for e in project.events("stage_completed")]
    assert "deploy" in recorded
    assert [line["stage"] for line in project.rollbacks()] == recorded[::-1]
    assert project.state() == {}
    assert "worker crashed" in project.signoff()



def test_collect_only_is_not_a_release(release: Callable[..., Release]) -> None:
    project = release()
    result = project.pytester.runpytest("features/release.feature", "--env", "local", "--collect-only", "-q")
    assert result.ret == 0
    assert not (project.root / "reports" / "journal").exists()
    assert not (project.root / "reports" / "signoff.md").exists()


def test_post_rollback_under_xdist_does_not_wait_for_deselected_scenarios(release: Callable[..., Release]) -> None:
    project = release()
    started = time.monotonic()
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2",
                                                   "-k", "not load", "-rs")
    assert result.ret == 12, result.stdout.str()  # a -k subset is PASSED (partial), never PROMOTED
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(["*no rollback happened*"])
    assert time.monotonic() - started < 60


def test_a_rollback_after_pytest_stopped_the_loop_is_still_verified(release: Callable[..., Release]) -> None:
    """-x stops the loop right after the failure: the @post-rollback scenario still runs, after the rollback."""
    project = release(feature('deploy health" fails'))
    result = project.pytester.runpytest(*RUN, "-x")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_previous_version_serving PASSED*",
                                 "decision: ROLLED BACK - critical failure in deploy the new version"])
    started = [e for e in project.events("scenario_started") if e.get("post_rollback")]
    assert len(started) == 1 and started[0]["ts"] > project.events("rollback_finished")[0]["ts"]


def test_a_post_rollback_scenario_skipped_by_its_gate_is_journaled_started_and_skipped(
        release: Callable[..., Release]) -> None:
    project = release()
    assert project.pytester.runpytest(*RUN).ret == 0
    journaled = [(e["event"], e.get("outcome"), e.get("reason")) for e in project.events()
                 if e.get("nodeid", "").endswith("test_previous_version_serving")]
    assert journaled == [("scenario_started", None, None), ("scenario_finished", "SKIPPED", "no rollback happened")]


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["one process", "-n 2"])
def test_the_built_in_verification_runs_only_when_no_post_rollback_scenario_ran(
        release: Callable[..., Release], workers: list[str]) -> None:
    # the target would fail the built-in check: it must not run when the @post-rollback scenario verified
    runbook = RUNBOOK + """
targets:
  - name: web
    kind: host
    url: local://
    options:
      version_command: echo 9.9.9
"""
    project = release(feature('deploy health" fails'), runbook=runbook)
    result = project.pytester.runpytest(*RUN, *workers)
    assert result.ret == 1, result.stdout.str()
    assert "releasegate: verifying the rollback" not in result.stdout.str()
    assert not [e for e in project.events() if "verify-rollback" in e.get("nodeid", "")]

    no_post_rollback = release(feature('deploy health" fails').replace("@post-rollback", "@smoke"), runbook=runbook)
    result = no_post_rollback.pytester.runpytest_subprocess(*RUN, *workers)  # pytest-bdd caches parsed features
    assert result.ret == 11, result.stdout.str()  # now it runs, and 9.9.9 is not the previous version
    result.stdout.fnmatch_lines(["*api serves 1.0.0: FAIL (observed 9.9.9, expected 1.0.0)*"])
