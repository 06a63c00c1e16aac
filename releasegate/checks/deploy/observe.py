"""The deploy stage as a run sees it: services deployed in order under a prober, switched, restored.

What the deploy steps call, one function a step::

    session = DeploySession()                   # what this run deployed and what the prober saw
    done = deploy_services(runbook, target, "1.1.0", "blue-green", session=session, changes=release_journal)
    switch_staged(runbook, session, changes=release_journal)   # the staged blue-green deployments, switched
    restore_previous(runbook, target, session)  # this run's deployments undone, newest first
    no_request_failed(session, "switch")        # the prober of the last change saw no failure

While a deployment, switch or rollback runs, a prober sends requests through each service's
``base_url`` (the router) at ``deploy.router.options.probe_rate_per_s`` and every failure is
recorded. A target that cannot answer gives INCONCLUSIVE results, never a traceback.

Each deployment and switch is journaled write-ahead through ``changes`` (a
``checks.run.changes.ChangeRecorder``, the step's ``release_journal``): the intent with the record
(service, version, strategy, target, router) before the strategy starts, the record again before
each change it makes (the colour about to be started, the weights about to be set) and after the
switch, then done, or failed (``made`` when any change had begun).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.prober import Prober, ProbeResult, probing
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.base import RouterSettings, make_router, router_settings
from releasegate.checks.deploy.strategies.base import Deployment
from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.errors import ConfigError, ReleaseGateError
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.run.changes import ChangeHandle, ChangeRecorder
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.checks.runbook.options import project_dir

P = ParamSpec("P")
MIN_PROBE_RATE_PER_S = 45
"""Below this rate a prober's "no request failed" proves too little."""


@dataclass
class DeploySession:
    """What the deploy steps of one run did: deployments and prober results."""

    deployments: list[Deployment] = field(default_factory=list)
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    last_probes: list[ProbeResult] = field(default_factory=list)  # of the last deploy, switch or rollback step

    @contextlib.contextmanager
    def observing(self, runbook: Runbook, service: Service, what: str) -> Iterator[Prober]:
        """A prober through the service's base_url while the block runs; its result kept as ``what service``."""
        options = runbook.deploy.router.options
        path = options.probe_path or service.version_endpoint or service.health
        prober: Prober | None = None
        try:
            with probing(service.base_url + path, options.probe_rate_per_s,
                         version_field=service.version_field) as prober:
                yield prober
        finally:
            if prober is not None:
                self.probes[f"{what} {service.name}"] = prober.result
                self.last_probes.append(prober.result)


def guarded(name: str, action: Callable[P, CheckResult], *args: P.args, **kwargs: P.kwargs) -> CheckResult:
    """``action(*args, **kwargs)``, with an error of the target as INCONCLUSIVE: not a verdict on the release."""
    try:
        return action(*args, **kwargs)
    except ReleaseGateError as exc:
        return CheckResult.unknown(name, str(exc), "the target to answer")


def deploy_order(runbook: Runbook, names: list[str] | None = None) -> list[str]:
    """Services in deploy order: ``deploy.order`` first, then dependencies before dependants."""
    wanted = names or [s.name for s in runbook.services]
    explicit = [n for n in runbook.deploy.order if n in wanted]
    rest = [n for n in wanted if n not in explicit]
    ordered: list[str] = list(explicit)
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError(f"services[].depends_on has a cycle through {name!r}")
        visiting.add(name)
        for dependency in runbook.service(name).depends_on:
            if dependency in wanted:
                visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in rest:
        visit(name)
    return ordered


def deploy_services(runbook: Runbook, target: Target, version: str, strategy: str | None = None,
                    services: list[str] | None = None, *, session: DeploySession | None = None,
                    changes: ChangeRecorder | None = None,
                    gate_for: Callable[[str], strategies.Gate] | None = None, weights: list[int] | None = None,
                    **options: Any) -> list[Deployment]:
    """Deploy services one after another in ``deploy_order``; each must be healthy before the next.

    With a ``session`` every deployment runs under a prober (``Deployment.probe``) and is kept in
    the session; with ``changes`` each is journaled write-ahead (the module's doc).
    ``gate_for(service)`` gives a canary's analysis gate.
    """
    chosen = strategy or runbook.deploy.strategy
    done: list[Deployment] = []
    if session is not None:
        session.last_probes = []
    for name in deploy_order(runbook, services):
        service = runbook.service(name)
        settings = router_settings(runbook.deploy.router, service, len(runbook.services), project_dir(runbook.path))
        gate = gate_for(name) if gate_for is not None and chosen == "canary" else None
        record = _intended_record(target, name, version, chosen, settings)
        observed = session.observing(runbook, service, chosen) if session else contextlib.nullcontext()
        with _journaled(changes, record) as change, observed as prober:
            deployment = strategies.deploy(target, name, version, chosen, router=make_router(settings),
                                           router_settings=settings, gate=gate, record=record,
                                           on_progress=_updates(change),
                                           weights=weights or runbook.deploy.canary_weights, **options)
            _outcome(change, deployment)
        if session is not None:
            deployment.probe = prober.result if prober else None
            session.deployments.append(deployment)
        if deployment.passed and deployment.record.outcome != "staged":
            health = guarded(f"{name} healthy", target.health, name)
            deployment.result = combine(deployment.result.name, [deployment.result, health])
        done.append(deployment)
        if not deployment.passed:
            break
    return done


