"""--dry-run, approval of destructive stages, @manual confirmations, sign-off content."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support.release_project import RUNBOOK, Release, feature

RUN = ("features/release.feature", "--env", "local", "-v", "-rs", "-p", "no:cacheprovider")

SECRET_RUNBOOK = RUNBOOK + """
database:
  dsn: postgresql://app:${RG_TEST_DB_PASSWORD}@127.0.0.1:5/app
rollback:
  commands:
    - stage: deploy
      run: ./rollback.sh --to 1.0.0
"""

MANUAL_FEATURE = """
Feature: Release
  @preflight @manual
  Scenario: Code review approved by at least 2 reviewers

  @preflight @manual
  Scenario: Team notified
    Given a person has confirmed this item

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the fake check "deploy health" passes
"""


def test_dry_run_prints_the_plan_changes_nothing_and_exits_0(release: Callable[..., Release],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_TEST_DB_PASSWORD", "hunter2-very-secret")
    project = release(feature('deploy health" fails'), runbook=SECRET_RUNBOOK)
    state_before = sorted(p.name for p in project.root.iterdir())
    result = project.pytester.runpytest(*RUN, "--dry-run")
    assert result.ret == 0, result.stdout.str()
    # nothing changed: no state file, no rollback, and no journal pointer a later --rollback-only could pick up
    assert not (project.root / "state.json").exists()
    assert project.rollbacks() == []
    assert not (project.root / "reports" / "journal" / "latest").exists()
    assert sorted(p.name for p in project.root.iterdir() if p.name[0] != "." and p.name != "reports") == [
        n for n in state_before if n[0] != "." and n != "reports"]
    result.stdout.fnmatch_lines([
        "*releasegate dry run: the plan*",
        "environment local: release 1.0.0 -> 1.1.0; approval required: False",
        "stage preflight:",
        "  - preflight checks pass @critical: runs (read-only)",
        "stage migrate:",
        "  - migrate the schema @critical: SKIPPED in dry run (migrate stage changes the environment)",
        "stage deploy:",
        "    on rollback: command './rollback.sh --to 1.0.0'",
        "  - deploy the new version @critical: SKIPPED in dry run (deploy stage changes the environment)",
        "stage smoke:",
        "  - smoke checks pass @critical: SKIPPED in dry run (checks the result of a stage that the dry run skips)",
        "*database rollback policy app-only*",
        "*rollback actions*",
        "  - command: Run the shell command of a runbook's rollback section*",
        "  - test.record: Undo a fake stage*",
        "runbook (resolved, secrets masked):",
        "*dsn: postgresql://app:*****@127.0.0.1:5/app",
    ])
    assert "hunter2-very-secret" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*test_migrate_the_schema SKIPPED (dry run*", "decision: DRY RUN*"])
    result.assert_outcomes(passed=1, skipped=5)


def test_approval_is_required_for_destructive_stages(release: Callable[..., Release],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEASEGATE_APPROVED_BY", raising=False)
    project = release(runbook=RUNBOOK + "require_approval: true\n")
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*runbook requires approval; NOT approved*",
        "*test_migrate_the_schema SKIPPED*",
        "decision: BLOCKED - release halted: approval required for migrate the schema; nothing was changed",
        "*approval required: runbook local has require_approval: true; pass --approve NAME or set"
        " RELEASEGATE_APPROVED_BY*",
        "*release halted: approval required for migrate the schema*",
    ])
    assert project.state() == {}


def test_approval_from_ci_variable_or_option_is_recorded(release: Callable[..., Release],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    project = release(runbook=RUNBOOK + "require_approval: true\n")
    monkeypatch.setenv("RELEASEGATE_APPROVED_BY", "carol")
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 0
    started = project.events("run_started")[0]
    assert (started["approver"], started["approval_source"]) == ("carol", "RELEASEGATE_APPROVED_BY")
    assert "| Approver | carol (RELEASEGATE_APPROVED_BY) (approval required) |" in project.signoff()
    result = project.pytester.runpytest(*RUN, "--approve", "dave")
    assert project.events("run_started")[0]["approver"] == "dave"


def test_rollback_only_is_refused_without_approval(release: Callable[..., Release],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEASEGATE_APPROVED_BY", raising=False)
    project = release(runbook=RUNBOOK + "require_approval: true\n")
    result = project.pytester.runpytest("--env", "local", "--rollback-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: runbook local has require_approval: true; --rollback-only changes the"
                                 " environment: pass --approve NAME or set RELEASEGATE_APPROVED_BY"])


def test_manual_items_are_pending_without_a_confirmation(release: Callable[..., Release]) -> None:
    project = release(MANUAL_FEATURE)
    result = project.pytester.runpytest(*RUN)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*pending manual confirmation: Code review approved by at least 2 reviewers*"])
    assert result.ret == 0
    signoff = project.signoff()
    assert "- Code review approved by at least 2 reviewers (pending manual confirmation: not passed)" in signoff
    assert "- Team notified (pending manual confirmation: not passed)" in signoff


def test_manual_items_pass_with_recorded_confirmations(release: Callable[..., Release]) -> None:
    project = release(MANUAL_FEATURE)
    (project.root / "confirmations.yaml").write_text(
        "confirmations:\n"
        "  - item: code review approved by at least 2 reviewers\n"
        "    by: alice\n"
        "    at: 2026-11-22T09:00:00Z\n")
    result = project.pytester.runpytest(*RUN, "--confirmations", "confirmations.yaml", "--confirm", "Team notified=bob")
    result.assert_outcomes(passed=3)
    signoff = project.signoff()
    assert "## Pending manual items\nNone." in signoff
    assert "- Code review approved by at least 2 reviewers: confirmed by alice at 2026-11-22T09:00:00" in signoff
    assert "- Team notified: confirmed by bob at " in signoff
    junit = (project.root / "reports" / "junit.xml").read_text()
    assert "confirmed by alice" in junit


def test_pending_critical_manual_item_blocks_the_release(release: Callable[..., Release]) -> None:
    project = release(MANUAL_FEATURE.replace("@preflight @manual\n  Scenario: Team", "@preflight @manual @critical\n"
                                             "  Scenario: Team"))
    result = project.pytester.runpytest(*RUN, "--confirm", "Code review approved by at least 2 reviewers=alice")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["decision: BLOCKED - release halted: manual item pending confirmation: Team*"])
    assert project.state() == {}


def test_bad_confirmations_file_is_one_line_error(release: Callable[..., Release]) -> None:
    project = release(MANUAL_FEATURE)
    (project.root / "confirmations.yaml").write_text("- item: Team notified\n  by: bob\n")
    result = project.pytester.runpytest(*RUN, "--confirmations", "confirmations.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: confirmations.yaml: entry 1 (Team notified): every confirmation needs item,"
                                 " by and at (who confirmed it and when)"])


def test_signoff_has_evidence_versions_and_no_secrets_and_reaches_allure(release: Callable[..., Release],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_TEST_API_TOKEN", "tok-abcdef-123456")
    runbook = RUNBOOK + "    env:\n      API_TOKEN: ${RG_TEST_API_TOKEN}\n"
    text = feature().replace('Then the fake check "deploy health" passes',
                             'Then the fake check "deploy health" fails showing the variable "RG_TEST_API_TOKEN"')
    project = release(text, runbook=runbook)
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    signoff = project.signoff()
    for expected in ("# Release sign-off: ROLLED BACK", "| Environment | local |", "| Version from | 1.0.0 |",
                     "| Version to | 1.1.0 |", "| Git SHA |", "**deploy the new version** (deploy, critical): FAIL",
                     "evidence: deploy health: FAIL (observed *****, expected something else)",
                     "Outcome PASS, 2 action(s), duration "):
        assert expected in signoff
    assert "tok-abcdef-123456" not in signoff
    assert "tok-abcdef-123456" not in "".join(p.read_text() for p in (project.root / "reports").rglob("*.json*"))
    results = [json.loads(p.read_text()) for p in (project.root / "reports" / "allure-results").glob("*-result.json")]
    signoff_results = [r for r in results if r["name"] == "Release sign-off: ROLLED BACK"]
    assert len(signoff_results) == 1 and signoff_results[0]["status"] == "failed"
    attachment = project.root / "reports" / "allure-results" / signoff_results[0]["attachments"][0]["source"]
    assert attachment.read_text() == signoff


def test_dry_run_under_xdist_changes_nothing(release: Callable[..., Release]) -> None:
    project = release(feature('deploy health" fails'))
    result = project.pytester.runpytest_subprocess("features/release.feature", "--env", "local", "--dry-run",
                                                   "-n", "2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*releasegate dry run: the plan*", "*rollback actions*",
                                 "*run --dry-run without -n to list them*", "decision: DRY RUN*"])
    assert not (project.root / "state.json").exists()
    assert project.rollbacks() == []


def test_dry_run_runs_scenarios_made_of_read_only_steps(release: Callable[..., Release]) -> None:
    text = """
