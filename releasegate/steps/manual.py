"""Steps of @manual checklist items: they pass only with a recorded confirmation (who and when)."""

from __future__ import annotations

from pytest_bdd import given, then

from releasegate.checks.result import CheckResult
from releasegate.checks.run.confirmations import Confirmation
from releasegate.plugins.dryrun import read_only
from releasegate.plugins.evidence import Evidence


@read_only
@given("a person has confirmed this item")
@then("a person has confirmed this item")
def person_confirmed(manual_confirmation: Confirmation | None, evidence: Evidence) -> None:
    """A confirmation of this @manual scenario (who and when) was recorded: --confirmations FILE or --confirm."""
    evidence.require(CheckResult.judge(
        "manual confirmation", manual_confirmation is not None,
        manual_confirmation.describe() if manual_confirmation else "no confirmation recorded",
        "a confirmation with who and when (--confirmations FILE or --confirm \"ITEM=NAME\")"))
