"""The interface every deployment strategy implements, and what the strategies share.

A strategy (one module each: recreate, rolling, bluegreen, canary) puts a version of one service
in place on a target and undoes that from its record::

    class Strategy(Protocol):
        NAME: str                                                    # its runbook name
        def deploy(self, target, service, version, options) -> Deployment
        def rollback(self, record) -> CheckResult                     # idempotent

On a target with blue/green slots (``Target.slot_control()``: docker, compose) the strategies
drive the instances slot by slot behind a ``TrafficRouter`` (``SlotStrategy.deploy_slots``); on
the others, recreate and rolling are the target's own deploy (``Target.deploy(strategy=...)``)
and rollback, and blue-green and canary are refused.

The strategy fills ``options.record`` (made by ``strategies.deploy`` before anything runs) and
calls ``record.progress(what)`` before each change (``start_colour``, ``stop_slot``,
``set_weights`` here), which calls ``options.on_progress(record)``: the caller journals the
record as it is before the change, and an error keeps the record as far as it got.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from releasegate.checks import secrets
from releasegate.checks._support import http
from releasegate.checks.deploy.prober import ProbeResult
from releasegate.checks.deploy.record import DeploymentRecord, Progress
from releasegate.checks.deploy.routers.base import RouterSettings, TrafficRouter, make_router
from releasegate.checks.deploy.targets.base import Target, target_from_record
from releasegate.checks.deploy.targets.slots import COLOURS, Slot, SlotControl
from releasegate.checks.errors import ReleaseGateError, TargetError
from releasegate.checks.result import CheckResult, combine

DEFAULT_CANARY_WEIGHTS = (5, 25, 50, 100)
UNDO = "releasegate.checks.deploy.strategies:rollback_{name}"
"""The undo a record names (journals keep these strings: they stay importable)."""

Gate = Callable[[int], CheckResult]
"""Canary analysis between steps: called with the canary weight just reached."""
Smoke = Callable[[str, list[str]], CheckResult]
"""Smoke checks of a standby colour: called with the version and the instance base URLs."""


@dataclass
class DeployOptions:
    """How one strategy run goes: the router, the canary's weights and gate, blue-green's smoke and switch."""

    router: TrafficRouter | None = None
    router_settings: RouterSettings | Mapping[str, Any] | None = None
    gate: Gate | None = None
    smoke: Smoke | None = None
    switch: bool = True
    weights: Sequence[int] = DEFAULT_CANARY_WEIGHTS
    on_progress: Progress | None = None
    """Called with the record before each change and after a switch (to journal it, write-ahead)."""
    record: DeploymentRecord | None = None
    """The record the strategy fills; ``strategies.deploy`` makes it before anything runs."""

    def __post_init__(self) -> None:
        if isinstance(self.router_settings, Mapping):  # as a record or a caller writes them
            self.router_settings = RouterSettings.model_validate(dict(self.router_settings))
        self.weights = tuple(self.weights)

    def traffic_router(self) -> TrafficRouter:
        return self.router or make_router(None)

    def record_for(self, target: Target, service: str, version: str, strategy: str) -> DeploymentRecord:
        """The record this run fills (made now when the caller gave none), watched by ``on_progress``."""
        if self.record is None:
            self.record = new_record(target, service, version, strategy, self.router_settings)
        self.record.watch(self.on_progress)
        return self.record


@dataclass
class Deployment:
    """The outcome of one strategy run: a verdict, a record of what was done, what the prober saw."""

    result: CheckResult
    record: DeploymentRecord
    probe: ProbeResult | None = None

    @property
    def passed(self) -> bool:
        return self.result.passed

    @property
    def service(self) -> str:
        return self.record.service_name

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.record.steps


class Strategy(Protocol):
    NAME: ClassVar[str]

    def deploy(self, target: Target, service: str, version: str, options: DeployOptions) -> Deployment:
        """Put ``version`` of ``service`` in place; every change is a step of the record."""
        ...

    def rollback(self, record: DeploymentRecord) -> CheckResult:
        """Undo what the record says was done; looks at what serves first, so twice is harmless."""
        ...


class SlotStrategy(ABC):
    """A strategy that drives a target's blue/green slots behind a router (``Strategy``'s shared skeleton).

    ``deploy`` starts the record, checks the image, and hands the slots to ``deploy_slots``; on a
    target without slots it is the target's own deploy, unless the strategy needs both colours
    (blue-green, canary), which only slots have: then it is refused in one line.
    """

    NAME: ClassVar[str]
    NEEDS_COLOURS: ClassVar[bool] = False

    def deploy(self, target: Target, service: str, version: str, options: DeployOptions) -> Deployment:
        control = slots_of(target, self.NAME) if self.NEEDS_COLOURS else target.slot_control()
        if control is None:
            return deploy_natively(target, service, version, self.NAME, options)
        if self.NEEDS_COLOURS:
            two_colours(target, control, service, self.NAME)
        record = options.record_for(target, service, version, self.NAME)
        image = record_image(target, service, version, record)
        if not image.passed:
            return finish(record, "failed", image)
        return self.deploy_slots(control, service, version, record, options.traffic_router(), options)

    @abstractmethod
    def deploy_slots(self, control: SlotControl, service: str, version: str, record: DeploymentRecord,
                     router: TrafficRouter, options: DeployOptions) -> Deployment:
        """The strategy on the slots, the image of ``version`` known to exist."""

    @abstractmethod
    def rollback(self, record: DeploymentRecord) -> CheckResult:
        """Undo what the record says was done; looks at what serves first, so twice is harmless."""


# --- records ------------------------------------------------------------------------------------

def new_record(target: Target, service: str, version: str, strategy: str,
               settings: RouterSettings | Mapping[str, Any] | None) -> DeploymentRecord:
    router = settings.as_dict() if isinstance(settings, RouterSettings) else dict(settings or {"kind": "none"})
    return target.new_record(service, version, strategy=strategy, undo=UNDO.format(name=strategy.replace("-", "_")),
                             router=router)


def finish(record: DeploymentRecord, outcome: str, result: CheckResult) -> Deployment:
    record.finish(outcome)
    result.elapsed_s = record.duration_s or 0.0
    result.evidence.setdefault("record", {k: v for k, v in record.as_dict().items() if k != "target"})
    return Deployment(result, record)


def record_image(target: Target, service: str, version: str, record: DeploymentRecord) -> CheckResult:
    found = target.image_exists(service, version)
    record.image_digest = found.evidence.get("digest")
    return found


# --- targets without slots: the target's own deploy and rollback --------------------------------

def deploy_natively(target: Target, service: str, version: str, strategy: str,
                    options: DeployOptions) -> Deployment:
    """Recreate or rolling the target's own way (Kubernetes: the Deployment's strategy)."""
    record = options.record_for(target, service, version, strategy)
    record.progress(f"{target.NAME} deploy of {version}")
    done = target.deploy(service, version, strategy=strategy)
    record.previous_version, record.previous_image = done.previous_version, done.previous_image
    record.image_digest, record.details = done.image_digest, done.details
    record.step("target deploy", outcome=done.outcome)
    result = target.health(service)
    return finish(record, "deployed" if done.outcome == "done" and result.passed else "failed", result)


def rollback_natively(record: DeploymentRecord, target: Target | None = None) -> CheckResult:
    """The target's own rollback to the previous version, unless it already serves."""
    target = target or target_from_record(record)
    service = record.service_name
    name = f"rollback {service} to {record.previous_version}"
    if not record.previous_version:
        return CheckResult.ok(name, "nothing served before this deployment", "previous version serving")
    try:
        done = target.rollback(service, record)
    except ReleaseGateError as exc:
        return CheckResult.fail(name, secrets.redact(str(exc)), "previous version serving")
    finally:
        target.close()
    return CheckResult.judge(name, done.outcome == "done", done.details.get("skipped") or done.outcome,
                             "previous version serving", evidence=done.as_dict())


