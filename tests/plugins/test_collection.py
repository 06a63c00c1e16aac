"""Feature files are collected directly, steps and tags are validated at collection."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import RUNBOOK

FEATURE = """
Feature: Release
  @preflight
  Scenario: environment is right
    Given the environment is "local"

  @critical @deploy
  Scenario: version is set
    Given the release version is set

  Scenario Outline: environments
    Given the environment is "<env>"
    Examples:
      | env   |
      | local |
      | prod  |
"""


def test_feature_file_named_on_the_command_line_runs(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"release": FEATURE})
    result = pytester.runpytest("features/release.feature", "--env", "local", "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*releasegate: environment local (from --env), runbook runbooks/local.yaml, release 1.0.0 -> 1.1.0*",
            "*features/release.feature::test_environment_is_right PASSED*",
            "environment: FAIL (observed local, expected prod)",
            '  at features/release.feature:12 Given the environment is "prod"',
        ]
    )


def test_folder_keyword_and_marker_selection(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"release": FEATURE})
    pytester.runpytest("features/", "--env", "local").assert_outcomes(passed=3, failed=1)
    pytester.runpytest("features/", "--env", "local", "-m", "critical").assert_outcomes(passed=1)
    pytester.runpytest("features/", "--env", "local", "-k", "environment_is").assert_outcomes(passed=1)


def test_runs_under_xdist(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"release": FEATURE})
    result = pytester.runpytest_subprocess("features/release.feature", "--env", "local", "-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    # the workers write their Allure results to the same default folder as a single process would
    results = [json.loads(p.read_text()) for p in (pytester.path / "reports" / "allure-results").glob("*-result.json")]
    names = {r["name"] for r in results}
    assert {"environment is right", "version is set"} <= names, names
    assert sum(1 for r in results if r["name"] == "environments") == 2, names


def test_missing_step_names_file_line_and_closest_phrase(rg_project: Callable[..., pytest.Pytester]) -> None:
    feature = 'Feature: x\n  Scenario: y\n    Given the enviroment is "local"\n'
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"typo": feature})
    result = pytester.runpytest("features/typo.feature", "--env", "local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "features/typo.feature:3: no step definition for 'Given the enviroment is \"local\"' in scenario 'y';"
            " closest known step: 'the environment is \"{name}\"'"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_unknown_tag_is_an_error_naming_the_line(rg_project: Callable[..., pytest.Pytester]) -> None:
    feature = "Feature: x\n\n  @critcal\n  Scenario: y\n    Given the release version is set\n"
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"tags": feature})
    result = pytester.runpytest("features/tags.feature", "--env", "local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["features/tags.feature:4: unknown tag @critcal on scenario 'y'; known tags: *critical*"]
    )


def test_gherkin_syntax_error_is_one_line(rg_project: Callable[..., pytest.Pytester]) -> None:
    feature = "Feature: x\n  Scenario: y\n    Given the release version is set\n  Whatever this is\n"
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"broken": feature})
    result = pytester.runpytest("features/broken.feature", "--env", "local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["features/broken.feature:4: Gherkin syntax error:*"])
    assert "Traceback" not in result.stdout.str()


def test_reports_are_written_for_feature_runs(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"release": FEATURE})
    pytester.runpytest("features/release.feature", "--env", "local")
    allure = pytester.path / "reports" / "allure-results"
    assert list(allure.glob("*-result.json")), "no Allure results"
    properties = (allure / "environment.properties").read_text()
    assert "environment=local" in properties and "version.to=1.1.0" in properties
    assert (allure / "categories.json").is_file()
    assert "testcase" in (pytester.path / "reports" / "junit.xml").read_text()
    attachments = [p.read_text() for p in allure.glob("*-attachment.json")]
    assert any('"observed": "local"' in text for text in attachments), "evidence not attached"


def test_git_sha_says_when_the_checkout_has_uncommitted_changes(tmp_path: Path) -> None:
    from releasegate.plugins.reporting import git_sha

    assert git_sha(tmp_path) == "unknown"
    for command in (["init", "-q"], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
                                     "-m", "x"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    (tmp_path / "f.txt").write_text("one")
    assert re.fullmatch(r"[0-9a-f]{40}", git_sha(tmp_path))  # untracked files do not count
    subprocess.run(["git", "add", "f.txt"], cwd=tmp_path, check=True)
    assert git_sha(tmp_path).endswith(" (with uncommitted changes)")


def test_collect_only_leaves_the_last_record_alone(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"release": FEATURE})
    pytester.runpytest("features/release.feature", "--env", "local")
    reports = pytester.path / "reports"
    before = {p.name: p.read_bytes() for p in (reports / "allure-results").iterdir()}
    junit = (reports / "junit.xml").read_bytes()
    result = pytester.runpytest("features/release.feature", "--env", "local", "--collect-only", "-q")
    assert result.ret == 0
    assert {p.name: p.read_bytes() for p in (reports / "allure-results").iterdir()} == before
    assert (reports / "junit.xml").read_bytes() == junit
