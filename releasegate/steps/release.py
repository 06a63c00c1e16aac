"""Steps about the release itself: which environment, which versions."""

from __future__ import annotations

from pytest_bdd import given, parsers

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.dryrun import read_only
from releasegate.plugins.evidence import Evidence


@given(parsers.parse('the environment is "{name}"'))
@read_only
def environment_is(name: str, runbook: Runbook, evidence: Evidence) -> None:
    """The run was started for this environment (guards against releasing to the wrong one)."""
    evidence.require(CheckResult.judge("environment", runbook.name == name, runbook.name, name))


@given("the release version is set")
@read_only
def release_version_is_set(runbook: Runbook, evidence: Evidence) -> None:
    """A version to release is known, from --release or the runbook."""
    version = runbook.version_to
    evidence.require(
        CheckResult.judge("release version", bool(version), version, "a version (--release or release.version)")
    )
