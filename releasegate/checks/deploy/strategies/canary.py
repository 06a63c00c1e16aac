"""Canary: one instance of the new version in the standby colour, then the runbook's weights.

The weights (default 5, 25, 50, 100) come with an analysis gate after every step; a failed gate
sets the canary weight to 0, stops the canary instances and ends "aborted"; at 100 the standby
colour is completed and serves. The undo is blue-green's (``bluegreen.put_back``): all traffic
back to the stable colour, then the canary instances stopped; from the live state, idempotent.
Needs a target with blue/green slots and a version that already serves.
"""

from __future__ import annotations

from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.base import TrafficRouter
from releasegate.checks.deploy.strategies.base import (
    Deployment,
    DeployOptions,
    SlotStrategy,
    finish,
    remember_previous,
    serving_colour,
    set_weights,
    start_colour,
    stop_slot,
    weights_for,
)
from releasegate.checks.deploy.strategies.bluegreen import BlueGreen
from releasegate.checks.deploy.targets.slots import COLOURS, SlotControl
from releasegate.checks.errors import TargetError
from releasegate.checks.result import CheckResult, combine


class Canary(SlotStrategy):
    NAME = "canary"
    NEEDS_COLOURS = True

    def deploy_slots(self, control: SlotControl, service: str, version: str, record: DeploymentRecord,
                     router: TrafficRouter, options: DeployOptions) -> Deployment:
        stable = serving_colour(control, service, router)
        if stable is None:
            raise TargetError(f"canary of {service}: nothing serves yet, so there is no stable version to compare"
                              " with; deploy the first version with recreate or blue-green")
        canary = COLOURS[1] if stable == COLOURS[0] else COLOURS[0]
        stable_slots = control.colour_slots(service, stable)
        canary_slots = control.colour_slots(service, canary)
        remember_previous(control, service, stable_slots, record)
        record.colour, record.previous_colour, record.slots = canary, stable, [s.index for s in canary_slots]
        record.weights, record.weight = list(options.weights), 0
        first = canary_slots[:1]
        verdict = start_colour(control, service, first, version, record)
        gates: list[CheckResult] = [verdict]
        if verdict.passed:
            for weight in options.weights:
                if weight >= 100:
                    rest = start_colour(control, service, canary_slots[1:], version, record) if canary_slots[1:] \
                        else None
                    if rest is not None and not rest.passed:
                        gates.append(rest)
                        break
                    set_weights(router, control, service, weights_for(canary_slots), record, "canary 100%")
                else:
                    split = weights_for(stable_slots, 100 - weight) | weights_for(first, weight * len(stable_slots))
                    set_weights(router, control, service, split, record, f"canary {weight}%")
                record.weight = weight
                check = options.gate(weight) if options.gate is not None else CheckResult.ok(
                    f"canary gate at {weight}%", "no gate", "no gate")
                record.step("analysis gate", weight=weight, outcome=check.outcome.value, summary=check.summary())
                gates.append(check)
                if not check.passed:
                    break
        result = combine(f"canary {service} {version} through {', '.join(map(str, options.weights))}%", gates)
        if result.passed:
            return finish(record, "deployed", result)
        _abort(control, service, record, router)
        return finish(record, "aborted", result)

    def rollback(self, record: DeploymentRecord) -> CheckResult:
        """Send all traffic back to the stable colour and stop the canary instances."""
        return BlueGreen().rollback(record)  # the same live-state reading: never stops the only colour serving


def _abort(control: SlotControl, service: str, record: DeploymentRecord, router: TrafficRouter) -> None:
    """Weight 0 for the canary: all traffic to the stable colour, the canary instances stopped."""
    stable = record.previous_colour or COLOURS[0]
    set_weights(router, control, service, weights_for(control.colour_slots(service, stable)), record,
                "canary weight 0")
    record.weight = 0
    for slot in control.colour_slots(service, record.colour or COLOURS[0]):
        stop_slot(control, service, slot, record)
