"""The run journal: what a release run did, one JSON line per event, safe for several processes.

A run writes ``reports/journal/<run-id>.jsonl``; ``reports/journal/latest`` names the newest
run so that ``--rollback-only`` can finish the rollback of a run that died. Every line is one
event::

    {"ts": 1763798400.123, "run": "20261122T075410Z-4242", "event": "stage_completed",
     "id": "9f2c...", "pid": 4242, "stage": "deploy", "scenario": "...",
     "undo": {"action": "deploy.blue-green", "params": {...}}}

Events written by releasegate: ``run_started``, ``stage_completed`` (with the undo action of a
change just made), ``check_failed``, ``release_halted``, ``rollback_decision``,
``rollback_started``, ``rollback_action_started``, ``rollback_action_done``,
``rollback_finished``, ``notification``, ``release_done``, ``run_finished`` (with the decision).

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
from dataclasses import dataclass
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

    def describe(self) -> str:
        return f"{self.stage}: {self.action} {secrets.redact(json.dumps(self.params, sort_keys=True, default=str))}"


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

    def plan(self) -> list[UndoStep]:
        """The undo actions of the completed stages, newest first, each distinct action once."""
        steps: list[UndoStep] = []
        seen: set[str] = set()
        for event in reversed(self.events("stage_completed")):
            undo = event.get("undo")
            if not isinstance(undo, dict) or not undo.get("action"):
                continue
            params = undo.get("params") or {}
            identity = json.dumps([undo["action"], params], sort_keys=True, default=str)
            if identity in seen:
                continue
            seen.add(identity)
            steps.append(UndoStep(key=str(event["id"]), stage=str(event.get("stage", "")),
                                  scenario=str(event.get("scenario", "")), action=str(undo["action"]),
                                  params=dict(params), recorded_at=float(event["ts"])))
        return steps

    def done_keys(self) -> set[str]:
        """Keys of plan steps whose undo action already succeeded (in this or an earlier attempt)."""
        return {str(e["key"]) for e in self.events("rollback_action_done") if e.get("outcome") == "PASS"}

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run's lock file: only one process at a time gets past this point."""
        with FileLock(self.lock_path):
            yield
