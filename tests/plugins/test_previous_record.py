"""The previous run's record survives a run that never starts: reports/ is cleaned only once the run starts.

A run that stops at a usage error (a bad option, a bad runbook) leaves reports/allure-results,
reports/junit.xml, the sign-off and reports/journal/latest exactly as the last real run left them;
a run that stops at a collection error leaves the Allure results, the JUnit XML, the sign-off, the journals and
``latest`` alone (with and without xdist). ``--rollback-only`` finds the newest run of the
environment with an unfinished plan, whatever came after it; a journal line cut off by a power
loss is reported and the rollback runs from the complete lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import RUNBOOK, Release

from releasegate.checks.run.journal import Journal

UUID_NAMED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-")
RUN = ("features/release.feature", "--env", "local", "-p", "no:cacheprovider")


def snapshot(root: Path, *, journal: bool = True) -> dict[str, bytes]:
    """Every file of the record, by path (the journal folder too, unless ``journal`` is False)."""
    reports = root / "reports"
    files = {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}
    return {name: data for name, data in files.items()
            if journal or not (name.startswith("journal/") or name == "signoff.md")}


def run_results(root: Path) -> set[str]:
    """The Allure files one run writes under fresh UUIDs (not the fixed-name ones such as executor.json)."""
    return {p.name for p in (root / "reports" / "allure-results").iterdir() if UUID_NAMED.match(p.name)}


@pytest.fixture
def released(release: Callable[..., Release]) -> Release:
    project = release()
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 0, result.stdout.str()
    reports = project.root / "reports"
    assert list((reports / "allure-results").glob("*-result.json")) and (reports / "junit.xml").is_file()
    assert (reports / "journal" / "latest").is_file()
    assert not list(reports.glob(".junit.xml.partial"))
    return project


@pytest.mark.parametrize("args", [
    ["--release", "1.0; touch x"],
    ["--release", ""],
    ["--env", "../runbooks/local"],
    ["--env", ""],
    ["--signoff", "reports"],
    ["--signoff", "no-such-folder/x.md"],
    ["--approve", ""],
    ["--confirm", "no equals sign"],
    ["--confirmations", "reports"],
    ["--rollback-only", "-n", "2"],
    ["--rollback-only", "-o", "releasegate_journal_dir=reports/elsewhere"],  # refused after Allure's configure
], ids=lambda args: " ".join(args) or "empty")
def test_a_usage_error_leaves_the_previous_record_untouched(released: Release, args: list[str]) -> None:
    before = snapshot(released.root)
    result = released.pytester.runpytest(*RUN, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert snapshot(released.root) == before


@pytest.mark.parametrize("runbook", [
    RUNBOOK + "release:\n  version: '9.9.9'\n",  # a repeated key
    RUNBOOK + "prometheus:\n  url: prometheus:9090\n",  # not a URL
    RUNBOOK.replace('version: "1.1.0"', 'version: "1.1.0 && true"'),
    RUNBOOK + "description: ${RG_TEST_SURELY_NOT_SET}\n",
    RUNBOOK + "stack:\n  kind: local\ndatabase:\n  dsn: postgresql://app@127.0.0.1:5432/app\n",  # needs a password
], ids=["duplicate-key", "bad-url", "bad-version", "missing-variable", "stack"])
def test_a_bad_runbook_leaves_the_previous_record_untouched(released: Release, runbook: str) -> None:
    before = snapshot(released.root)
    (released.root / "runbooks" / "local.yaml").write_text(runbook)
    result = released.pytester.runpytest(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert snapshot(released.root) == before


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_collection_error_leaves_the_allure_results_and_junit_untouched(released: Release,
                                                                          xdist: list[str]) -> None:
    before = snapshot(released.root, journal=False)
    signoff = released.signoff()
    journals = journal_files(released.root)
    (released.root / "features" / "broken.feature").write_text("Feature: x\n  Scenario: y\n    Given z\n  Whatever\n")
    result = released.pytester.runpytest_subprocess("features/", "--env", "local", "-p", "no:cacheprovider", *xdist)
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.USAGE_ERROR), result.stdout.str()
    assert snapshot(released.root, journal=False) == before
    assert journal_files(released.root) == journals  # no journal created, latest not moved
    assert released.signoff() == signoff  # the previous run's sign-off, untouched
    result.stdout.fnmatch_lines(["decision: BLOCKED - collection error*", "sign-off: not written*"])


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_step_typo_creates_no_journal(released: Release, xdist: list[str]) -> None:
    journals = journal_files(released.root)
    feature = released.root / "features" / "release.feature"
    feature.write_text(feature.read_text().replace('the fake check "smoke" passes', 'the fake chek "smoke" passes'))
    result = released.pytester.runpytest_subprocess(*RUN, *xdist)
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    assert journal_files(released.root) == journals


def test_latest_names_only_runs_that_changed_something_or_finished(released: Release) -> None:
    finished = released.journal().run_id
    feature = released.root / "features" / "release.feature"
    feature.write_text(feature.read_text().replace('Then the fake check "preflight" passes',
                                                   "Then the worker process dies"))
    result = released.pytester.runpytest_subprocess(*RUN)
    assert result.ret == 17, result.stdout.str()  # died in preflight: started, changed nothing, never finished
    assert len(list((released.root / "reports" / "journal").glob("*.jsonl"))) == 2
    assert released.journal().run_id == finished


def journal_files(root: Path) -> dict[str, bytes]:
    folder = root / "reports" / "journal"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


DIES = """
Feature: Release
  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the worker process dies

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
"""


def died(release: Callable[..., Release]) -> tuple[Release, str]:
    """A project whose release run died (the process exited mid-deploy) with two changes journaled."""
    project = release(DIES)
    result = project.pytester.runpytest_subprocess(*RUN)
    assert result.ret == 17, result.stdout.str()
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    return project, project.journal().run_id


def rollback_only(project: Release, *args: str) -> pytest.RunResult:
    return project.pytester.runpytest_subprocess(*RUN, "--rollback-only", *args)


def test_rollback_only_finds_the_run_that_died_before_a_typo_run_and_a_dry_run(
        release: Callable[..., Release]) -> None:
    project, dead = died(release)
    feature = project.root / "features" / "release.feature"
    good = feature.read_text()
    feature.write_text(good.replace("the state is back to before", "the state is back to bfore"))
    assert project.pytester.runpytest_subprocess(*RUN).ret == pytest.ExitCode.INTERRUPTED  # the typo run
    feature.write_text(good.replace("    Then the worker process dies\n", ""))
    assert project.pytester.runpytest_subprocess(*RUN, "--dry-run").ret == 0
    assert project.journal().run_id == dead  # neither run moved latest

    result = rollback_only(project)
    assert result.ret == 1, result.stdout.str()  # ROLLED BACK
    assert [e["stage"] for e in Journal.open(project.root / "reports" / "journal", dead).events(
        "rollback_action_done")] == ["deploy", "migrate"]
    assert project.state() == {}
    again = rollback_only(project)  # nothing is left to roll back: one line, nothing runs again
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines([f"*--rollback-only: nothing to roll back: run {dead} was rolled back already*"])
    assert len(project.rollbacks()) == 2


def test_a_later_promoted_release_supersedes_an_unfinished_one(release: Callable[..., Release]) -> None:
    project, _ = died(release)
    feature = project.root / "features" / "release.feature"
    feature.write_text(feature.read_text().replace("    Then the worker process dies\n", ""))
    assert project.pytester.runpytest_subprocess(*RUN).ret == 0  # PROMOTED
    promoted = project.journal().run_id
    result = rollback_only(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*nothing to roll back: the newest finished release, run {promoted}, was"
                                 " PROMOTED*"])
    assert project.rollbacks() == []


def test_rollback_only_looks_only_at_runs_of_its_environment(release: Callable[..., Release]) -> None:
    project, _ = died(release)
    (project.root / "runbooks" / "staging.yaml").write_text(RUNBOOK.replace("name: local", "name: staging"))
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "staging",
                                                   "-p", "no:cacheprovider", "--rollback-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nothing to roll back: no run in * journaled a change that is not rolled back*"])
    assert project.rollbacks() == []


def test_a_journal_cut_off_mid_line_is_reported_and_rolled_back_from_its_complete_lines(
        release: Callable[..., Release]) -> None:
    project, dead = died(release)
    journal = project.journal()
    complete = journal.path.stat().st_size
    with open(journal.path, "a") as handle:  # a power loss in the middle of the next event
        handle.write(json.dumps({"ts": 1.0, "run": dead, "event": "stage_completed", "stage": "smoke"})[:40])
    result = rollback_only(project)
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines([f"warning: journal {journal.path}: incomplete line at byte {complete} (cut off,"
                                 " for example by a power loss); ignored: the rollback runs from the complete lines"])
    assert [e["stage"] for e in journal.events("rollback_action_done")] == ["deploy", "migrate"]
    assert journal.events("journal_damaged")[0]["offsets"] == [complete]
    # the appends after it started a new line: only the cut-off line is not an event
    assert journal.damage() == [complete]
    assert journal.events("run_finished")
