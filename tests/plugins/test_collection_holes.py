"""Feature files that would not run as they read are one-line collection errors, and nothing runs.

Each bad file sits beside a good release checklist whose deploy and migrate scenarios change
``state.json`` (support/release_project.py): an empty state after the run proves that no scenario
ran. A collection error ends with pytest's exit status 2, never PROMOTED, with and without xdist.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import RUNBOOK, Release

OUTLINE_MISSING_COLUMN = """
Feature: Bad
  Scenario Outline: environments
    Given the environment is "<env>"
    Examples:
      | envv  |
      | local |
"""

# (bad feature text, the one line that names it)
CASES = {
    "outline without the column": (
        OUTLINE_MISSING_COLUMN,
        "features/bad.feature:4: step 'Given the environment is \"<env>\"' of scenario 'environments' uses <env>,"
        " which the Examples at line 5 do not define (columns: envv); add the column or fix the name",
    ),
    "placeholder in a data table": (
        """
        Feature: Bad
          Scenario Outline: checks
            Then the fake check "<name>" passes
              | <who> |
            Examples:
              | name |
              | one  |
        """,
        "features/bad.feature:4: step 'Then the fake check \"<name>\" passes' of scenario 'checks' uses <who>,"
        " which the Examples at line 6 do not define (columns: name)*",
    ),
    "placeholder in the background": (
        """
        Feature: Bad
          Background:
            Given the environment is "<where>"

          Scenario Outline: environments
            Given the environment is "<env>"
            Examples:
              | env   |
              | local |
        """,
        "features/bad.feature:4: step 'Given the environment is \"<where>\"' of scenario 'environments' uses"
        " <where>, which the Examples at line 8 do not define (columns: env)*",
    ),
    "second Examples table without the column": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            Examples: first
              | env   |
              | local |
            Examples: second
              | nev   |
              | local |
        """,
        "features/bad.feature:4: * uses <env>, which the Examples at line 8 do not define (columns: nev)*",
    ),
    "Examples without rows": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            Examples:
              | env |
        """,
        "features/bad.feature:5: the Examples of scenario 'environments' have no rows below the header, so the"
        " scenario would never run; add a row per case",
    ),
    "Examples without a table": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            Examples:
        """,
        "features/bad.feature:5: the Examples of scenario 'environments' have no table; add a header row,*",
    ),
    "outline without Examples": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
        """,
        "features/bad.feature:3: Scenario Outline 'environments' has no Examples; add an Examples table*",
    ),
    "a column twice": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            Examples:
              | env   | env  |
              | local | prod |
        """,
        "features/bad.feature:5: the Examples of scenario 'environments' have the column 'env' twice",
    ),
    "two scenarios with one name": (
        """
        Feature: Bad
          Scenario: environment is right
            Given the environment is "local"

          Scenario: environment is right
            Given the release version is set
        """,
        "features/bad.feature:6: scenario 'environment is right' has the same name as the scenario at line 3;"
        " pytest-bdd would run only one of them: give each scenario its own name",
    ),
    "two scenarios with one name in two rules": (
        """
        Feature: Bad
          Rule: first
            Scenario: checked
              Given the environment is "local"
          Rule: second
            Scenario: checked
              Given the release version is set
        """,
        "features/bad.feature:7: scenario 'checked' has the same name as the scenario at line 4;*",
    ),
    "scenario without steps": (
        """
        Feature: Bad
          Scenario: nothing to check
        """,
        "features/bad.feature:3: scenario 'nothing to check' has no steps",
    ),
    "misspelt step keyword": (
        """
        Feature: Bad
          Scenario: environment is right
            Gven the environment is "local"
        """,
        "features/bad.feature:3: scenario 'environment is right' has no steps; the line 'Gven the environment is"
        " \"local\"' is read as its description: is its keyword misspelt?",
    ),
    "background with a misspelt keyword": (
        """
        Feature: Bad
          Background:
            Gvien the environment is "local"

          Scenario: version
            Given the release version is set
        """,
        "features/bad.feature:3: the Background has no steps; the line 'Gvien the environment is \"local\"' is*",
    ),
    "feature without scenarios": (
        """
        Feature: Bad
          Scenaro: environment is right
        """,
        "features/bad.feature:2: Feature 'Bad' has no scenarios (a misspelt 'Scenario:' is read as description);"
        " write its scenarios",
    ),
    "rule without scenarios": (
        """
        Feature: Bad
          Rule: the database
          Rule: the service
            Scenario: version
              Given the release version is set
        """,
        "features/bad.feature:3: Rule 'the database' has no scenarios; write its scenarios",
    ),
    "empty file": (
        "",
        "features/bad.feature:1: no Feature: the file is empty or only comments; write 'Feature:' and its"
        " scenarios, or delete the file",
    ),
    "comments only": (
        "# language: en\n# Feature: Bad\n\n   # Scenario: x\n",
        "features/bad.feature:1: no Feature: the file is empty or only comments;*",
    ),
    "unknown tag on Examples": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            @critcal
            Examples:
              | env   |
              | local |
        """,
        "features/bad.feature:3: unknown tag @critcal on scenario 'environments'; known tags: *",
    ),
    "inconsistent cell count": (
        """
        Feature: Bad
          Scenario Outline: environments
            Given the environment is "<env>"
            Examples:
              | env   |
              | local | prod |
        """,
        "features/bad.feature:7: Gherkin syntax error: * inconsistent cell count within the table (line: *)",
    ),
}


def assert_refused(release: Release, result: pytest.RunResult, line: str) -> None:
    """One line names the problem, nothing ran, the run is not PROMOTED and exits 2."""
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    result.stdout.fnmatch_lines([line])
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert "PROMOTED" not in output, output
    assert release.state() == {}, "a scenario ran despite the collection error"
    assert result.parseoutcomes().get("passed", 0) == 0, output


@pytest.mark.parametrize(("text", "line"), list(CASES.values()), ids=list(CASES))
def test_a_feature_that_would_not_run_as_written_is_one_line(
        release: Callable[..., Release], text: str, line: str) -> None:
    project = release(extra_features={"bad": text})
    result = project.pytester.runpytest("features/", "--env", "local")
    assert_refused(project, result, line)


@pytest.mark.parametrize(("content", "line"), [
    (b'Feature: Bad\n  Scenario: \xc3\xa0 la caf\xe9\n    Given the release version is set\n',
     "features/bad.feature:2: not UTF-8 (byte 0xe9 at column 21); save the feature file as UTF-8"),
    (b'\xff\xfeF\x00e\x00',
     "features/bad.feature:1: not UTF-8 (byte 0xff at column 1); save the feature file as UTF-8"),
], ids=["latin-1", "utf-16"])
def test_a_feature_file_that_is_not_utf8_is_one_line(
        release: Callable[..., Release], content: bytes, line: str) -> None:
    project = release()
    (project.root / "features" / "bad.feature").write_bytes(content)
    assert_refused(project, project.pytester.runpytest("features/", "--env", "local"), line)


def test_a_feature_file_that_cannot_be_read_is_one_line(
        release: Callable[..., Release], monkeypatch: pytest.MonkeyPatch) -> None:
    project = release(extra_features={"bad": "Feature: Bad\n"})
    bad, read_bytes = project.root / "features" / "bad.feature", Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path == bad:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)  # the run is in this process; root may read any file
    result = project.pytester.runpytest("features/", "--env", "local")
    assert_refused(project, result, "features/bad.feature: cannot read the feature file: Permission denied")


def test_broken_links_and_pipes_among_the_features_are_one_line_each(release: Callable[..., Release]) -> None:
    project = release()
    features = project.root / "features"
    (features / "gone.feature").symlink_to("nowhere.feature")
    (features / "loop.feature").symlink_to("loop.feature")
    os.mkfifo(features / "pipe.feature")
    result = project.pytester.runpytest("features/", "--env", "local")
    assert_refused(project, result, "features/gone.feature: cannot read the feature file: a broken link"
                                    " (No such file or directory)")
    result.stdout.fnmatch_lines([
        "features/loop.feature: cannot read the feature file: a broken link (Too many levels of symbolic links)",
        "features/pipe.feature: cannot read the feature file: not a regular file",
    ])


def test_a_byte_order_mark_comparisons_in_an_outline_and_manual_items_are_accepted(
        rg_project: Callable[..., pytest.Pytester]) -> None:
    outline = """
    Feature: Fine
      Background:
        Given the environment is "<where>"

      Scenario Outline: environments
        Given the environment is "<where>"
        And the release version is set
          | a < b > c | <where> |
        Examples: one
          | where |
          | local |
        Examples: two
          | where | unused |
          | local | x      |
    """
    manual = "Feature: Change\n  @preflight @manual\n  Scenario: change approved\n"
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"fine": outline, "manual": manual})
    (pytester.path / "features" / "bom.feature").write_bytes(
        b"\xef\xbb\xbfFeature: Caf\xc3\xa9\n  Scenario: with a mark\n    Given the release version is set\n")
    result = pytester.runpytest("features/", "--env", "local")
    result.assert_outcomes(passed=3, skipped=1)  # a @manual item needs no steps: it is confirmed, not run


FAILING_BACKGROUND = """
Feature: Release
  Background:
    Then the fake check "background" fails

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the fake check "deploy health" passes
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_failing_background_fails_its_scenario(release: Callable[..., Release], xdist: list[str]) -> None:
    project = release(FAILING_BACKGROUND)
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", *xdist)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*at features/release.feature:4 Then the fake check \"background\" fails*"])
    assert "PROMOTED" not in result.stdout.str()
    assert result.ret != 0
    assert project.state() == {}, "the scenario's steps ran after its Background failed"


@pytest.mark.parametrize(("text", "line"), [
    ('Feature: Bad\n  Scenario: typo\n    Given the enviroment is "local"\n',
     "features/bad.feature:3: no step definition for 'Given the enviroment is \"local\"' in scenario 'typo'*"),
    (OUTLINE_MISSING_COLUMN, CASES["outline without the column"][1]),
], ids=["step typo", "outline without the column"])
def test_under_xdist_a_collection_error_runs_nothing_and_exits_2(
        release: Callable[..., Release], text: str, line: str) -> None:
    project = release(extra_features={"bad": text})
    result = project.pytester.runpytest_subprocess("features/", "--env", "local", "-n", "2")
    assert_refused(project, result, f"*{line}")


def test_continue_on_collection_errors_is_refused_before_anything_is_written(
        release: Callable[..., Release]) -> None:
    project = release(extra_features={"bad": CASES["scenario without steps"][0]})
    result = project.pytester.runpytest("features/", "--env", "local", "--continue-on-collection-errors")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --continue-on-collection-errors: a release runs only when every feature"
                                 " file is collected; fix the collection errors instead"])
    assert project.state() == {}
    assert not (project.root / "reports").exists(), "a refused run wrote a record"
