"""--dry-run is inert by construction: only steps declared read-only run, whatever the stage tag.

Every step of these features that is not read-only for its arguments would leave a marker file
(a local steps module of changing, undeclared and conditionally read-only steps, and runbook
commands that touch a file). After ``--dry-run`` no marker exists and the plan names each one;
the same project without ``--dry-run`` leaves them all, so the markers prove something.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.release_project import Release

STEPS = '''
from pathlib import Path

from pytest_bdd import given, parsers, step, then

from releasegate.plugins.dryrun import changes, read_only, read_only_when

MARKERS = Path({root!r}) / "markers"
ASKED = []


def _mark(name):
    (MARKERS / name).write_text("changed")


@step(parsers.parse('the marker "{{name}}" is written'))
@changes
def write_marker(name):
    """Write a marker file."""
    _mark(name)


@given(parsers.parse('the undeclared step writes the marker "{{name}}"'))
def undeclared(name):
    _mark(name)


def _unless_look(arguments, runbook):
    return None if arguments["mode"] == "look" else "mode " + arguments["mode"] + " writes"


@then(parsers.parse('the marker "{{name}}" is handled with "{{mode}}"'))
@read_only_when(_unless_look)
def handle(name, mode):
    if mode != "look":
        _mark(name)


def _broken(arguments, runbook):
    raise RuntimeError("cannot tell")


@given(parsers.parse('the broken declaration writes the marker "{{name}}"'))
@read_only_when(_broken)
def broken(name):
    _mark(name)


def _first_answer_only(arguments, runbook):
    ASKED.append(arguments["name"])
    return None if len(ASKED) == 1 else "changed its mind"


@given(parsers.parse('the fickle step writes the marker "{{name}}"'))
@read_only_when(_first_answer_only)
def fickle(name):
    _mark(name)


@then("nothing is written")
@read_only
def nothing():
    pass
'''

RUNBOOK = """
name: local
release:
  version: "1.1.0"
  previous_version: "1.0.0"
services:
  - name: api
    base_url: http://127.0.0.1:9
commands:
  touch-marker: touch {root}/markers/command
  mapped:
    run: touch {root}/markers/mapped
  look:
    run: ls {root}/markers
    read_only: true
"""

FEATURE = """
Feature: Release
  @preflight @critical
  Scenario: preflight runs a runbook command
    Then the command "touch-marker" succeeds

  @preflight
  Scenario: preflight runs a mapped command without the read-only mark
    Then the command "mapped" succeeds

  @preflight
  Scenario: preflight runs a command as written
    Then the command "touch {root}/markers/as-written" succeeds

  @preflight
  Scenario: preflight runs a read-only command
    Then the command "look" succeeds

  @preflight
  Scenario: preflight uses an undeclared step
    Given the undeclared step writes the marker "undeclared"

  @preflight
  Scenario: preflight uses a declaration that fails
    Given the broken declaration writes the marker "broken"

  @preflight @manual
  Scenario: manual item with a changing step
    Given the marker "manual" is written

  @preflight
  Scenario: a read-only step then a changing one
    Then the marker "first" is handled with "look"
    And the marker "mixed" is written

  @preflight
  Scenario Outline: one row reads, one row writes
    Then the marker "<name>" is handled with "<mode>"

    Examples:
      | name      | mode  |
      | row-look  | look  |
      | row-write | write |

  @deploy
  Scenario: deploy the new version
    Given the marker "deploy" is written
"""

BACKGROUND_FEATURE = """
Feature: A changing background
  Background:
    Given the marker "background" is written

  @preflight
  Scenario: a read-only check under a changing background
    Then nothing is written
