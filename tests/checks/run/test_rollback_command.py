"""The runbook rollback command runner (rollback_plan.run_command): values quoted in, no shell=True."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from support import hostile

from releasegate.checks.run import rollback_plan
from releasegate.checks.run.journal import Journal


def test_hostile_versions_and_a_hostile_folder_run_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = hostile.hostile_folder(tmp_path / "cwd")
    out = tmp_path / "out"
    template = f"printf '%s|%s\\n' {{version}} {{previous_version}} > {shlex.quote(str(out))}"
    for value, _ in hostile.values(tmp_path / "markers"):
        result = rollback_plan.run_command({"run": template, "values": {"version": value, "previous_version": value},
                                            "cwd": str(folder), "timeout_s": 30})
        assert result.passed, result.summary()
        assert out.read_bytes().decode() == f"{value}|{value}\n"
    assert hostile.left_behind(tmp_path) == []


def test_the_command_runs_in_its_folder_and_its_own_shell_syntax_still_works(tmp_path: Path) -> None:
    folder = hostile.hostile_folder(tmp_path / "cwd")
    result = rollback_plan.run_command({"run": "pwd > here && echo {version} | tr . - >> here",
                                        "values": {"version": "1.0.0"}, "cwd": str(folder)})
    assert result.passed, result.summary()
    assert (folder / "here").read_text() == f"{folder}\n1-0-0\n"
    assert hostile.left_behind(tmp_path) == []


def test_a_placeholder_without_a_value_fails_the_action_without_running_it(tmp_path: Path) -> None:
    result = rollback_plan.run_command({"run": "touch ran; ./rollback.sh --to {previous_version}",
                                        "values": {"version": "1.1.0", "previous_version": None}, "cwd": str(tmp_path)})
    assert result.failed
    assert "not run" in result.observed and "{previous_version}" in result.observed
    assert not (tmp_path / "ran").exists()


def test_a_template_that_is_unsafe_in_the_journal_is_not_run(tmp_path: Path) -> None:
    """A plan read back from a journal (--rollback-only) is checked again: the runbook model is not the only door."""
    journal = Journal.create(tmp_path / "journal")
    journal.stage_completed("deploy", "command", {"run": "touch ran; echo '{version}'",
                                                  "values": {"version": "1.0' ; touch ran2 ; '"}, "cwd": str(tmp_path)})
    report = rollback_plan.execute_plan(journal, trigger="test")
    assert report.outcome.value == "FAIL"
    assert "inside quotes" in report.summary()
    assert not (tmp_path / "ran").exists() and not (tmp_path / "ran2").exists()
