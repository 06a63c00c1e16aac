"""Under xdist the stages are barriers: the journal's timestamps show no stage starting before an earlier one ended."""

from __future__ import annotations

from collections.abc import Callable

from support.release_project import Release

FEATURE = """
Feature: Release
  @preflight @critical
  Scenario: a slow preflight check
    When the run waits 2 seconds
    Then the fake check "slow preflight" passes

  @preflight @critical
  Scenario: a quick preflight check
    Then the fake check "quick preflight" passes

  @backup @critical
  Scenario: back up
    Given the fake stage "backup" changes the state

  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state

  @smoke @critical
  Scenario: smoke checks pass
    Then the fake check "smoke" passes
"""

STAGE_ORDER = ["preflight", "backup", "migrate", "deploy", "smoke"]


def test_no_stage_starts_before_the_earlier_stages_finished_on_every_worker(release: Callable[..., Release]) -> None:
    project = release(FEATURE)
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2",
                                                   "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    finished = {e["nodeid"]: e for e in project.events("scenario_finished")}
    started = {e["nodeid"]: e["ts"] for e in project.events("scenario_started")}
    assert len(finished) == len(started) == 6
    workers = {e["pid"] for e in project.events("scenario_started")}
    assert len(workers) == 2  # both workers ran scenarios: the order is not one process's
    for rank, stage in enumerate(STAGE_ORDER[1:], start=1):
        earlier_end = max(e["ts"] for e in finished.values() if STAGE_ORDER.index(e["stage"]) < rank)
        first_start = min(started[n] for n, e in finished.items() if e["stage"] == stage)
        early = earlier_end - first_start
        assert first_start >= earlier_end, f"{stage} started {early:.3f}s before the earlier stages ended"


def test_a_critical_failure_met_while_waiting_skips_the_waiting_scenario(release: Callable[..., Release]) -> None:
    project = release(FEATURE.replace('Then the fake check "slow preflight" passes',
                                      'Then the fake check "slow preflight" fails'))
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2",
                                                   "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()
    changed = {e["stage"] for e in project.events("stage_completed")}
    assert changed == set(), f"stages changed although preflight failed: {changed}"
    assert project.state() == {}
