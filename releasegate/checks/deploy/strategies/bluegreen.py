"""Blue-green: start the standby colour, gate it on health and smoke checks, switch the router to it.

The old colour keeps running for an instant switch-back, which is the undo (the previous colour
is started again with the previous version first if it is gone); the undo then stops the colour
the release started. It reads the live state first (``put_back``), never stops the only colour
that can serve, and is idempotent. With ``switch=False`` the
deployment stops once the standby colour is healthy ("staged"); ``switch_traffic`` switches later.
Needs a target with blue/green slots.
"""

from __future__ import annotations

from releasegate.checks import secrets
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.base import TrafficRouter, make_router
from releasegate.checks.deploy.strategies.base import (
    Deployment,
    DeployOptions,
    SlotStrategy,
    default_smoke,
    finish,
    remember_previous,
    serving_colour,
    set_weights,
    slots_of,
    start_colour,
    stop_slot,
    weights_for,
)
from releasegate.checks.deploy.targets.base import target_from_record
from releasegate.checks.deploy.targets.slots import COLOURS, Slot, SlotControl
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult, combine


class BlueGreen(SlotStrategy):
    NAME = "blue-green"
    NEEDS_COLOURS = True

    def deploy_slots(self, control: SlotControl, service: str, version: str, record: DeploymentRecord,
                     router: TrafficRouter, options: DeployOptions) -> Deployment:
        active = serving_colour(control, service, router)
        standby = COLOURS[1] if active == COLOURS[0] else COLOURS[0]
        standby_slots = control.colour_slots(service, standby)
        if active is not None:
            remember_previous(control, service, control.colour_slots(service, active), record)
        record.colour, record.previous_colour = standby, active
        record.slots = [s.index for s in standby_slots]
        verdict = start_colour(control, service, standby_slots, version, record)
        if verdict.passed:
            smoke = options.smoke or default_smoke(control, service)
            check = smoke(version, [f"http://{s.address}" for s in standby_slots])
            record.step("smoke gate", outcome=check.outcome.value)
            verdict = combine(f"blue-green {service} {version} on {standby}", [verdict, check])
        if not verdict.passed:
            for slot in standby_slots:
                stop_slot(control, service, slot, record)
            return finish(record, "failed", verdict)
        if not options.switch:
            return finish(record, "staged", verdict)
        record.switch_s = set_weights(router, control, service, weights_for(standby_slots), record,
                                      f"switch to {standby}")
        return finish(record, "deployed", verdict)

    def rollback(self, record: DeploymentRecord) -> CheckResult:
        """Switch the router back to the previous colour (started again if gone), then stop the release's colour."""
        target = target_from_record(record)
        control = target.slot_control()
        name = (f"switch {record.service_name} back to {record.previous_colour or 'the previous colour'}"
                f" ({record.previous_version or 'the previous version'})")
        if control is None:  # the strategy was refused there: it changed nothing
            return CheckResult.ok(name, f"nothing to undo: {record.strategy} never runs on {target.NAME}",
                                  "previous version serving")
        undo = DeploymentRecord()
        try:
            return put_back(control, record, make_router(record.router), undo)
        except ReleaseGateError as exc:
            return CheckResult.fail(name, secrets.redact(str(exc)), "previous version serving",
                                    evidence={"steps": undo.steps})
        finally:
            target.close()


