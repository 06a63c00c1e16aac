"""--env / RELEASEGATE_ENV / ini selection and usage errors (exit 4, one line)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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
