"""A throw-away release project with a recording rollback action, for the rollback/safety/sign-off tests.

The project uses releasegate's real plugins (the repository's conftest) plus a small steps module:
a fake stage changes ``state.json`` and records the undo action ``test.record``, which appends one
line per call to ``rollbacks.log`` and restores ``state.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks.run.journal import Journal

STEPS = '''
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pytest_bdd import given, parsers, then, when

from releasegate.checks.result import CheckResult
from releasegate.checks.run.rollback_plan import register_action
from releasegate.plugins.dryrun import read_only

ROOT = Path({root!r})
STATE = ROOT / "state.json"


def _state():
    return json.loads(STATE.read_text()) if STATE.exists() else {{}}


def record_rollback(params):
    """Undo a fake stage: log the call and take the stage out of state.json."""
    with open(ROOT / "rollbacks.log", "a") as log:
        log.write(json.dumps({{"stage": params["stage"], "pid": os.getpid(), "ts": time.time()}}) + "\\n")
    if params.get("fail"):
        return CheckResult.fail("rollback " + params["stage"], observed="still new", expected="previous version")
    state = _state()
    state.pop(params["stage"], None)
    STATE.write_text(json.dumps(state))
    return CheckResult.ok("rollback " + params["stage"], observed="previous version", expected="previous version")


register_action("test.record", record_rollback)


@given(parsers.parse('the fake stage "{{stage}}" changes the state'))
def change_state(stage, release_journal):
    state = _state()
    state[stage] = "changed"
    STATE.write_text(json.dumps(state))
    release_journal.stage_completed("test.record", {{"stage": stage}})


@given(parsers.parse('the fake stage "{{stage}}" changes the state with an undo that fails'))
def change_state_bad_undo(stage, release_journal):
    state = _state()
    state[stage] = "changed"
    STATE.write_text(json.dumps(state))
    release_journal.stage_completed("test.record", {{"stage": stage, "fail": True}})


@read_only
@then(parsers.parse('the fake check "{{name}}" passes'))
def check_passes(name, evidence):
    evidence.require(CheckResult.ok(name, observed=200, expected=200))


@then(parsers.parse('the fake check "{{name}}" fails'))
def check_fails(name, evidence):
    evidence.require(CheckResult.fail(name, observed="HTTP 500", expected="HTTP 200"))


@then(parsers.parse('the fake check "{{name}}" is inconclusive'))
def check_inconclusive(name, evidence):
    evidence.require(CheckResult.unknown(name, "target unreachable", expected="HTTP 200"))


@then(parsers.parse('the fake check "{{name}}" fails showing the variable "{{variable}}"'))
def check_fails_showing(name, variable, evidence):
    evidence.require(CheckResult.fail(name, observed=os.environ[variable], expected="something else"))


@then("the worker process dies")
def worker_dies():
    os._exit(17)


@when(parsers.parse("the run waits {{seconds:g}} seconds"))
def run_waits(seconds):
    (ROOT / "waiting").write_text(str(os.getpid()))
    time.sleep(seconds)


@then("the state is back to before")
def state_restored(evidence):
    evidence.require(CheckResult.judge("state restored", _state() == {{}}, _state(), {{}}))
'''

RUNBOOK = """
name: local
release:
  version: "1.1.0"
  previous_version: "1.0.0"
services:
  - name: api
    base_url: http://127.0.0.1:9
"""

# Written in a scrambled order on purpose: the plugin runs stages in release order.
FEATURE = """
Feature: Release
  @smoke @critical
  Scenario: smoke checks pass
    Then the fake check "smoke" passes

  @post-rollback
  Scenario: previous version serving
    Then the state is back to before

  @preflight @critical
  Scenario: preflight checks pass
    Then the fake check "preflight" passes

  @deploy @critical
  Scenario: deploy the new version
    Given the fake stage "deploy" changes the state
    Then the fake check "{deploy_check}"

  @migrate @critical
  Scenario: migrate the schema
    Given the fake stage "migrate" changes the state
    Then the fake check "migration" passes

  @load
  Scenario: load test
    Then the fake check "{load_check}"
"""


def feature(deploy_check: str = "deploy health\" passes", load_check: str = "load\" passes") -> str:
    return FEATURE.replace('{deploy_check}"', deploy_check).replace('{load_check}"', load_check)


@dataclass
class Release:
    pytester: pytest.Pytester

    @property
    def root(self) -> Path:
        return self.pytester.path

    def journal(self) -> Journal:
        journal = Journal.latest(self.root / "reports" / "journal")
        assert journal is not None, "no journal written"
        return journal

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.journal().events(kind)

    def rollbacks(self) -> list[dict[str, Any]]:
        log = self.root / "rollbacks.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def signoff(self) -> str:
        return (self.root / "reports" / "signoff.md").read_text()
