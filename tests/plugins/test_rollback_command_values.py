"""A runbook rollback command gets {version} and {previous_version} quoted in; its template stays the runbook's."""

from __future__ import annotations

from collections.abc import Callable

from support.release_project import RUNBOOK, Release, feature

RUN = ("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
COMMAND = ("rollback:\n  commands:\n    - stage: deploy\n"
           "      run: printf '%s %s\\n' {version} {previous_version} >> command.log\n")


def test_the_rollback_command_gets_the_release_versions_quoted_in(release: Callable[..., Release]) -> None:
    project = release(feature('deploy health" fails'), runbook=RUNBOOK + COMMAND)
    result = project.pytester.runpytest(*RUN)
    assert result.ret == 1
    assert (project.root / "command.log").read_text() == "1.1.0 1.0.0\n"
    # the plan keeps the runbook's template and the values apart
    recorded = [step.params for step in project.journal().plan() if step.action == "command"]
    assert [p["run"] for p in recorded] == ["printf '%s %s\\n' {version} {previous_version} >> command.log"]
    assert recorded[0]["values"] == {"version": "1.1.0", "previous_version": "1.0.0"}


def test_an_unsafe_rollback_command_is_a_one_line_error_before_anything_runs(release: Callable[..., Release]) -> None:
    unsafe = COMMAND.replace("{previous_version}", "'{previous_version}'")
    project = release(feature('deploy health" fails'), runbook=RUNBOOK + unsafe)
    result = project.pytester.runpytest_subprocess(*RUN)  # its own process: no secret an earlier test registered
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: *runbooks/local.yaml:*: rollback.commands[[]0[]].run: a placeholder stands"
                                 " inside quotes*"])
    assert not (project.root / "state.json").exists() and not (project.root / "command.log").exists()
