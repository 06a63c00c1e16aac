"""Blue-green: start the standby colour, gate it on health and smoke checks, switch the router to it.

The old colour keeps running for an instant switch-back, which is the undo (the previous colour
is started again with the previous version first if it is gone). With ``switch=False`` the
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
from releasegate.checks.deploy.targets.slots import COLOURS, SlotControl
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
        """Switch the router back to the previous colour (started again with the previous version if gone)."""
        target = target_from_record(record)
        service = record.service_name
        previous, colour = record.previous_version, record.previous_colour
        name = f"switch {service} back to {colour} ({previous})"
        control = target.slot_control()
        if control is None:  # the strategy was refused there: it changed nothing
            return CheckResult.ok(name, f"nothing to undo: {record.strategy} never runs on {target.NAME}",
                                  "previous version serving")
        expected = f"{previous} serving from {colour}"
        router = make_router(record.router)
        undo = DeploymentRecord()
        try:
            if not previous or not colour:
                for slot in control.colour_slots(service, record.colour or COLOURS[0]):
                    stop_slot(control, service, slot, undo)
                return CheckResult.ok(name, "nothing served before this deployment; new instances stopped", expected,
                                      evidence={"steps": undo.steps})
            slots = control.colour_slots(service, colour)
            if serving_colour(control, service, router) == colour and all(
                control.instance_health(service, s, previous).passed for s in slots
            ):
                return CheckResult.ok(name, f"{previous} already serving from {colour}", expected)
            unhealthy = [s for s in slots if not control.instance_health(service, s, previous).passed]
            for slot in unhealthy:
                control.start(service, slot, previous)
                undo.step("restarted previous", slot=slot.index, version=previous)
            results = [control.wait_healthy(service, s, previous) for s in unhealthy]
            verdict = combine(name, results) if results else CheckResult.ok(name, "previous colour running", expected)
            if not verdict.passed:
                return verdict
            took = set_weights(router, control, service, weights_for(slots), undo, f"switch back to {colour}")
            return CheckResult.ok(name, f"{previous} serving from {colour} (switch {took:.2f}s)", expected,
                                  evidence={"steps": undo.steps, "switch_s": took})
        except ReleaseGateError as exc:
            return CheckResult.fail(name, secrets.redact(str(exc)), expected, evidence={"steps": undo.steps})
        finally:
            target.close()


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
