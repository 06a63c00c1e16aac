"""The run journal: what a release run did, one JSON line per event, safe for several processes.

A run writes ``reports/journal/<run-id>.jsonl``; ``reports/journal/latest`` names the newest
run so that ``--rollback-only`` can finish the rollback of a run that died. Every line is one
event::

    {"ts": 1763798400.123, "run": "20261122T075410Z-4242", "event": "stage_completed",
     "id": "9f2c...", "pid": 4242, "stage": "deploy", "scenario": "...",
     "undo": {"action": "deploy.blue-green", "params": {...}}}

Events written by releasegate: ``run_started``, ``change_intended``, ``change_updated``,
``change_done``, ``change_failed`` and ``stage_completed`` (the write-ahead record of a change,
below), ``check_failed``, ``release_halted``, ``rollback_decision``,
``rollback_started``, ``rollback_action_started``, ``rollback_action_done``,
``rollback_finished``, ``notification``, ``release_done``, ``run_finished`` (with the decision).

Every change is journaled *before* it is made (write-ahead), so a process that dies halfway
leaves its undo in the plan:

- ``change_intended`` (``Journal.intend``): ``stage``, ``scenario`` and ``undo`` {action, params};
  its ``id`` is the change's ``key``;
- ``change_updated`` {key, params} (``Journal.change_updated``) while the change progresses (which
  colour was started, which weights were set): the newest params of a key are what its undo gets;
- ``change_done`` {key, params} or ``change_failed`` {key, params, made} after it. ``made`` false
  says nothing was changed (a migration that did not run): that change leaves the plan;
- ``stage_completed`` {stage, scenario, undo}: a change intended and done at once.

``Journal.plan()`` is the undo of every change that may need one, newest intent first: done,
failed with ``made`` true, and intended with no outcome (the process died during the change).

Writers on different xdist workers append at the same time: each event is one ``write`` on a
file opened with ``O_APPEND`` while holding filelock's lock on that file, so lines never
interleave. ``exclusive`` holds the run's lock file (a ``filelock.FileLock``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, lock_descriptor

from releasegate.checks import secrets

LATEST = "latest"
_APPEND_POLL_S = 0.005  # a writer holds the journal's lock for one write: wait for it in short steps


@dataclass(frozen=True)
class UndoStep:
    """One entry of a rollback plan: the undo action recorded when a stage made its change."""

    key: str
    stage: str
    scenario: str
    action: str
    params: dict[str, Any]
    recorded_at: float
    status: str = "done"  # done, failed (but made), or intended (no outcome journaled: the process died)

    def describe(self) -> str:
        text = f"{self.stage}: {self.action} {secrets.redact(json.dumps(self.params, sort_keys=True, default=str))}"
        return text if self.status == "done" else f"{text} ({_STATUS_NOTES[self.status]})"


_STATUS_NOTES = {"failed": "the change failed after changing something",
                 "intended": "intended, no outcome journaled: the change may be partly made"}
_CHANGE_OUTCOMES = ("change_updated", "change_done", "change_failed")


def new_run_id(now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}Z-{os.getpid()}-{uuid.uuid4().hex[:4]}"


class Journal:
    """Append-only event log of one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name.removesuffix(".jsonl")

    @classmethod
    def create(cls, directory: Path, run_id: str | None = None, *, make_latest: bool = True) -> Journal:
        """A new journal in ``directory``; ``make_latest`` points ``directory/latest`` at it."""
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(directory / f"{run_id or new_run_id()}.jsonl")
        journal.path.touch(exist_ok=True)
        if make_latest:
            pointer = directory / f".{LATEST}.{os.getpid()}.tmp"
            pointer.write_text(journal.run_id + "\n", encoding="utf-8")
            os.replace(pointer, directory / LATEST)
        return journal

    @classmethod
    def open(cls, directory: Path, run_id: str) -> Journal:
        return cls(directory / f"{run_id}.jsonl")

    @classmethod
    def latest(cls, directory: Path) -> Journal | None:
        """The journal the ``latest`` pointer names, or None when there is none."""
        pointer = directory / LATEST
        if not pointer.is_file():
            return None
        run_id = pointer.read_text(encoding="utf-8").strip()
        path = directory / f"{run_id}.jsonl"
        return cls(path) if run_id and path.is_file() else None

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    def sidecar(self, suffix: str) -> Path:
        """A file beside the journal that belongs to the same run (``.halt``, ``.items.json``)."""
        return self.path.with_suffix(suffix)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one event; returns it (with its ``ts`` and ``id``)."""
        record: dict[str, Any] = {"ts": time.time(), "run": self.run_id, "event": event,
                                  "id": uuid.uuid4().hex[:12], "pid": os.getpid()}
        record.update(fields)
        line = secrets.redact(json.dumps(record, default=str, sort_keys=False)) + "\n"
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            lock_descriptor(fd, poll_interval=_APPEND_POLL_S)
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)  # closing releases the lock
        return record

    def stage_completed(self, stage: str, action: str, params: dict[str, Any], *, scenario: str = "",
                        **fields: Any) -> dict[str, Any]:
        """Record that ``stage`` made a change, and the registered action that undoes it."""
        return self.append("stage_completed", stage=stage, scenario=scenario,
                           undo={"action": action, "params": params}, **fields)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every complete event (a line still being written is ignored), optionally of one kind."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        events: list[dict[str, Any]] = []
        for line in raw.split(b"\n")[:-1]:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and (kind is None or event.get("event") == kind):
                events.append(event)
        return events

    def first(self, kind: str) -> dict[str, Any] | None:
        found = self.events(kind)
        return found[0] if found else None

    def last(self, kind: str) -> dict[str, Any] | None:
        found = self.events(kind)
        return found[-1] if found else None

    def intend(self, stage: str, action: str, params: dict[str, Any], *, scenario: str = "",
               **fields: Any) -> str:
        """Write ahead: ``stage`` is about to make a change that ``action(params)`` undoes; returns its key."""
        event = self.append("change_intended", stage=stage, scenario=scenario,
                            undo={"action": action, "params": params}, **fields)
        return str(event["id"])

    def change_updated(self, key: str, params: dict[str, Any]) -> dict[str, Any]:
        """The change ``key`` went further: its undo now gets ``params`` (the whole params, not a patch)."""
        return self.append("change_updated", key=key, params=params)

    def change_done(self, key: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The change ``key`` is made; ``params`` (when given) replace its undo's params."""
        return self.append("change_done", key=key, **({} if params is None else {"params": params}))

    def change_failed(self, key: str, params: dict[str, Any] | None = None, *, made: bool) -> dict[str, Any]:
        """The change ``key`` failed; ``made``: something was (or may have been) changed, so it stays undone."""
        return self.append("change_failed", key=key, made=made, **({} if params is None else {"params": params}))

    def plan(self) -> list[UndoStep]:
        """The undo of every change that may need one, newest intent first, each distinct undo once.

        In the plan: changes done (``stage_completed``, ``change_done``), failed with ``made`` true,
        and intended with no outcome (the process died); each with the newest params of its key.
        Not in it: a change failed with ``made`` false (nothing was changed).
        """
        found: dict[str, tuple[UndoStep, bool]] = {}  # key -> (newest step, needs an undo)
        for event in self.events():
            kind = event.get("event")
            if kind in ("stage_completed", "change_intended"):
                undo = event.get("undo")
                if not isinstance(undo, dict) or not undo.get("action"):
                    continue
                key = str(event["id"])
                found[key] = (UndoStep(key=key, stage=str(event.get("stage", "")),
                                       scenario=str(event.get("scenario", "")), action=str(undo["action"]),
                                       params=dict(undo.get("params") or {}), recorded_at=float(event["ts"]),
                                       status="done" if kind == "stage_completed" else "intended"), True)
            elif kind in _CHANGE_OUTCOMES and str(event.get("key")) in found:
                step, needed = found[str(event.get("key"))]
                params = event.get("params")
                status = {"change_done": "done", "change_failed": "failed"}.get(str(kind), step.status)
                step = replace(step, params=dict(params) if isinstance(params, dict) else step.params, status=status)
                # only an explicit made=false takes a change out: a failure that may have changed something stays
                found[step.key] = (step, needed and not (kind == "change_failed" and event.get("made") is False))
        steps: list[UndoStep] = []
        seen: set[str] = set()
        for step, needed in reversed(list(found.values())):
            identity = json.dumps([step.action, step.params], sort_keys=True, default=str)
            if not needed or identity in seen:
                continue
            seen.add(identity)
            steps.append(step)
        return steps

    def done_keys(self) -> set[str]:
        """Keys of plan steps whose undo action already succeeded (in this or an earlier attempt)."""
        return {str(e["key"]) for e in self.events("rollback_action_done") if e.get("outcome") == "PASS"}

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run's lock file: only one process at a time gets past this point."""
        with FileLock(self.lock_path):
            yield
