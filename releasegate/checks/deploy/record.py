"""The one deployment record: what a deployment, switch or rollback did, and how to undo it.

A strategy starts a record (``Target.new_record``), adds a step for everything it changes, and
finishes it with an outcome. ``as_dict()`` is the JSON the journal keeps as the params of the
record's ``undo`` action (``releasegate.checks.deploy.strategies:rollback_<strategy>``); the
rollback, possibly in another process, reads it back with ``DeploymentRecord.from_dict`` and
rebuilds the target from ``target`` and ``service`` (the runbook entries, env values left out:
the journal keeps no secret). Keys a journal of an older releasegate holds and this model does
not know are ignored, so those journals stay readable.

While a strategy runs, ``record.progress(what)`` is called before each change it makes (and after a
switch): the callback ``watch`` attached (``DeployOptions.on_progress``) journals the record as it
is then, so an undo read from the journal knows which colour was started and which weights set,
even when the process dies in the middle. ``next_change`` names the change announced last.

A target's own deploy or rollback (``Target.deploy``, ``Target.rollback``) returns the same
type with ``action`` set (recreate, command, apply, undo, rollback) and no strategy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

# Keys written only when they hold something: a journal record has the same keys as before.
_OPTIONAL = ("strategy", "undo", "weights", "weight", "details", "switch_s", "duration_s", "action", "next_change")

Progress = Callable[["DeploymentRecord"], None]


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    strategy: str | None = None
    undo: str | None = None
    target: dict[str, Any] = Field(default_factory=dict, description="the target's runbook entry")
    service: dict[str, Any] = Field(default_factory=dict, description="the service's runbook entry, env by name")
    router: dict[str, Any] = Field(default_factory=lambda: {"kind": "none"})
    version: str | None = None
    previous_version: str | None = None
    colour: str | None = None
    previous_colour: str | None = None
    image: str | None = None
    image_digest: str | None = None
    previous_image: str | None = None
    previous_image_digest: str | None = None
    slots: list[int] = Field(default_factory=list)
    outcome: str = "started"
    started_at: float = Field(default_factory=time.time)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    weights: list[int] | None = None
    weight: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    switch_s: float | None = None
    duration_s: float | None = None
    action: str | None = None
    next_change: str | None = None
    _on_progress: Progress | None = PrivateAttr(default=None)
    _announced: bool = PrivateAttr(default=False)

    @property
    def service_name(self) -> str:
        return str(self.service.get("name", ""))

    def step(self, what: str, **details: Any) -> None:
        """Note one thing done, with the seconds since the record started."""
        self.steps.append({"at_s": round(time.time() - self.started_at, 3), "step": what, **details})

    def watch(self, on_progress: Progress | None) -> None:
        """Call ``on_progress(self)`` at every ``progress``; None stops it."""
        self._on_progress = on_progress

    def progress(self, what: str | None = None) -> None:
        """About to make the change ``what`` (None: a change just finished): tell the watcher first."""
        self.next_change = what
        self._announced = self._announced or what is not None
        if self._on_progress is not None:
            self._on_progress(self)

    @property
    def changes_began(self) -> bool:
        """A change was announced (``progress``): something may have been changed."""
        return self._announced

    def finish(self, outcome: str) -> DeploymentRecord:
        self.next_change = None
        self._on_progress = None
        self.outcome = outcome
        self.duration_s = round(time.time() - self.started_at, 3)
        return self

    def as_dict(self) -> dict[str, Any]:
        """The JSON-serializable form the journal keeps."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in _OPTIONAL or v not in (None, {})}

    @classmethod
    def from_dict(cls, data: DeploymentRecord | dict[str, Any]) -> DeploymentRecord:
        """A record as a journal keeps it (unknown keys ignored); a record is returned as it is."""
        return data if isinstance(data, DeploymentRecord) else cls.model_validate(data)
