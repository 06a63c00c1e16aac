"""Blue/green slots: what blue-green, canary and slot-by-slot rolling drive on a container target.

A service with ``instances: N`` has 2N slots: slots 0..N-1 are the *blue* colour and N..2N-1
the *green* one, so a strategy can start the other colour next to the serving one. A backend
whose instances run in such slots (docker, compose) returns itself from
``Target.slot_control()``; ``SlotControl`` is what the strategies may call on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Service

COLOURS = ("blue", "green")


@dataclass
class Slot:
    index: int
    name: str
    port: int
    colour: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Instance:
    """What runs in a slot, as the engine reports it."""

    slot: Slot
    container_id: str
    name: str
    image: str
    image_id: str
    version: str | None
    status: str
    health: str | None  # Docker's health status; None when the image has no HEALTHCHECK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SlotControl(Protocol):
    """Instances of a service, one per slot, started, stopped and health-gated one at a time."""

    def service(self, name: str) -> Service: ...

    def slots(self, service: str) -> list[Slot]: ...

    def colour_slots(self, service: str, colour: str) -> list[Slot]: ...

    def instance(self, service: str, slot: Slot) -> Instance | None: ...

    def instances(self, service: str) -> list[Instance]: ...

    def start(self, service: str, slot: Slot, version: str) -> Instance:
        """Replace whatever runs in ``slot`` with ``version`` (does not wait)."""
        ...

    def stop(self, service: str, slot: Slot) -> bool:
        """Stop and remove what runs in ``slot``; False when nothing did."""
        ...

    def instance_health(self, service: str, slot: Slot, version: str | None = None) -> CheckResult: ...

    def wait_healthy(self, service: str, slot: Slot, version: str | None = None,
                     timeout_s: float | None = None) -> CheckResult: ...