# --- slots and the router -----------------------------------------------------------------------

def slots_of(target: Target, strategy: str) -> SlotControl:
    """The slots a blue-green or canary deployment needs, or the one-line refusal."""
    control = target.slot_control()
    if control is None:
        raise TargetError(
            f"the {strategy} strategy needs a container target (docker or compose); target {target.spec.name!r}"
            f" is {target.NAME}: use rolling or recreate there"
        )
    return control


def two_colours(target: Target, control: SlotControl, service: str, strategy: str) -> None:
    if not all(control.colour_slots(service, colour) for colour in COLOURS):
        raise TargetError(f"the {strategy} strategy needs a blue and a green slot for {service} on target"
                          f" {target.spec.name!r}; for compose, list two or more compose services in"
                          f" options.services.{service} (first half blue, second half green)")


def weights_for(slots: list[Slot], weight: int = 100) -> dict[str, int]:
    return {s.address: weight for s in slots}


def serving_colour(control: SlotControl, service: str, router: TrafficRouter) -> str | None:
    """The colour the router sends traffic to; without router state, the colour that runs."""
    weights = router.weights()
    for colour in COLOURS:
        addresses = {s.address for s in control.colour_slots(service, colour)}
        if any(weights.get(a, 0) > 0 for a in addresses):
            return colour
    running = {i.slot.colour for i in control.instances(service) if i.status == "running"}
    if len(running) == 1:
        return running.pop()
    return COLOURS[0] if running else None


