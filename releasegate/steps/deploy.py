"""Deployment steps: the image exists, deploy with a strategy, switch, canary, restore, what serves, hosts.

The target is the runbook's ``deploy.target``; services go in ``deploy.order`` / ``depends_on``
order, each gated on health before the next. While a deployment, switch or rollback runs, a
prober sends requests through each service's ``base_url`` (the router) and every failure is
recorded: "no request failed during the switch" judges it. Every change is journaled with its
undo action, so a failed @critical check rolls it back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from pytest_bdd import given, parsers, then, when

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.prober import Prober
from releasegate.checks.deploy.targets import host
from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.plugins.evidence import Evidence
from releasegate.plugins.safety import read_only
from releasegate.plugins.targets import DeploySession
from releasegate.steps._phrases import run, split_list, within_phrase

HEALTH_KINDS = ("pods", "containers", "pods/containers", "instances")
PROBE_SETTLE_S = 0.5


def _version(runbook: Runbook, evidence: Evidence) -> str:
    version = runbook.version_to
    if not version:
        evidence.require(CheckResult.fail("release version", None, "a version (--release or release.version)"))
    return str(version)


@contextlib.contextmanager
def _probing(runbook: Runbook, service: Service, session: DeploySession, what: str) -> Iterator[Prober]:
    options = runbook.deploy.router.options
    path = str(options.get("probe_path") or service.version_endpoint or service.health)
    prober = Prober(service.base_url + path, rate_per_s=float(options.get("probe_rate_per_s", 50)),
                    version_field=service.version_field)
    prober.start()
    time.sleep(PROBE_SETTLE_S)  # the prober is at its rate before the change starts, and after it ends
    try:
        yield prober
    finally:
        time.sleep(PROBE_SETTLE_S)
        result = prober.stop()
        session.probes[f"{what} {service.name}"] = result
        session.last_probes.append(result)


def _guarded(name: str, action: Callable[[], CheckResult]) -> CheckResult:
    try:
        return action()
    except ReleaseGateError as exc:  # an unreachable target is not a verdict on the release
        return CheckResult.unknown(name, str(exc), "the target to answer")


def _deploy(runbook: Runbook, target: Target, session: DeploySession, journal: Any, evidence: Evidence,
            strategy: str, gate_for: Callable[[str], Any] | None = None, **options: Any) -> None:
    version = _version(runbook, evidence)
    session.last_probes = []
    order = strategies.deploy_order(runbook)
    for name in order:
        service = runbook.service(name)
        settings = strategies.router_settings(runbook.deploy.router, service, len(runbook.services))
        with _probing(runbook, service, session, strategy) as prober:
            deployment = strategies.deploy(target, name, version, strategy, router=strategies.make_router(settings),
                                           router_settings=settings, weights=runbook.deploy.canary_weights,
                                           gate=gate_for(name) if gate_for and strategy == "canary" else None,
                                           **options)
        session.deployments.append(deployment)
        journal.stage_completed(str(deployment.record["undo"]), deployment.record, stage="deploy")
        evidence.attach_json(f"deployment record {name}", deployment.record)
        evidence.record(prober.result.check(f"requests during the {strategy} deployment of {name}"))
        result = deployment.result
        if deployment.passed and deployment.record.get("outcome") != "staged":
            result = combine(result.name, [result, _guarded(f"{name} healthy", lambda n=name: target.health(n))])
        evidence.require(result)


@given("the image for the release exists")
@read_only
def image_exists(runbook: Runbook, deploy_target: Target, evidence: Evidence) -> None:
    """Every service's image of the release version is on the target (tag and digest in the report)."""
    version = _version(runbook, evidence)
    results = [_guarded(f"image of {s.name}", lambda s=s: strategies.image_check(deploy_target, s.name, version))
               for s in runbook.services]
    evidence.require(combine(f"images of {version}", results))


@when("the release is deployed")
def release_deployed(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession, release_journal: Any,
                     evidence: Evidence, canary_gate: Callable[[str], Any]) -> None:
    """Deploy every service with the runbook's deploy.strategy, in order, each healthy before the next."""
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, runbook.deploy.strategy,
            gate_for=canary_gate)


@when(parsers.parse("the release is deployed with the {strategy} strategy"))
def release_deployed_with(strategy: str, runbook: Runbook, deploy_target: Target, deploy_session: DeploySession,
                          release_journal: Any, evidence: Evidence, canary_gate: Callable[[str], Any]) -> None:
    """Deploy with recreate, rolling, blue-green or canary (weights from deploy.canary_weights)."""
    if strategy not in strategies.STRATEGIES:
        evidence.require(CheckResult.fail("deploy strategy", strategy, " | ".join(strategies.STRATEGIES)))
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, strategy, gate_for=canary_gate)


