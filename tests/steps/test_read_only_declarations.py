"""Every shipped step declares whether it changes anything; the declarations say what the phrases do."""

from __future__ import annotations

import fnmatch
import importlib

import pytest
from pytest_bdd.parser import Step
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from releasegate import steps
from releasegate.checks.preflight import commands
from releasegate.checks.runbook.model import HostCommand, Runbook
from releasegate.plugins.dryrun import declaration, why_it_changes


def shipped() -> list[StepFunctionContext]:
    for name in steps.__all__:
        importlib.import_module(f"releasegate.steps.{name}")
    return [context for context in step_function_context_registry.values()
            if context.step_func.__module__.startswith("releasegate.steps.")]


def test_every_shipped_step_is_declared() -> None:
    contexts = shipped()
    assert len({context.step_func for context in contexts}) > 90  # every module was read
    undeclared = sorted({f"{c.step_func.__module__}.{c.step_func.__name__}" for c in contexts
                         if declaration(c.step_func) is None})
    assert undeclared == []


RUNBOOK = Runbook(name="local", commands={"make lint": HostCommand(run="ruff check .", read_only=True),
                                          "make deploy": HostCommand(run="./deploy.sh")})


def why(text: str, runbook: Runbook | None = RUNBOOK) -> str | None:
    step = Step(name=text, type="then", indent=0, line_number=1, keyword="Then ")
    matching = [c for c in shipped() if c.parser.is_matching(text)]
    assert matching, text
    return why_it_changes(step, matching, runbook)


@pytest.mark.parametrize("text", [
    'the environment variable "API_KEY" is set',
    '"docker" is installed at version 20.10 or later',
    'the file "config.yaml" exists and is valid YAML',
    "the database accepts connections",
    '"api" answers GET "/health" with status 200',
    '"api" answers head "/health" with status 200 within 5 seconds',
    'the command "make lint" succeeds',
    'the command "make lint" prints "All checks passed"',
    "the image for the release exists",
    '"api" serves version "1.1.0"',
    "no request failed during the switch",
    "the schema version is recorded",
    'the error rate of "api" stays below 1% for 2 minutes',
    "the load stage passed its thresholds",
    "a person has confirmed this item",
    'the environment is "prod"',
])
def test_read_only_phrases(text: str) -> None:
    assert why(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ('"api" answers POST "/items" with status 201', "sends an HTTP POST request"),
    ('"api" answers delete "/items/1" with status 204', "sends an HTTP DELETE request"),
    ('the command "make deploy" succeeds', "runs './deploy.sh' (runbook commands.make deploy), which is not marked"
                                           " read_only: true"),
    ('the command "make" succeeds', "runs 'make' as written (not in the runbook's commands:)*"),
    ("the release is deployed", "declared as changing things"),
    ("the release is deployed with the canary strategy", "declared as changing things"),
    ("the traffic is switched to the new version", "declared as changing things"),
    ("the traffic is switched back to the previous version", "declared as changing things"),
    ("the migrations are applied", "declared as changing things"),
    ("the migrations are reversible", "declared as changing things"),
    ("a verified backup of the database is taken", "declared as changing things"),
    ("backups older than 7 days are removed", "declared as changing things"),
    ('the team is notified in "#releases"', "declared as changing things"),
    ('the load profile "steady" runs', "declared as changing things"),
])
def test_changing_phrases(text: str, expected: str) -> None:
    found = why(text)
    assert found is not None and fnmatch.fnmatchcase(found, expected), found


def test_a_command_runs_in_a_dry_run_only_when_the_runbook_marks_it_read_only() -> None:
    assert commands.why_not_read_only("make lint", RUNBOOK) is None
    assert commands.why_not_read_only("make lint", None) is not None  # no runbook: run as written
    marked = Runbook.model_validate({"name": "x", "commands": {"look": {"run": "ls", "read_only": True},
                                                               "short": "ls"}})
    assert commands.why_not_read_only("look", marked) is None
    assert commands.why_not_read_only("short", marked) == ("runs 'ls' (runbook commands.short), which is not marked"
                                                           " read_only: true")
