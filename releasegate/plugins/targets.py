"""Fixtures for the deployment targets a runbook names, built on first use.

- ``deploy_target``: the target of ``deploy.target`` (else the first target); when the runbook
  describes a local stack, the stack is brought up first.
- ``targets``: every target of the runbook by name (``targets["api-host"]``), built lazily.
- ``deploy_session``: what deploy steps did in this session (deployments, prober results), so a
  later step ("no request failed during the switch", "the previous version is restored") sees it.
- ``canary_gate``: the analysis gate between canary steps: the runbook's SLO analysis of the canary's
  version, its first measurement one query window after the weight changed (``slo.canary_metrics``);
  the traffic it judges comes from ``deploy.canary.load`` when the runbook names a load profile
  (``releasegate.load.representative``, started by the deploy step).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from releasegate.checks import secrets
from releasegate.checks.deploy.observe import DeploySession
from releasegate.checks.deploy.targets.base import Target, get_target
from releasegate.checks.errors import NotInRunbook, ReleaseGateError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook


class Targets:
    """The runbook's targets by name, each built the first time it is asked for."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self._built: dict[str, Target] = {}

    def __getitem__(self, name: str) -> Target:
        if name not in self._built:
            try:
                spec = self.runbook.target(name)
            except NotInRunbook as exc:
                raise pytest.UsageError(str(exc)) from None
            self._built[name] = get_target(spec, self.runbook)
        return self._built[name]

    def close(self) -> None:
        for target in self._built.values():
            target.close()


@pytest.fixture(scope="session")
def targets(runbook: Runbook) -> Iterator[Targets]:
    """Every target of the runbook by name, built on first use."""
    found = Targets(runbook)
    yield found
    found.close()


@pytest.fixture(scope="session")
def deploy_target(request: pytest.FixtureRequest, runbook: Runbook, targets: Targets) -> Target:
    """The target the release deploys to (``deploy.target``, else the runbook's first target)."""
    if not runbook.targets:
        raise pytest.UsageError(f"runbook {runbook.name!r} has no targets: add one under targets: (kind docker,"
                                " compose, kubernetes or host)")
    if runbook.stack:
        with contextlib.suppress(pytest.FixtureLookupError):  # plugins.stack not loaded: nothing to start
            request.getfixturevalue("local_stack")
    return targets[runbook.target().name]


@pytest.fixture(scope="session")
def deploy_session() -> DeploySession:
    """Deployments and prober results of this session."""
    return DeploySession()


@pytest.fixture
def canary_gate(runbook: Runbook) -> Callable[[str], Callable[[int], CheckResult]]:
    """``canary_gate(service)`` -> a gate that runs the runbook's SLO analysis of the canary's version."""

    def for_service(service: str) -> Callable[[int], CheckResult]:
        def gate(weight: int) -> CheckResult:
            name = f"canary analysis of {service} at {weight}%"
            try:
                from releasegate.checks.slo import metrics as slo

                return slo.run(runbook, slo.canary_metrics(runbook, service, runbook.version_to), name)
            except (ImportError, AttributeError) as exc:
                return CheckResult.unknown(name, f"the SLO analysis is not available: {exc}", "analysis passed")
            except ReleaseGateError as exc:
                return CheckResult.unknown(name, secrets.redact(str(exc)), "analysis passed")

        return gate

    return for_service