@when("the new version is started on the standby colour")
def staged(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession, release_journal: Any,
           evidence: Evidence) -> None:
    """Blue-green without the switch: the standby colour runs the new version, healthy and smoke-tested."""
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, "blue-green", switch=False)


@when("the traffic is switched to the new version")
def switched(runbook: Runbook, deploy_session: DeploySession, evidence: Evidence) -> None:
    """Switch the router to the colour the blue-green deployment started (a no-op when it already serves)."""
    staged_records = [d.record for d in deploy_session.deployments if d.record.get("strategy") == "blue-green"]
    if not staged_records:
        evidence.require(CheckResult.fail("traffic switch", "no blue-green deployment in this run",
                                          "a blue-green deployment (\"the new version is started on the standby"
                                          " colour\")"))
    deploy_session.last_probes = []
    results = []
    for record in staged_records:
        service = runbook.service(record["service"]["name"])
        with _probing(runbook, service, deploy_session, "switch"):
            results.append(strategies.switch_traffic(record))
    evidence.require(combine("traffic switched to the new version", results))


@when(parsers.parse("the canary advances through {weights} percent"))
def canary_advances(weights: str, runbook: Runbook, deploy_target: Target, deploy_session: DeploySession,
                    release_journal: Any, evidence: Evidence, canary_gate: Callable[[str], Any]) -> None:
    """Canary at each weight (e.g. "5, 25, 50, 100"), the SLO analysis gating every step; a failed gate rolls back."""
    try:
        steps = [int(w) for w in split_list(weights)]
    except ValueError:
        steps = []
    if not steps or steps != sorted(steps) or steps[-1] != 100 or steps[0] <= 0:
        evidence.require(CheckResult.fail("canary weights", weights, "increasing percentages ending at 100"))
    saved = runbook.deploy.canary_weights
    runbook.deploy.canary_weights = steps
    try:
        _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, "canary", gate_for=canary_gate)
    finally:
        runbook.deploy.canary_weights = saved


@when("the previous version is restored")
@when("the traffic is switched back to the previous version")
def restored(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession, evidence: Evidence) -> None:
    """Undo this run's deployments, newest first (switch-back for blue-green); idempotent."""
    deploy_session.last_probes = []
    results = []
    records = [d.record for d in reversed(deploy_session.deployments)]
    if not records:
        previous = runbook.version_from
        if not previous:
            evidence.require(CheckResult.fail("restore", "no deployment in this run and no release.previous_version",
                                              "a version to go back to"))
        for name in reversed(strategies.deploy_order(runbook)):
            with _probing(runbook, runbook.service(name), deploy_session, "rollback"):
                results.append(_guarded(f"restore {name}", lambda n=name: _restore(deploy_target, n, str(previous))))
    for record in records:
        with _probing(runbook, runbook.service(record["service"]["name"]), deploy_session, "rollback"):
            results.append(_guarded(f"undo {record['strategy']}", lambda r=record: strategies.rollback(r)))
    evidence.require(combine("previous version restored", results))


def _restore(target: Target, service: str, previous: str) -> CheckResult:
    done = target.rollback(service, {"previous_version": previous})
    return CheckResult.judge(f"restore {service} to {previous}", done.outcome == "done", done.outcome, "done",
                             evidence=done.as_dict())


@then(within_phrase('"{service}" serves version "{version}"'))
@read_only
def serves_version(service: str, version: str, runbook: Runbook, deploy_target: Target, evidence: Evidence,
                   within: float | None = None) -> None:
    """What the target says is serving (for containers: the version endpoint through the router)."""
    def check() -> CheckResult:
        seen = deploy_target.serving_version(service)
        return CheckResult.judge(f"{service} serves {version}", seen == version, seen, version)

    evidence.require(run(lambda: _guarded(f"{service} serves {version}", check), within))


@then(within_phrase("every service serves the release version"))
@read_only
def serves_release(runbook: Runbook, deploy_target: Target, evidence: Evidence, within: float | None = None) -> None:
    """Every service of the runbook serves release.version (or --release)."""
    version = _version(runbook, evidence)

    def check() -> CheckResult:
        results = []
        for s in runbook.services:
            seen = _guarded(s.name, lambda s=s: CheckResult.ok(s.name, deploy_target.serving_version(s.name)))
            results.append(seen if seen.inconclusive else CheckResult.judge(
                f"{s.name} serves {version}", seen.observed == version, seen.observed, version))
        return combine(f"release {version} served", results)

    evidence.require(run(check, within))


