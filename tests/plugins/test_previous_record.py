"""The previous run's record survives a run that never starts: reports/ is cleaned only once the run starts.

A run that stops at a usage error (a bad option, a bad runbook) leaves reports/allure-results,
reports/junit.xml, the sign-off and reports/journal/latest exactly as the last real run left them;
a run that stops at a collection error leaves the Allure results and the JUnit XML alone (with and
without xdist).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import RUNBOOK, Release

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
], ids=["duplicate-key", "bad-url", "bad-version", "missing-variable"])
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
    (released.root / "features" / "broken.feature").write_text("Feature: x\n  Scenario: y\n    Given z\n  Whatever\n")
    result = released.pytester.runpytest_subprocess("features/", "--env", "local", "-p", "no:cacheprovider", *xdist)
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.USAGE_ERROR), result.stdout.str()
    assert snapshot(released.root, journal=False) == before


def test_a_run_that_starts_replaces_the_record(released: Release) -> None:
    old = run_results(released.root)
    junit = (released.root / "reports" / "junit.xml").read_bytes()
    result = released.pytester.runpytest(*RUN)
    assert result.ret == 0
    new = run_results(released.root)
    assert new and not old & new  # the old results are gone
    assert (released.root / "reports" / "junit.xml").read_bytes() != junit
    assert not (released.root / "reports" / ".junit.xml.partial").exists()
