"""releasegate's own hooks fire in order on the controller, and the run summary counts what ran per stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support.release_project import Release, feature

OBSERVER = '''
import json
from dataclasses import asdict
from pathlib import Path

import pytest

LOG = Path(__file__).parent / "hooks.log"


def _log(hook, **fields):
    with LOG.open("a") as log:
        log.write(json.dumps({"hook": hook, **fields}) + "\\n")


@pytest.hookimpl(tryfirst=True)  # before the rollback plugin, which decides right away
def pytest_releasegate_critical_failure(config, failure):
    _log("critical_failure", scenario=failure.scenario, crashed=failure.crashed)


def pytest_releasegate_rollback_decided(config, decision):
    _log("rollback_decided", action=decision.action, reason=decision.reason)


def pytest_releasegate_rollback_started(config, trigger, plan):
    _log("rollback_started", trigger=trigger, plan=[step.stage for step in plan])


def pytest_releasegate_rollback_finished(config, report):
    _log("rollback_finished", ran=report.ran, outcome=report.outcome.value)


def pytest_releasegate_run_summary(session, summary):
    _log("run_summary", stages={group: asdict(counts) for group, counts in summary.stages.items()},
         failures=[failure.scenario for failure in summary.failures], halt=summary.halt.reason)


def pytest_releasegate_verdict(config, verdict):
    _log("verdict", decision=verdict.decision, exit_code=verdict.exit_code)
'''


def observed(project: Release) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (project.root / "hooks.log").read_text().splitlines()]


def counts(collected: int, ran: int = 0, passed: int = 0, failed: int = 0, skipped: int = 0,
           deselected: int = 0) -> dict[str, int]:
    return {"collected": collected, "ran": ran, "passed": passed, "failed": failed, "skipped": skipped,
            "deselected": deselected}


@pytest.mark.parametrize("workers", [None, "2"])
def test_hooks_follow_a_rollback_and_the_summary_counts_every_stage(release: Callable[..., Release],
                                                                     workers: str | None) -> None:
    project = release(feature('deploy health" fails'))
    (project.root / "observer.py").write_text(OBSERVER)
    conftest = project.root / "conftest.py"
    conftest.write_text(conftest.read_text() + 'pytest_plugins.append("observer")\n')
    args = ("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
    if workers is None:
        result = project.pytester.runpytest(*args)
    else:
        result = project.pytester.runpytest_subprocess(*args, "-n", workers, "--dist", "loadfile")
    assert result.ret == 1, result.stdout.str()
    hooks = observed(project)
    assert [h["hook"] for h in hooks] == ["critical_failure", "rollback_decided", "rollback_started",
                                          "rollback_finished", "run_summary", "verdict"]
    assert hooks[0] == {"hook": "critical_failure", "scenario": "deploy the new version", "crashed": False}
    assert hooks[1]["action"] == "rollback" and hooks[1]["reason"] == "critical failure in deploy the new version"
    assert hooks[2]["plan"] == ["deploy", "migrate"]
    assert (hooks[3]["ran"], hooks[3]["outcome"]) == (True, "PASS")
    assert hooks[4]["stages"] == {
        "preflight": counts(1, ran=1, passed=1), "migrate": counts(1, ran=1, passed=1),
        "deploy": counts(1, ran=1, failed=1), "smoke": counts(1, skipped=1), "load": counts(1, skipped=1),
        "post-rollback": counts(1, ran=1, passed=1)}
    assert hooks[4]["failures"] == ["deploy the new version"]
    assert hooks[4]["halt"] == "release halted: critical failure in deploy the new version"
    assert hooks[5] == {"hook": "verdict", "decision": "ROLLED BACK", "exit_code": 1}


@pytest.mark.parametrize("workers", [None, "2"])
def test_a_release_in_which_no_scenario_ran_is_not_promoted(release: Callable[..., Release],
                                                            workers: str | None) -> None:
    project = release("""
Feature: Release
  @preflight @manual
  Scenario: Change approved

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
""")
    args = ("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
    if workers is None:
        result = project.pytester.runpytest(*args)
    else:
        result = project.pytester.runpytest_subprocess(*args, "-n", workers)
    assert result.ret == 1
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["decision: BLOCKED - no release scenario ran"])
    assert project.events("run_finished")[-1]["decision"] == "BLOCKED"