def set_weights(router: TrafficRouter, control: SlotControl, service: str, weights: dict[str, int],
                record: DeploymentRecord, what: str, *, restore: bool = False) -> float:
    """Apply weights; every address of the service is listed (0 = down); returns seconds taken.

    ``restore`` for an undo: a router that is cleanly down is started again with these weights."""
    full = {s.address: 0 for s in control.slots(service)}
    full.update(weights)
    colours = {colour: slots[0].address for colour in COLOURS if (slots := control.colour_slots(service, colour))}
    record.progress(what)
    started = time.monotonic()
    router.set_weights(full, colors=colours, restore=restore)
    took = round(time.monotonic() - started, 3)
    if not router.verify_weights(full):
        raise TargetError(f"router of {service} does not run with the weights just set ({what}): {router.weights()}")
    record.step(what, weights={a: w for a, w in full.items() if w}, seconds=took)
    record.progress()
    return took


def serving_slots(control: SlotControl, service: str, router: TrafficRouter, record: DeploymentRecord) -> list[Slot]:
    """The slots of the colour that serves now (replaced in place by recreate and rolling), recorded."""
    colour = serving_colour(control, service, router) or COLOURS[0]
    slots = control.colour_slots(service, colour)
    remember_previous(control, service, slots, record)
    record.colour, record.previous_colour, record.slots = colour, colour, [s.index for s in slots]
    return slots


def remember_previous(control: SlotControl, service: str, slots: list[Slot], record: DeploymentRecord) -> None:
    current = [i for i in (control.instance(service, s) for s in slots) if i is not None and i.status == "running"]
    if current:
        record.previous_version = current[0].version
        record.previous_image = current[0].image
        record.previous_image_digest = current[0].image_id


def start_colour(control: SlotControl, service: str, slots: list[Slot], version: str,
                 record: DeploymentRecord) -> CheckResult:
    for slot in slots:
        record.progress(f"start {version} in {slot.colour} slot {slot.index}")
        control.start(service, slot, version)
        record.step("started", slot=slot.index, colour=slot.colour, version=version)
    results = [control.wait_healthy(service, slot, version) for slot in slots]
    verdict = combine(f"{service} {version} on {slots[0].colour if slots else '-'} healthy", results)
    record.step("health gate", outcome=verdict.outcome.value)
    return verdict


def stop_slot(control: SlotControl, service: str, slot: Slot, record: DeploymentRecord) -> None:
    if control.instance(service, slot) is None:
        return
    record.progress(f"stop {slot.colour} slot {slot.index}")
    if control.stop(service, slot):
        record.step("stopped", slot=slot.index, colour=slot.colour)


def default_smoke(control: SlotControl, service: str) -> Smoke:
    """The version endpoint of every standby instance answers the new version."""
    spec = control.service(service)

    def smoke(version: str, urls: list[str]) -> CheckResult:
        results = []
        for url in urls:
            body = http.get_json(url + (spec.version_endpoint or "/version"))
            seen = body.get(spec.version_field) if isinstance(body, dict) else None
            results.append(CheckResult.judge(f"{url} version", seen == version, seen, version))
        return combine(f"smoke {service} {version}", results)

    return smoke