@then(parsers.parse("no request failed during the {what}"))
def no_request_failed(what: str, deploy_session: DeploySession, evidence: Evidence) -> None:
    """The prober of the last deploy/switch/rollback step (>= 50 requests/s through the router) saw no failure."""
    if not deploy_session.last_probes:
        evidence.require(CheckResult.unknown(f"no request failed during the {what}",
                                             "no deployment, switch or rollback ran in this scenario", "0 failed"))
    results = [p.check(f"requests through {p.url}", min_rate_per_s=45) for p in deploy_session.last_probes]
    result = combine(f"no request failed during the {what}", results)
    result.observed = {p.url: f"{p.failed} of {p.sent} failed" for p in deploy_session.last_probes}
    evidence.require(result)


@then(parsers.parse("all {kind} are running and healthy"))
@read_only
def all_healthy(kind: str, runbook: Runbook, deploy_target: Target, evidence: Evidence) -> None:
    """Every pod or container of every service runs and is healthy (Docker health status when the image has one)."""
    if kind not in HEALTH_KINDS:
        evidence.require(CheckResult.fail("health", kind, " | ".join(HEALTH_KINDS)))
    results = [_guarded(f"{s.name} healthy", lambda s=s: deploy_target.health(s.name)) for s in runbook.services]
    evidence.require(combine(f"all {kind} running and healthy", results))


# --- host checks (testinfra) ---------------------------------------------------------------------

def _host(runbook: Runbook, name: str) -> str | CheckResult:
    if "://" in name:
        return name
    for target in runbook.targets:
        if target.name == name:
            return target.url or "local://"
    known = ", ".join(t.name for t in runbook.targets) or "none"
    return CheckResult.unknown(f"host {name}", f"no target named {name!r} in runbook {runbook.name!r} (targets:"
                               f" {known}); name a target or write a testinfra spec such as docker://web",
                               "a known host")


def _on(runbook: Runbook, name: str, evidence: Evidence, check: Callable[[str], CheckResult],
        within: float | None) -> None:
    spec = _host(runbook, name)
    if isinstance(spec, CheckResult):
        evidence.require(spec)
        return
    evidence.require(run(lambda: check(spec), within))


@then(within_phrase('the process "{pattern}" runs as the user "{user}" on the host "{host_name}"'))
@read_only
def process_runs_as(pattern: str, user: str, host_name: str, runbook: Runbook, evidence: Evidence,
                    within: float | None = None) -> None:
    """Every process whose command line contains the pattern runs as that user (never root)."""
    _on(runbook, host_name, evidence, lambda spec: host.process_user(spec, pattern, user), within)


@then(within_phrase('the process "{pattern}" runs as a non-root user on the host "{host_name}"'))
@read_only
def process_not_root(pattern: str, host_name: str, runbook: Runbook, evidence: Evidence,
                     within: float | None = None) -> None:
    """Every process whose command line contains the pattern runs as a user other than root."""
    _on(runbook, host_name, evidence, lambda spec: host.process_user(spec, pattern), within)


@then(within_phrase('port {port:d} is listening on the host "{host_name}"'))
@read_only
def port_listening(port: int, host_name: str, runbook: Runbook, evidence: Evidence,
                   within: float | None = None) -> None:
    """A TCP socket in LISTEN state on that port, seen from inside the host (/proc/net/tcp)."""
    _on(runbook, host_name, evidence, lambda spec: host.port_listening(spec, port), within)


@then(within_phrase('the package "{package}" is installed on the host "{host_name}"'))
@read_only
def package_installed(package: str, host_name: str, runbook: Runbook, evidence: Evidence,
                      within: float | None = None) -> None:
    """The OS package is installed (dpkg/rpm/apk, as testinfra detects)."""
    _on(runbook, host_name, evidence, lambda spec: host.package_installed(spec, package), within)


@then(within_phrase('the service "{name}" is running on the host "{host_name}"'))
@read_only
def service_running(name: str, host_name: str, runbook: Runbook, evidence: Evidence,
                    within: float | None = None) -> None:
    """A system service (systemd, OpenRC, SysV as testinfra detects) is running."""
    _on(runbook, host_name, evidence, lambda spec: host.service_running(spec, name), within)


@then(within_phrase('the file "{path}" on the host "{host_name}" has mode "{mode}"'))
@read_only
def file_mode(path: str, host_name: str, mode: str, runbook: Runbook, evidence: Evidence,
              within: float | None = None) -> None:
    """The file exists with exactly this octal mode (e.g. "640")."""
    _on(runbook, host_name, evidence, lambda spec: host.file_permissions(spec, path, mode=mode), within)


@then(within_phrase('the file "{path}" on the host "{host_name}" is owned by "{owner}"'))
@read_only
def file_owner(path: str, host_name: str, owner: str, runbook: Runbook, evidence: Evidence,
               within: float | None = None) -> None:
    """The file exists and belongs to this user."""
    _on(runbook, host_name, evidence, lambda spec: host.file_permissions(spec, path, owner=owner), within)