"""

MARKERS = ["command", "mapped", "as-written", "undeclared", "broken", "manual", "mixed", "row-write", "deploy",
           "background"]
CONFIRM = ("--confirm", "manual item with a changing step=alice")


@pytest.fixture
def project(rg_project: Callable[..., pytest.Pytester]) -> pytest.Pytester:
    pytester = rg_project(steps="")
    root = str(pytester.path)
    (pytester.path / "local_steps.py").write_text(STEPS.format(root=root))
    (pytester.path / "runbooks").mkdir()
    (pytester.path / "runbooks" / "local.yaml").write_text(RUNBOOK.format(root=root))
    (pytester.path / "features").mkdir()
    (pytester.path / "features" / "release.feature").write_text(FEATURE.format(root=root))
    (pytester.path / "features" / "background.feature").write_text(BACKGROUND_FEATURE)
    (pytester.path / "markers").mkdir()
    return pytester


def markers(pytester: pytest.Pytester) -> list[str]:
    return sorted(p.name for p in (pytester.path / "markers").iterdir())


def test_dry_run_runs_no_step_that_changes_anything_and_the_plan_names_each(project: pytest.Pytester) -> None:
    result = project.runpytest("features", "--env", "local", "--dry-run", "-v", "-rs", "-p", "no:cacheprovider",
                               *CONFIRM)
    output = result.stdout.str()
    assert markers(project) == [], output
    assert result.ret == 0, output
    result.assert_outcomes(passed=2, skipped=10)  # the read-only command and the reading row of the Outline
    result.stdout.fnmatch_lines([
        "  - preflight runs a runbook command @critical: SKIPPED in dry run (not a read-only check)",
        "      would: Then the command \"touch-marker\" succeeds (line 5) - The command (runbook commands.NAME,*"
        f"[[]runs 'touch {project.path}/markers/command' (runbook commands.touch-marker), which is not marked"
        " read_only: true[]]",
        "      would: Then the command \"mapped\" succeeds (line 9)*which is not marked read_only: true[]]",
        f"      would: Then the command \"touch {project.path}/markers/as-written\" succeeds*as written (not in the"
        " runbook's commands:)*",
        "  - preflight runs a read-only command: runs (read-only)",
        "      would: Given the undeclared step writes the marker \"undeclared\" (line 21) [[]local_steps.undeclared"
        " is not declared read-only[]]",
        "      would: Given the broken declaration writes the marker \"broken\"*[[]its read-only declaration failed:"
        " RuntimeError: cannot tell[]]",
        "  - manual item with a changing step @manual: SKIPPED in dry run (not a read-only check)",
        "      would: Given the marker \"manual\" is written (line 29) - Write a marker file. [[]declared as changing"
        " things[]]",
        "  - a read-only step then a changing one: SKIPPED in dry run (not a read-only check)",
        "      would: And the marker \"mixed\" is written (line 34)*",
        "  - one row reads, one row writes: runs (read-only)",
        "  - one row reads, one row writes: SKIPPED in dry run (not a read-only check)",
        "      would: Then the marker \"row-write\" is handled with \"write\" (line 38) [[]mode write writes[]]",
        "  - deploy the new version: SKIPPED in dry run (deploy stage changes the environment)",
        "      would: Given the marker \"deploy\" is written*",
        "decision: DRY RUN*",
    ])
    assert "would: Then the marker \"first\"" not in output  # a read-only step is not a change
    assert "would: Given the marker \"background\" is written" in output

    # the same project, for real: every one of those steps does leave its marker
    project.runpytest("features", "--env", "local", "-p", "no:cacheprovider", *CONFIRM)
    assert markers(project) == sorted(MARKERS)


def test_dry_run_under_xdist_runs_no_step_that_changes_anything(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("features", "--env", "local", "--dry-run", "-n", "2",
                                          "-p", "no:cacheprovider", *CONFIRM)
    assert markers(project) == [], result.stdout.str()
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2, skipped=10)


def test_the_declaration_is_asked_again_right_before_the_step_is_called(project: pytest.Pytester) -> None:
    (project.path / "features" / "release.feature").write_text(
        "Feature: x\n  @preflight\n  Scenario: fickle\n    Given the fickle step writes the marker \"fickle\"\n")
    (project.path / "features" / "background.feature").unlink()
    result = project.runpytest("features", "--env", "local", "--dry-run", "-rs", "-p", "no:cacheprovider")
    assert markers(project) == []
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["  - fickle: runs (read-only)",
                                 "*dry run: Given the fickle step writes the marker \"fickle\": changed its mind*"])


def test_dry_run_rollback_only_prints_the_plan_and_runs_nothing(release: Callable[..., Release]) -> None:
    project = release(feature_text="""
Feature: Release
  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the fake check "deploy health" fails

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before
""")
    died = project.pytester.runpytest("features/release.feature", "--env", "local", "--no-rollback",
                                      "-p", "no:cacheprovider")
    assert died.ret == 10, died.stdout.str()
    journals = project.root / "reports" / "journal"
    journal = project.journal()
    before = journal.path.read_bytes()
    latest = (journals / "latest").read_text()

    result = project.pytester.runpytest("features/release.feature", "--env", "local", "--rollback-only", "--dry-run",
                                        "-rs", "-p", "no:cacheprovider")
    output = result.stdout.str()
    assert project.rollbacks() == [], output
    assert project.state() == {"migrate": "changed", "deploy": "changed"}
    assert journal.path.read_bytes() == before  # the dead run's journal is only read
    assert (journals / "latest").read_text() == latest
    assert not journal.lock_path.exists()
    assert result.ret == 0, output
    result.stdout.fnmatch_lines([
        "  - previous version serving: SKIPPED in dry run (runs only after a rollback)",
        f"*releasegate dry run: the rollback plan of run {journal.run_id}*",
        "--rollback-only would run, newest first (nothing runs now):",
        '  - would run: deploy: test.record {"stage": "deploy"} - Undo a fake stage*',
        '  - would run: migrate: test.record {"stage": "migrate"} - Undo a fake stage*',
        "decision: DRY RUN*",
    ])

    # the plan is still there for the real --rollback-only, which runs it once
    done = project.pytester.runpytest("features/release.feature", "--env", "local", "--rollback-only",
                                      "-p", "no:cacheprovider")
    assert done.ret == 1, done.stdout.str()
    assert [r["stage"] for r in project.rollbacks()] == ["deploy", "migrate"]
    again = project.pytester.runpytest("--env", "local", "--rollback-only", "--dry-run", "-p", "no:cacheprovider")
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines([f"*--rollback-only: nothing to roll back: run {journal.run_id} was rolled back"
                                " already*"])
    assert len(project.rollbacks()) == 2


def test_dry_run_rollback_only_without_a_journal_is_one_line(release: Callable[..., Release]) -> None:
    project = release()
    result = project.pytester.runpytest("--env", "local", "--rollback-only", "--dry-run", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --rollback-only: nothing to roll back: no run in */reports/journal journaled"
                                 " a change that is not rolled back"])
    assert not Path(project.root / "reports" / "journal").exists()
