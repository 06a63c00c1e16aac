"""The verdict counts what ran, end to end, with and without -n 2 (issue 12: "nothing false PROMOTED").

A collection error, an internal error, a worker crash are never PROMOTED; a subset (-k, -m, node
ids, skips) or a checklist that deploys nothing is PASSED with exit 12; a rollback that no
@post-rollback check verified is HALTED. The table of every case is tests/checks/run/test_decision.py.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pytest
from support.release_project import Release, feature

WORKERS = pytest.mark.parametrize("workers", [None, "2"], ids=["one process", "-n 2"])

TYPO = feature().replace('Then the fake check "preflight" passes', 'Then the fake chek "preflight" passes')
TYPO_FEATURE = """
Feature: Extra checks
  @smoke
  Scenario: extra smoke check
    Then the fake chek "extra" passes
"""
PREFLIGHT_ONLY = """
Feature: Preflight
  @preflight @critical
  Scenario: preflight checks pass
    Then the fake check "preflight" passes

  @preflight
  Scenario: monitoring is in place
    Then the fake check "monitoring" passes
"""
NO_POST_ROLLBACK = """
Feature: Release
  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the fake check "deploy health" fails
"""
FAILS_BEFORE_ANY_CHANGE = """
Feature: Release
  @preflight @critical
  Scenario: preflight checks pass
    Then the fake check "preflight" passes

  @migrate @critical
  Scenario: migrate the schema
    Then the fake check "migration" fails

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
"""
BROKEN_CLEANUP = '''
import pytest


@pytest.fixture(autouse=True)
def broken_cleanup(request):
    yield
    if "load" in request.node.nodeid:
        raise OSError("cleanup failed")
'''
BOOM = '''
def pytest_runtest_makereport(item, call):
    if call.when == "call" and "load" in item.nodeid:
        raise RuntimeError("boom in makereport")
'''


def run(project: Release, *args: str, workers: str | None = None) -> pytest.RunResult:
    base = ("--env", "local", "-p", "no:cacheprovider", "-rs")
    if workers is None:
        return project.pytester.runpytest(*args, *base)
    return project.pytester.runpytest_subprocess(*args, *base, "-n", workers)


def finished(project: Release) -> dict[str, Any]:
    return project.events("run_finished")[-1]


def assert_decision(project: Release, result: pytest.RunResult, code: int, line: str, *, terminal: bool = True,
                    journal: bool = True) -> None:
    """The exit code and the decision of the sign-off, the terminal (pytest prints no summary after an
    internal error) and the journal agree; a run that never started (``journal=False``) writes no sign-off."""
    assert result.ret == code, result.stdout.str()
    if terminal:
        result.stdout.fnmatch_lines([f"decision: {line}"])
    label = line.split(" - ", 1)[0]
    if not journal:  # the run never started: the previous record (here: none) is left alone
        assert not (project.root / "reports" / "signoff.md").exists()
        result.stdout.fnmatch_lines(["sign-off: not written (the run did not start;*"])
        return
    signoff = project.signoff()
    assert fnmatch.fnmatch(signoff.splitlines()[2], f"**Decision:** {line}"), signoff
    assert signoff.startswith(f"# Release sign-off: {label}\n")
    if journal:
        assert (finished(project)["label"], finished(project)["exit_code"]) == (label, code)


@WORKERS
def test_a_step_typo_is_never_promoted(release: Callable[..., Release], workers: str | None) -> None:
    project = release(TYPO)
    result = run(project, "features/release.feature", workers=workers)
    # a run stopped at collection never started: its sign-off says so, and it leaves no journal behind
    assert_decision(project, result, 2, "BLOCKED - collection error: features/release.feature:13: no step definition"
                                        " for 'Then the fake chek \"preflight\" passes'*; nothing was changed",
                    journal=False)
    assert not list((project.root / "reports" / "journal").glob("*.jsonl"))
    assert project.state() == {}


@pytest.mark.parametrize(("options", "code", "line"), [
    ((), 2, "BLOCKED - collection error: features/extra.feature:5: no step definition*; nothing was changed"),
    # the workers run nothing once one of them failed to collect (--continue-on-collection-errors is refused)
    (("-n", "2"), 2, "BLOCKED - collection error: features/extra.feature:5: *; nothing was changed"),
    (("-n", "2", "--dry-run"), 2, "BLOCKED - dry run: collection error: features/extra.feature:5: *"),
], ids=["one process", "-n 2", "-n 2 --dry-run"])
def test_a_step_typo_in_one_feature_is_not_hidden_by_the_scenarios_of_another(
        release: Callable[..., Release], options: tuple[str, ...], code: int, line: str) -> None:
    project = release(extra_features={"extra": TYPO_FEATURE})
    result = project.pytester.runpytest_subprocess("features/", "--env", "local", "-p", "no:cacheprovider", *options)
    assert_decision(project, result, code, line, journal=False)  # the run never started: no journal
    assert not list((project.root / "reports" / "journal").glob("*.jsonl"))


def test_a_worker_crash_in_a_non_critical_scenario_is_never_promoted(release: Callable[..., Release]) -> None:
    project = release(feature().replace('Then the fake check "load" passes', "Then the worker process dies"))
    result = run(project, "features/release.feature", workers="2")
    assert_decision(project, result, 10, "HALTED - worker crashed during load test; changes are in place")
    assert project.rollbacks() == []
    assert [(e["scenario"], e["reason"]) for e in project.events("scenario_finished")
            if e["outcome"] == "CRASHED"] == [("load test", "worker crashed")]


@WORKERS
def test_a_run_pytest_stopped_early_is_never_promoted(release: Callable[..., Release], workers: str | None) -> None:
    project = release(feature().replace("@smoke @critical", "@smoke").replace('"smoke" passes', '"smoke" fails'))
    result = run(project, "features/release.feature", "-x", *(("--dist", "loadfile") if workers else ()),
                 workers=workers)
    assert_decision(project, result, 10, "HALTED - 1 release scenario(s) never finished: load test; changes are in"
                                         " place")
    assert project.events("rollback_decision") == []  # pytest's own stop is not an interrupt by a person


def add_plugin(project: Release, name: str, text: str) -> None:
    (project.root / f"{name}.py").write_text(text)
    conftest = project.root / "conftest.py"
    conftest.write_text(conftest.read_text() + f'pytest_plugins.append("{name}")\n')


@WORKERS
def test_a_teardown_error_is_never_promoted(release: Callable[..., Release], workers: str | None) -> None:
    project = release()
    add_plugin(project, "broken_cleanup", BROKEN_CLEANUP)
    result = run(project, "features/release.feature", workers=workers)
    assert_decision(project, result, 10, "HALTED - teardown error in load test: OSError: cleanup failed; changes are"
                                         " in place")


@WORKERS
def test_an_internal_error_is_never_promoted(release: Callable[..., Release], workers: str | None) -> None:
    project = release()
    add_plugin(project, "boom", BOOM)
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-p",
                                                   "no:cacheprovider", *(("-n", workers) if workers else ()))
    assert_decision(project, result, 3, "HALTED - internal error: RuntimeError: boom in makereport; *", terminal=False)
    assert "## Internal errors\n- RuntimeError: boom in makereport" in project.signoff()


@WORKERS
@pytest.mark.parametrize(("selection", "line"), [
    (("features/release.feature", "-k", "not load"),
     "PASSED (partial: 4 of 5 scenarios) - 1 release scenario(s) did not run: load test (deselected); the changes it"
     " made are in place"),
    (("features/release.feature", "-m", "not load"), "PASSED (partial: 4 of 5 scenarios) - *load test (deselected)*"),
    (("features/release.feature::test_preflight_checks_pass",),
     "PASSED (partial: 1 of 5 scenarios) - 4 release scenario(s) did not run: *; no @deploy scenario ran: the"
     " release was not deployed"),
], ids=["-k", "-m", "node id"])
def test_a_subset_of_the_release_is_passed_partial_never_promoted(
        release: Callable[..., Release], workers: str | None, selection: tuple[str, ...], line: str) -> None:
    project = release()
    result = run(project, *selection, workers=workers)
    assert_decision(project, result, 12, line)
    assert finished(project)["decision"] == "PASSED"
    assert "## Release scenarios that did not run\n" in project.signoff()


@WORKERS
def test_a_skipped_release_scenario_makes_the_run_partial(release: Callable[..., Release],
                                                          workers: str | None) -> None:
    project = release(feature().replace("@load\n", "@load @skip\n"))
    result = run(project, "features/release.feature", workers=workers)
    assert_decision(project, result, 12, "PASSED (partial: 4 of 5 scenarios) - 1 release scenario(s) did not run:"
                                         " load test (skipped: unconditional skip)*")


@WORKERS
def test_a_preflight_only_checklist_is_not_a_release(release: Callable[..., Release], workers: str | None) -> None:
    project = release(PREFLIGHT_ONLY)
    result = run(project, "features/release.feature", workers=workers)
    assert_decision(project, result, 12, "PASSED (no deploy) - no @deploy scenario ran: the release was not deployed")
    assert "| preflight | 2 | 2 | 2 | 0 | 0 | 0 |" in project.signoff()


@WORKERS
def test_a_critical_failure_before_anything_changed_is_blocked(release: Callable[..., Release],
                                                               workers: str | None) -> None:
    project = release(FAILS_BEFORE_ANY_CHANGE)
    # loadfile: one worker runs the stages in order (stages are not barriers across workers yet)
    result = run(project, "features/release.feature", *(("--dist", "loadfile") if workers else ()), workers=workers)
    assert_decision(project, result, 1, "BLOCKED - critical failure in migrate the schema; nothing to roll back: no"
                                        " stage had changed anything; nothing was changed")
    assert project.events("rollback_started") == [] and project.state() == {}


@WORKERS
@pytest.mark.parametrize(("text", "selection", "unverified"), [
    (NO_POST_ROLLBACK, (), "no @post-rollback check verified it"),
    (feature('deploy health" fails'), ("-k", "not previous"),
     "1 post-rollback check(s) did not pass: previous version serving (deselected)"),
], ids=["no post-rollback scenario", "post-rollback deselected"])
def test_a_rollback_no_post_rollback_check_verified_is_halted(
        release: Callable[..., Release], workers: str | None, text: str, selection: tuple[str, ...],
        unverified: str) -> None:
    project = release(text)
    result = run(project, "features/release.feature", *selection, workers=workers)
    assert_decision(project, result, 10, f"HALTED - critical failure in deploy the new version; the rollback ran, but"
                                         f" {unverified}; whether the previous state is back is unknown")
    assert project.state() == {}  # the rollback itself ran


@WORKERS
def test_the_journal_shows_how_every_scenario_ended_post_rollback_included(release: Callable[..., Release],
                                                                          workers: str | None) -> None:
    project = release(feature('deploy health" fails'))
    result = run(project, "features/release.feature", *(("--dist", "loadfile") if workers else ()), workers=workers)
    assert result.ret == 1, result.stdout.str()
    ended = {e["scenario"]: (e["outcome"], e["reason"]) for e in project.events("scenario_finished")}
    assert ended == {
        "preflight checks pass": ("PASS", ""), "migrate the schema": ("PASS", ""),
        "deploy the new version": ("FAIL", "deploy health: FAIL (observed HTTP 500, expected HTTP 200)"),
        "smoke checks pass": ("SKIPPED", "release halted: critical failure in deploy the new version"),
        "load test": ("SKIPPED", "release halted: critical failure in deploy the new version"),
        "previous version serving": ("PASS", "")}
    post_rollback = [e for e in project.events() if e.get("post_rollback")]
    assert [e["event"] for e in post_rollback] == ["scenario_started"]
    assert post_rollback[0]["ts"] > project.events("rollback_finished")[0]["ts"]
