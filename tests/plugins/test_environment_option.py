"""--env / RELEASEGATE_ENV / ini selection; a bad option is a usage error before anything runs (exit 4, one line)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

import pytest
from support.release_project import Release

RUNBOOK = "name: {name}\nservices:\n  - name: api\n    base_url: http://127.0.0.1:9\n"
FEATURE = 'Feature: x\n  Scenario: y\n    Given the environment is "staging"\n'


def test_environment_variable_is_used_when_no_option(
    rg_project: Callable[..., pytest.Pytester], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester = rg_project(runbooks={"staging": RUNBOOK.format(name="staging")}, features={"x": FEATURE})
    monkeypatch.setenv("RELEASEGATE_ENV", "staging")
    result = pytester.runpytest("features/x.feature")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*releasegate: environment staging (from RELEASEGATE_ENV)*"])


def test_ini_default_is_used_last(rg_project: Callable[..., pytest.Pytester], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEASEGATE_ENV", raising=False)
    pytester = rg_project(
        runbooks={"staging": RUNBOOK.format(name="staging")},
        features={"x": FEATURE},
        ini_extra='releasegate_env = "staging"',
    )
    result = pytester.runpytest("features/x.feature")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*environment staging (from ini releasegate_env)*"])


def test_the_runbooks_folder_is_an_ini_setting(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(features={"x": FEATURE}, ini_extra='releasegate_runbooks_dir = "deploy/envs"')
    (pytester.path / "deploy" / "envs").mkdir(parents=True)
    (pytester.path / "deploy" / "envs" / "staging.yaml").write_text(RUNBOOK.format(name="staging"))
    result = pytester.runpytest("features/x.feature", "--env", "staging")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*environment staging (from --env), runbook deploy/envs/staging.yaml*"])
    result = pytester.runpytest("features/x.feature", "--env", "prod")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown environment 'prod' (from --env): no deploy/envs/prod.yaml;"
                                 " available environments: staging"])


def test_unknown_environment_is_a_usage_error(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(runbooks={"local": RUNBOOK.format(name="local")}, features={"x": FEATURE})
    result = pytester.runpytest_subprocess("features/x.feature", "--env", "prod")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: unknown environment 'prod' (from --env): no runbooks/prod.yaml; available environments: local"]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_schema_error_is_a_usage_error(rg_project: Callable[..., pytest.Pytester]) -> None:
    pytester = rg_project(
        runbooks={"bad": "name: bad\nservices:\n  - name: api\n    base_url: ftp://x\n"}, features={"x": FEATURE}
    )
    result = pytester.runpytest_subprocess("features/x.feature", "--env", "bad")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: runbooks/bad.yaml:4: services?0?.base_url: expected an http(s) URL*"])


def test_missing_variable_is_a_usage_error(
    rg_project: Callable[..., pytest.Pytester], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    pytester = rg_project(
        runbooks={"v": "name: v\nservices:\n  - name: api\n    base_url: ${NOT_SET_ANYWHERE}\n"},
        features={"x": FEATURE},
    )
    result = pytester.runpytest_subprocess("features/x.feature", "--env", "v")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: runbooks/v.yaml:4: services?0?.base_url needs environment variable NOT_SET_ANYWHERE*"]
    )


# --- every option is checked before anything runs ----------------------------------------------------------------

RUN = ("features/release.feature", "-p", "no:cacheprovider")
VERSION_HELP = "expected a version such as 1.4.0 or 2.0.0rc1 (PEP 440) or 1.1.0-errors (SemVer 2.0.0)"

BAD_OPTIONS = {
    "release-shell": (["--release", "1.0; touch MARKER"],
                      f"--release: {VERSION_HELP}, without spaces or shell characters, got '1.0; touch MARKER'"),
    "release-subshell": (["--release", "$(touch MARKER)"], "--release: *got '$(touch MARKER)'"),
    "release-backticks": (["--release", "`touch MARKER`"], "--release: *got '`touch MARKER`'"),
    "release-newline": (["--release", "1.0\nsigned: yes"], "--release: *got '1.0\\nsigned: yes'"),
    "release-space": (["--release", "1.1.0 "], "--release: *got '1.1.0 '"),
    "release-empty": (["--release", ""], f"--release: empty; {VERSION_HELP}"),
    "env-relative-path": (["--env", "../../x"], "unknown environment '../../x' (from --env): an environment is the"
                          " name of a runbook in runbooks, not a path; available environments: local"),
    "env-absolute-path": (["--env", "/tmp/x"], "unknown environment '/tmp/x' (from --env): *not a path*"),
    "env-empty": (["--env", ""], "unknown environment '' (from --env): the name is empty; available environments:"
                  " local"),
    "env-file-name": (["--env", "local.yaml"], "unknown environment 'local.yaml' (from --env): no"
                      " runbooks/local.yaml.yaml; available environments: local"),
    "signoff-folder": (["--signoff", "features"], "--signoff '*/features' is a folder; name a file"),
    "signoff-no-folder": (["--signoff", "ROOT/nonexistent/dir/x.md"], "--signoff 'ROOT/nonexistent/dir/x.md': the"
                          " folder 'ROOT/nonexistent/dir' does not exist; create it first"),
    "signoff-through-a-file": (["--signoff", "features/release.feature/x.md"], "--signoff '*/release.feature/x.md':"
                               " cannot use it: not a directory"),
    "signoff-nul": (["--signoff", "x\0y"], "--signoff '*x\\x00y': cannot use it: embedded null byte"),
    "signoff-empty": (["--signoff", ""], "--signoff '': empty; name the sign-off file, such as reports/signoff.md"),
    "approve-empty": (["--approve", ""], "--approve: empty; give a name, such as alice"),
    "approve-blank": (["--approve", "  "], "--approve: empty; give a name, such as alice"),
    "approve-newline": (["--approve", "alice\n| Approver | mallory |"], "--approve 'alice\\n| Approver | mallory |':"
                        " line breaks, tabs and control characters are not allowed"),
    "confirm-newline": (["--confirm", "Team notified=bob\nx"], "--confirm name 'bob\\nx': line breaks*"),
    "confirmations-empty": (["--confirmations", ""], "--confirmations: empty; name a YAML file of confirmations, or"
                            " drop the option"),
    "confirmations-nul": (["--confirmations", "x\0y"], "x\\x00y: cannot read the confirmations file: embedded null"
                          " byte"),
    "confirmations-folder": (["--confirmations", "features"], "features: the confirmations file is a folder; name a"
                             " file"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_a_bad_option_is_one_line_exit_4_and_nothing_runs(release: Callable[..., Release], case: str) -> None:
    project = release()
    args, expected = BAD_OPTIONS[case]
    args = [arg.replace("MARKER", str(project.root / "marker")).replace("ROOT", str(project.root)) for arg in args]
    result = project.pytester.runpytest(*RUN, "--env", "local", *args) if args[0] != "--env" \
        else project.pytester.runpytest(*RUN, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    expected = expected.replace("MARKER", str(project.root / "marker")).replace("ROOT", str(project.root))
    assert fnmatch.fnmatchcase(lines[0], "ERROR: " + expected), lines[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (project.root / "marker").exists()
    assert project.state() == {} and not (project.root / "reports").exists()
    assert not (project.root / "nonexistent").exists()


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("RELEASEGATE_ENV", "", "unknown environment '' (from RELEASEGATE_ENV): the name is empty;*"),
    ("RELEASEGATE_ENV", "../local", "unknown environment '../local' (from RELEASEGATE_ENV): *not a path*"),
    ("RELEASEGATE_APPROVED_BY", "ci\nbot", "RELEASEGATE_APPROVED_BY 'ci\\nbot': line breaks*"),
])
def test_the_environment_variables_of_options_are_checked_alike(
    release: Callable[..., Release], monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    project = release()
    monkeypatch.setenv(variable, value)
    result = project.pytester.runpytest(*RUN, *(["--env", "local"] if variable != "RELEASEGATE_ENV" else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: " + expected])
    assert project.state() == {}


@pytest.mark.parametrize("version", ["2.0.0rc1", "1.1.0-errors", "1.4.0+build.5"])
def test_a_good_release_version_is_used_as_written(release: Callable[..., Release], version: str) -> None:
    project = release()
    result = project.pytester.runpytest(*RUN, "--env", "local", "--release", version)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"releasegate: environment local (from --env), runbook runbooks/local.yaml, release"
                                 f" 1.0.0 -> {version}"])
    assert f"| Version to | {version} |" in project.signoff()


def test_signoff_in_an_existing_folder_is_written_there(release: Callable[..., Release]) -> None:
    project = release()
    (project.root / "records").mkdir()
    result = project.pytester.runpytest(*RUN, "--env", "local", "--signoff", "records/x.md")
    assert result.ret == 0, result.stdout.str()
    assert "# Release sign-off: PROMOTED" in (project.root / "records" / "x.md").read_text()
