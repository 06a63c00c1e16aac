"""Secrets never reach the terminal, JUnit XML or Allure results, even when a step prints them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

SECRET = "hunter2-very-secret-Zq9"
DSN_PASSWORD = "pw-in-dsn-77x"

RUNBOOK = """
name: local
services:
  - name: api
    base_url: http://127.0.0.1:9
database:
  dsn: postgresql://app:${DB_PASSWORD}@127.0.0.1:5/app
"""

STEPS = """
import logging
import os
from pytest_bdd import then
from releasegate.plugins.dryrun import read_only

@read_only  # it changes nothing: no release lock (whose database is unreachable here) is taken for it
@then("the step leaks secrets")
def leak(runbook):
    token = os.environ["API_TOKEN"]
    print("stdout has", token, runbook.database.dsn)
    logging.getLogger("leaky").warning("log has %s", token)
    raise AssertionError(f"failed with {token} and {runbook.database.dsn}")
"""

FEATURE = "Feature: leak\n  Scenario: leaky\n    Then the step leaks secrets\n"


def test_secrets_are_masked_everywhere(
    rg_project: Callable[..., pytest.Pytester], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("DB_PASSWORD", DSN_PASSWORD)
    pytester = rg_project(runbooks={"local": RUNBOOK}, features={"leak": FEATURE}, steps=STEPS)
    result = pytester.runpytest_subprocess("features/leak.feature", "--env", "local", "-rA", "-o", "log_level=INFO")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "*****" in output, "the failure should still be shown, masked"
    files = [p for p in (pytester.path / "reports").rglob("*") if p.is_file()]
    assert any(p.name == "junit.xml" for p in files)
    assert any(p.name.endswith("-result.json") for p in files)
    for text, where in [(output, "terminal")] + [(p.read_text(errors="replace"), str(p)) for p in files]:
        assert SECRET not in text, f"secret leaked in {where}"
        assert DSN_PASSWORD not in text, f"DSN password leaked in {where}"