Feature: Verify a running release
  @smoke
  Scenario: read-only smoke check
    Then the fake check "smoke" passes

  @smoke
  Scenario: smoke check that is not declared read-only
    Then the fake check "other" fails
"""
    project = release(text)
    result = project.pytester.runpytest(*RUN, "--dry-run")
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["  - read-only smoke check: runs (read-only)",
                                 "  - smoke check that is not declared read-only: SKIPPED in dry run (not a read-only"
                                 " check)"])


def test_dry_run_runs_a_preflight_command_only_when_the_runbook_marks_it_read_only(
        release: Callable[..., Release]) -> None:
    text = """
Feature: Release
  @preflight @critical
  Scenario: the build passes
    Then the command "make" succeeds

  @preflight
  Scenario: the tree is clean
    Then the command "git status" succeeds
"""
    runbook = RUNBOOK + "commands:\n  make: touch made\n  git status:\n    run: touch looked\n    read_only: true\n"
    project = release(text, runbook=runbook)
    result = project.pytester.runpytest(*RUN, "--dry-run")
    assert result.ret == 0, result.stdout.str()
    assert not (project.root / "made").exists()
    assert (project.root / "looked").exists()  # marked read_only: true, so it ran
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["  - the build passes @critical: SKIPPED in dry run (not a read-only check)",
                                 "      would: Then the command \"make\" succeeds (line 5)*[[]runs 'touch made'"
                                 " (runbook commands.make), which is not marked read_only: true[]]"])