def switch_staged(runbook: Runbook, session: DeploySession, *, changes: ChangeRecorder | None = None) -> CheckResult:
    """Switch the router to the colour each staged blue-green deployment started (a no-op when it serves).

    With ``changes`` each switch is journaled write-ahead, undone by the deployment's own undo.
    """
    staged = [d.record for d in session.deployments if d.record.strategy == "blue-green"]
    if not staged:
        return CheckResult.fail("traffic switch", "no blue-green deployment in this run",
                                "a blue-green deployment (\"the new version is started on the standby colour\")")
    session.last_probes = []
    results = []
    for record in staged:
        with _journaled(changes, record) as change, \
                session.observing(runbook, runbook.service(record.service_name), "switch"):
            record.watch(_updates(change))
            try:
                result = strategies.switch_traffic(record)
            finally:
                record.watch(None)
            if change is not None and result.passed:
                change.done(record.as_dict())
            elif change is not None:
                change.fail(record.as_dict(), made=record.changes_began)
            results.append(result)
    return combine("traffic switched to the new version", results)


def _intended_record(target: Target, service: str, version: str, strategy: str,
                     settings: RouterSettings) -> DeploymentRecord | None:
    """The record a deployment fills, made before it starts (None: the strategy reports why it cannot be)."""
    try:
        return strategies.new_record(target, service, version, strategy, settings)
    except ReleaseGateError:
        return None


def _journaled(changes: ChangeRecorder | None,
               record: DeploymentRecord | None) -> contextlib.AbstractContextManager[ChangeHandle | None]:
    """The journaled change of a deployment (intent: the record before anything starts), or nothing."""
    if changes is None or record is None or not record.undo:
        return contextlib.nullcontext()
    return changes.change(record.undo, record.as_dict(), stage="deploy")


def _updates(change: ChangeHandle | None) -> Callable[[DeploymentRecord], None] | None:
    if change is None:
        return None
    return lambda record: change.update(record.as_dict())


def _outcome(change: ChangeHandle | None, deployment: Deployment) -> None:
    if change is None:
        return
    if deployment.passed or deployment.record.outcome == "staged":
        change.done(deployment.record.as_dict())
    else:  # a deployment that never began a change leaves nothing to undo (BLOCKED, not ROLLED BACK)
        change.fail(deployment.record.as_dict(), made=deployment.record.changes_began)


def restore_previous(runbook: Runbook, target: Target, session: DeploySession) -> CheckResult:
    """Undo this run's deployments, newest first; without any, put release.previous_version back."""
    session.last_probes = []
    records = [d.record for d in reversed(session.deployments)]
    results = []
    if not records:
        previous = runbook.version_from
        if not previous:
            return CheckResult.fail("restore", "no deployment in this run and no release.previous_version",
                                    "a version to go back to")
        for name in reversed(deploy_order(runbook)):
            with session.observing(runbook, runbook.service(name), "rollback"):
                results.append(guarded(f"restore {name}", _restore, target, name, previous))
    for record in records:
        with session.observing(runbook, runbook.service(record.service_name), "rollback"):
            results.append(guarded(f"undo {record.strategy}", strategies.rollback, record))
    return combine("previous version restored", results)


def _restore(target: Target, service: str, previous: str) -> CheckResult:
    done = target.rollback(service, {"previous_version": previous})
    return CheckResult.judge(f"restore {service} to {previous}", done.outcome == "done", done.outcome, "done",
                             evidence=done.as_dict())


def no_request_failed(session: DeploySession, what: str) -> CheckResult:
    """The probers of the last deploy, switch or rollback step saw no failure, at >= 45 requests/s."""
    name = f"no request failed during the {what}"
    if not session.last_probes:
        return CheckResult.unknown(name, "no deployment, switch or rollback ran in this scenario", "0 failed")
    results = [p.check(f"requests through {p.url}", min_rate_per_s=MIN_PROBE_RATE_PER_S) for p in session.last_probes]
    result = combine(name, results)
    result.observed = {p.url: f"{p.failed} of {p.sent} failed" for p in session.last_probes}
    return result


def images_present(target: Target, services: list[Service], version: str) -> CheckResult:
    """Every service's image of ``version`` is on the target (tag and digest in the evidence)."""
    return combine(f"images of {version}",
                   [guarded(f"image of {s.name}", target.image_exists, s.name, version) for s in services])


def serves(target: Target, service: str, version: str) -> CheckResult:
    """What the target says is serving (for containers: the version endpoint through the router)."""
    def check() -> CheckResult:
        seen = target.serving_version(service)
        return CheckResult.judge(f"{service} serves {version}", seen == version, seen, version)

    return guarded(f"{service} serves {version}", check)


def release_served(target: Target, services: list[Service], version: str) -> CheckResult:
    """Every service serves ``version``."""
    results = []
    for s in services:
        seen = guarded(s.name, _serving, target, s.name)
        results.append(seen if seen.inconclusive else CheckResult.judge(
            f"{s.name} serves {version}", seen.observed == version, seen.observed, version))
    return combine(f"release {version} served", results)


def _serving(target: Target, service: str) -> CheckResult:
    return CheckResult.ok(service, target.serving_version(service))


def all_healthy(target: Target, services: list[Service], kind: str) -> CheckResult:
    """Every instance of every service runs and is healthy."""
    return combine(f"all {kind} running and healthy",
                   [guarded(f"{s.name} healthy", target.health, s.name) for s in services])
