"""Rolling: one serving instance at a time: drained in the router, replaced, health-gated, put back.

A failed gate stops the rollout; the undo rolls the previous version back into the same slots
the same way. On a target without slots (Kubernetes: ``RollingUpdate``) the target rolls by
itself and its rollback is the undo.
"""

from __future__ import annotations

from releasegate.checks import secrets
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.base import TrafficRouter, make_router
from releasegate.checks.deploy.strategies.base import (
    Deployment,
    DeployOptions,
    SlotStrategy,
    finish,
    rollback_natively,
    serving_slots,
    set_weights,
)
from releasegate.checks.deploy.targets.base import target_from_record
from releasegate.checks.deploy.targets.slots import Slot, SlotControl
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult, combine


class Rolling(SlotStrategy):
    NAME = "rolling"

    def deploy_slots(self, control: SlotControl, service: str, version: str, record: DeploymentRecord,
                     router: TrafficRouter, options: DeployOptions) -> Deployment:
        slots = serving_slots(control, service, router, record)
        verdict = roll(control, service, slots, version, router, record)
        return finish(record, "deployed" if verdict.passed else "failed", verdict)

    def rollback(self, record: DeploymentRecord) -> CheckResult:
        """Roll the previous version back into the slots one at a time, drained and health-gated."""
        target = target_from_record(record)
        control = target.slot_control()
        if control is None:
            return rollback_natively(record, target)
        service, previous = record.service_name, record.previous_version
        name = f"rollback {service} to {previous}"
        if not previous:
            return CheckResult.ok(name, "nothing served before this deployment", "previous version serving")
        slots = [s for s in control.slots(service) if s.index in set(record.slots)]
        undo = DeploymentRecord()
        try:
            result = roll(control, service, slots, previous, make_router(record.router), undo)
        except ReleaseGateError as exc:
            result = CheckResult.fail(name, secrets.redact(str(exc)), "previous version serving")
        finally:
            target.close()
        result.name = name
        result.evidence["steps"] = undo.steps
        return result


def roll(control: SlotControl, service: str, slots: list[Slot], version: str, router: TrafficRouter,
         record: DeploymentRecord) -> CheckResult:
    """Replace the instances one at a time, each drained first and health-gated before the next."""
    results: list[CheckResult] = []
    live = {s.address for s in slots}
    for slot in slots:
        current = control.instance(service, slot)
        at_version = current is not None and current.version == version and current.status == "running"
        if at_version and control.instance_health(service, slot, version).passed:
            record.step("already at version", slot=slot.index)
            continue
        others = live - {slot.address}
        if others:
            set_weights(router, control, service, dict.fromkeys(others, 100), record, f"drain slot {slot.index}")
        record.progress(f"replace slot {slot.index} with {version}")
        control.start(service, slot, version)
        record.step("replaced", slot=slot.index, version=version)
        health = control.wait_healthy(service, slot, version)
        results.append(health)
        record.step("health gate", slot=slot.index, outcome=health.outcome.value)
        if not health.passed:
            return combine(f"rolling {service} to {version}", results)
        set_weights(router, control, service, dict.fromkeys(live, 100), record, f"restore slot {slot.index}")
    return combine(f"rolling {service} to {version}", results) if results else CheckResult.ok(
        f"rolling {service} to {version}", "every instance already at the version", version)