def put_back(control: SlotControl, record: DeploymentRecord, router: TrafficRouter,
             undo: DeploymentRecord) -> CheckResult:
    """The previous colour serving and the colour the release started (``record.colour``) gone.

    Reads the live state first: what the router sends traffic to and what runs in each colour.
    The previous colour is the record's, else the other colour; its version the record's, else
    what runs there. Never stops a colour that serves unless the previous one serves in its place;
    when nothing else can serve, it stops nothing and FAILS (a person decides). Idempotent.
    """
    service, version = record.service_name, record.version
    started = record.colour
    serving = _serving_colours(control, service, router)
    if started is None:
        # progress is announced before the first start: a record without a colour started nothing,
        # so only instances of the release that receive no traffic are left over from it
        leftovers = [c for c in COLOURS if c not in serving and _runs(control, service, c, version)]
        for colour in leftovers:
            for slot in control.colour_slots(service, colour):
                stop_slot(control, service, slot, undo)
        observed = (f"{version} stopped in {', '.join(leftovers)} (it received no traffic)" if leftovers else
                    "nothing to undo: the deployment had not started an instance")
        return CheckResult.ok(f"undo {record.strategy} of {service} {version}", observed,
                              "nothing of the deployment left", evidence={"steps": undo.steps})
    other = COLOURS[1] if started == COLOURS[0] else COLOURS[0]
    previous = record.previous_version or _version_in(control, service, other, exclude=version)
    name = f"switch {service} back to {other} ({previous or 'no previous version known'})"
    expected = f"{previous or 'the previous version'} serving from {other}, {started} stopped"
    other_slots = control.colour_slots(service, other)
    released = [s for s in control.colour_slots(service, started) if control.instance(service, s) is not None]
    if previous is None:
        if started in serving:
            return CheckResult.fail(name, f"{started} ({version}) is the only colour that can serve {service}: not"
                                    " stopped, because nothing else would serve; no previous version is recorded"
                                    f" or runs in {other}", expected,
                                    detail="a person decides: deploy the previous version, or keep this one")
        for slot in released:
            stop_slot(control, service, slot, undo)
        return CheckResult.ok(name, f"nothing served before this deployment; {started} stopped (it received no"
                              " traffic)" if released else "nothing served before this deployment; nothing runs",
                              expected, evidence={"steps": undo.steps})
    unhealthy = [s for s in other_slots if not control.instance_health(service, s, previous).passed]
    for slot in unhealthy:
        control.start(service, slot, previous)
        undo.step("restarted previous", slot=slot.index, version=previous)
    back = combine(f"{previous} in {other} healthy", [control.wait_healthy(service, s, previous) for s in unhealthy])
    if unhealthy and not back.passed:
        kept = f"; {started} ({version}) still serves: not stopped" if started in serving else ""
        return CheckResult.fail(name, f"{previous} could not be started again in {other}: {back.detail}{kept}",
                                expected, evidence={"steps": undo.steps},
                                detail="a person decides" if kept else "")
    took: float | None = None
    # before a colour is stopped the router is set (and verified) again: a file that says "previous"
    # proves nothing about a router that died during the switch
    if released or serving != {other} or not router.verify_weights(_full(control, service, other_slots)):
        took = set_weights(router, control, service, weights_for(other_slots), undo, f"switch back to {other}",
                           restore=True)
    for slot in released:
        stop_slot(control, service, slot, undo)
    if took is None and not released and not unhealthy:
        return CheckResult.ok(name, f"{previous} already serving from {other}", expected)
    done = [f"switch {took:.2f}s" if took is not None else "", f"{started} stopped" if released else ""]
    return CheckResult.ok(name, f"{previous} serving from {other} ({'; '.join(d for d in done if d) or 'restarted'})",
                          expected, evidence={"steps": undo.steps, "switch_s": took})


def _full(control: SlotControl, service: str, slots: list[Slot]) -> dict[str, int]:
    """The weights ``set_weights`` writes to send everything to ``slots``."""
    return {s.address: 0 for s in control.slots(service)} | weights_for(slots)


def _serving_colours(control: SlotControl, service: str, router: TrafficRouter) -> set[str]:
    """Colours the router sends traffic to; without router state for the service, the colours that run."""
    weights = router.weights()
    known = {s.address for s in control.slots(service)}
    if any(a in known for a in weights):
        return {c for c in COLOURS if any(weights.get(s.address, 0) > 0 for s in control.colour_slots(service, c))}
    return {i.slot.colour for i in control.instances(service) if i.status == "running"}


def _runs(control: SlotControl, service: str, colour: str, version: str | None) -> bool:
    found = [control.instance(service, s) for s in control.colour_slots(service, colour)]
    return any(i is not None and i.version == version for i in found)


def _version_in(control: SlotControl, service: str, colour: str, *, exclude: str | None) -> str | None:
    """The version that runs in ``colour``, when it is one version other than ``exclude``."""
    found = {i.version for i in (control.instance(service, s) for s in control.colour_slots(service, colour))
             if i is not None and i.status == "running" and i.version}
    return found.pop() if len(found) == 1 and exclude not in found else None


def switch_traffic(record: DeploymentRecord, router: TrafficRouter | None = None) -> CheckResult:
    """Send all traffic to the colour a staged blue-green deployment started (idempotent)."""
    target = target_from_record(record)
    control = slots_of(target, BlueGreen.NAME)
    service, colour, version = record.service_name, record.colour, record.version
    name = f"switch {service} to {colour} ({version})"
    router = router or make_router(record.router)
    try:
        if not colour:
            return CheckResult.fail(name, "the deployment record names no colour", "a staged blue-green record")
        slots = control.colour_slots(service, colour)
        health = combine(f"{service} {colour} healthy", [control.instance_health(service, s, version) for s in slots])
        if not health.passed:
            return CheckResult.fail(name, f"{colour} is not healthy: {health.detail}", f"{version} serving",
                                    evidence=health.evidence)
        took = set_weights(router, control, service, weights_for(slots), record, f"switch to {colour}")
        record.switch_s, record.outcome = took, "deployed"
        return CheckResult.ok(name, f"{version} serving from {colour} (switch {took:.2f}s)", f"{version} serving",
                              evidence={"switch_s": took})
    except ReleaseGateError as exc:
        return CheckResult.fail(name, secrets.redact(str(exc)), f"{version} serving")
    finally:
        target.close()
