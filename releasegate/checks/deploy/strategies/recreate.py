"""Recreate: stop the serving instances, start the new version in the same slots, gate on health.

On a target without slots (Kubernetes: ``spec.strategy.type: Recreate``; host: its deploy
command) the target deploys by itself. The undo is the target's rollback to the previous
version, which does nothing when that version already serves.
"""

from __future__ import annotations

from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.base import TrafficRouter
from releasegate.checks.deploy.strategies.base import (
    Deployment,
    DeployOptions,
    SlotStrategy,
    finish,
    rollback_natively,
    serving_slots,
    set_weights,
    start_colour,
    weights_for,
)
from releasegate.checks.deploy.targets.slots import SlotControl
from releasegate.checks.result import CheckResult


class Recreate(SlotStrategy):
    NAME = "recreate"

    def deploy_slots(self, control: SlotControl, service: str, version: str, record: DeploymentRecord,
                     router: TrafficRouter, options: DeployOptions) -> Deployment:
        slots = serving_slots(control, service, router, record)
        for slot in slots:
            record.progress(f"stop slot {slot.index}")
            control.stop(service, slot)
            record.step("stopped", slot=slot.index)
        verdict = start_colour(control, service, slots, version, record)
        if verdict.passed:
            set_weights(router, control, service, weights_for(slots), record, "route to new instances")
        return finish(record, "deployed" if verdict.passed else "failed", verdict)

    def rollback(self, record: DeploymentRecord) -> CheckResult:
        return rollback_natively(record)
