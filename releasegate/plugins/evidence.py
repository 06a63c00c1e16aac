"""Evidence for every check: attached to Allure, carried in user_properties, short failure text.

Steps call ``evidence.require(result)``: the result (observed vs expected, attempts, samples)
is attached to the Allure step as JSON and recorded in the test's ``user_properties`` (which
reach JUnit XML and survive the trip from xdist workers); a FAIL raises ``CheckFailed`` and an
INCONCLUSIVE raises ``CheckInconclusive``, whose report is one short paragraph naming the
feature line, the step and the check instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import allure
import pytest

from releasegate.checks import secrets
from releasegate.checks.result import CheckResult, Outcome

STEP_KEY = pytest.StashKey[tuple[str, int, str]]()
OUTCOME_PROPERTY = "releasegate_outcome"
EVIDENCE_PROPERTY = "releasegate_evidence"


class CheckFailed(AssertionError):
    """A check ran and its verdict is FAIL."""


class CheckInconclusive(AssertionError):
    """A check could not reach a verdict; the release must not go on as if it passed."""


class Evidence:
    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.results: list[CheckResult] = []

    def record(self, result: CheckResult) -> CheckResult:
        """Attach a result to the report without judging it."""
        self.results.append(result)
        body = secrets.redact(result.to_json())
        allure.attach(body, name=f"{result.outcome.value} {result.name}", attachment_type=allure.attachment_type.JSON)
        self.item.user_properties.append((EVIDENCE_PROPERTY, secrets.redact(result.summary())))
        return result

    def require(self, result: CheckResult, *, dry_run: bool = False) -> CheckResult:
        """Record a result and stop the scenario unless it passed (dry-run results are only shown)."""
        self.record(result)
        if dry_run or result.outcome is Outcome.PASS:
            return result
        if result.outcome is Outcome.INCONCLUSIVE:
            self.item.user_properties.append((OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value))
            raise CheckInconclusive(secrets.redact(result.summary()))
        raise CheckFailed(secrets.redact(result.summary()))

    def attach_text(self, name: str, text: str) -> None:
        allure.attach(secrets.redact(text), name=name, attachment_type=allure.attachment_type.TEXT)

    def attach_json(self, name: str, data: Any) -> None:
        body = secrets.redact(json.dumps(data, indent=2, default=str))
        allure.attach(body, name=name, attachment_type=allure.attachment_type.JSON)

    def attach_file(self, name: str, path: str, kind: Any = None) -> None:
        allure.attach.file(path, name=name, attachment_type=kind)  # type: ignore[no-untyped-call]


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Record check results for the current scenario (see ``Evidence.require``)."""
    return Evidence(request.node)


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any) -> None:
    request.node.stash[STEP_KEY] = (feature.rel_filename, step.line_number, f"{step.keyword.strip()} {step.name}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is None or call.when != "call":
        return report
    error = call.excinfo.value
    if isinstance(error, (CheckFailed, CheckInconclusive)):
        where = item.stash.get(STEP_KEY, None)
        location = f"\n  at {where[0]}:{where[1]} {where[2]}" if where else ""
        report.longrepr = f"{error}{location}"
        if isinstance(error, CheckInconclusive) and (OUTCOME_PROPERTY, "INCONCLUSIVE") not in item.user_properties:
            item.user_properties.append((OUTCOME_PROPERTY, Outcome.INCONCLUSIVE.value))
    return report
