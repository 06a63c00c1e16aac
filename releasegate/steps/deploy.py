"""Deployment steps: the image exists, deploy with a strategy, switch, canary, restore, what serves, hosts.

The target is the runbook's ``deploy.target``; services go in ``deploy.order`` / ``depends_on``
order, each gated on health before the next, under a prober through each service's ``base_url``
(``checks.deploy.observe``): "no request failed during the switch" judges it. Every change is
journaled with its undo action before it is made (``release_journal.change``: intent, progress,
done or failed), so a failed @critical check or a process that dies halfway rolls it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_bdd import given, parsers, then, when

from releasegate.checks.deploy import observe, strategies
from releasegate.checks.deploy.observe import DeploySession
from releasegate.checks.deploy.strategies import Gate
from releasegate.checks.deploy.targets import host
from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.load.representative import canary_load
from releasegate.plugins.dryrun import changes, read_only
from releasegate.plugins.evidence import Evidence
from releasegate.plugins.journal import StageRecorder
from releasegate.steps._phrases import run, run_on, split_list, within_phrase

HEALTH_KINDS = ("pods", "containers", "pods/containers", "instances")


def _version(runbook: Runbook, evidence: Evidence) -> str:
    version = runbook.version_to
    if not version:
        evidence.require(CheckResult.fail("release version", None, "a version (--release or release.version)"))
    return str(version)


def _deploy(runbook: Runbook, target: Target, session: DeploySession, journal: StageRecorder, evidence: Evidence,
            strategy: str, gate_for: Callable[[str], Gate] | None = None, **options: Any) -> None:
    with canary_load(runbook, strategy, evidence.item.config.rootpath, evidence.record):  # deploy.canary.load
        done = observe.deploy_services(runbook, target, _version(runbook, evidence), strategy, session=session,
                                       changes=journal, gate_for=gate_for, **options)
    for deployment in done:
        name = deployment.service
        evidence.attach_json(f"deployment record {name}", deployment.record.as_dict())
        if deployment.probe is not None:
            evidence.record(deployment.probe.check(f"requests during the {strategy} deployment of {name}"))
        evidence.require(deployment.result)


@given("the image for the release exists")
@read_only
def image_exists(runbook: Runbook, deploy_target: Target, evidence: Evidence) -> None:
    """Every service's image of the release version is on the target (tag and digest in the report)."""
    evidence.require(observe.images_present(deploy_target, runbook.services, _version(runbook, evidence)))


@when("the release is deployed")
@changes
def release_deployed(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession,
                     release_journal: StageRecorder, evidence: Evidence, canary_gate: Callable[[str], Gate]) -> None:
    """Deploy every service with the runbook's deploy.strategy, in order, each healthy before the next."""
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, runbook.deploy.strategy,
            gate_for=canary_gate)


@when(parsers.parse("the release is deployed with the {strategy} strategy"))
@changes
def release_deployed_with(strategy: str, runbook: Runbook, deploy_target: Target, deploy_session: DeploySession,
                          release_journal: StageRecorder, evidence: Evidence,
                          canary_gate: Callable[[str], Gate]) -> None:
    """Deploy with recreate, rolling, blue-green or canary (weights from deploy.canary_weights)."""
    if strategy not in strategies.STRATEGIES:
        evidence.require(CheckResult.fail("deploy strategy", strategy, " | ".join(strategies.STRATEGIES)))
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, strategy, gate_for=canary_gate)


@when("the new version is started on the standby colour")
@changes
def staged(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession, release_journal: StageRecorder,
           evidence: Evidence) -> None:
    """Blue-green without the switch: the standby colour runs the new version, healthy and smoke-tested."""
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, "blue-green", switch=False)


@when("the traffic is switched to the new version")
@changes
def switched(runbook: Runbook, deploy_session: DeploySession, release_journal: StageRecorder,
             evidence: Evidence) -> None:
    """Switch the router to the colour the blue-green deployment started (a no-op when it already serves)."""
    evidence.require(observe.switch_staged(runbook, deploy_session, changes=release_journal))


@when(parsers.parse("the canary advances through {weights} percent"))
@changes
def canary_advances(weights: str, runbook: Runbook, deploy_target: Target, deploy_session: DeploySession,
                    release_journal: StageRecorder, evidence: Evidence, canary_gate: Callable[[str], Gate]) -> None:
    """Canary at each weight (e.g. "5, 25, 50, 100"), the SLO analysis gating every step; a failed gate rolls back."""
    try:
        steps = [int(w) for w in split_list(weights)]
    except ValueError:
        steps = []
    if not steps or steps != sorted(steps) or steps[-1] != 100 or steps[0] <= 0:
        evidence.require(CheckResult.fail("canary weights", weights, "increasing percentages ending at 100"))
    _deploy(runbook, deploy_target, deploy_session, release_journal, evidence, "canary", gate_for=canary_gate,
            weights=steps)


@when("the previous version is restored")
@when("the traffic is switched back to the previous version")
@changes
def restored(runbook: Runbook, deploy_target: Target, deploy_session: DeploySession, evidence: Evidence) -> None:
    """Undo this run's deployments, newest first (switch-back for blue-green); idempotent."""
    evidence.require(observe.restore_previous(runbook, deploy_target, deploy_session))


@then(within_phrase('"{service}" serves version "{version}"'))
@read_only
def serves_version(service: str, version: str, runbook: Runbook, deploy_target: Target, evidence: Evidence,
                   within: float | None = None) -> None:
    """What the target says is serving (for containers: the version endpoint through the router)."""
    evidence.require(run(lambda: observe.serves(deploy_target, service, version), within))


@then(within_phrase("every service serves the release version"))
@read_only
def serves_release(runbook: Runbook, deploy_target: Target, evidence: Evidence, within: float | None = None) -> None:
    """Every service of the runbook serves release.version (or --release)."""
    version = _version(runbook, evidence)
    evidence.require(run(lambda: observe.release_served(deploy_target, runbook.services, version), within))


@then(parsers.parse("no request failed during the {what}"))
@read_only
def no_request_failed(what: str, deploy_session: DeploySession, evidence: Evidence) -> None:
    """The prober of the last deploy/switch/rollback step (>= 50 requests/s through the router) saw no failure."""
    evidence.require(observe.no_request_failed(deploy_session, what))


@then(parsers.parse("all {kind} are running and healthy"))
@read_only
def all_healthy(kind: str, runbook: Runbook, deploy_target: Target, evidence: Evidence) -> None:
    """Every pod or container of every service runs and is healthy (Docker health status when the image has one)."""
    if kind not in HEALTH_KINDS:
        evidence.require(CheckResult.fail("health", kind, " | ".join(HEALTH_KINDS)))
    evidence.require(observe.all_healthy(deploy_target, runbook.services, kind))


# --- host checks (testinfra) ---------------------------------------------------------------------

def _on(runbook: Runbook, name: str, evidence: Evidence, check: Callable[[str], CheckResult],
        within: float | None) -> None:
    evidence.require(run_on(host.host_spec(runbook, name), check, within))


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
