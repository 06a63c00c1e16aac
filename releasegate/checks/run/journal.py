"""The run journal: what a release run did, one JSON line per event, safe for several processes.

A run writes ``reports/journal/<run-id>.jsonl``; ``reports/journal/latest`` names the newest
run that started changing things (its first event with an ``undo``) or finished (the sign-off
points it at its run). ``--rollback-only`` finds the run to finish with ``newest_unfinished``. Every line is one
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
interleave; the write is ``fsync``ed before ``append`` returns, and the folder is ``fsync``ed when
the journal file (or the ``latest`` pointer) is created, so that an event that was appended
survives a power loss. A last line cut off by one (no line end) is ignored by ``events`` and
reported by ``damage``; the next append starts a new line. ``exclusive`` holds the run's lock
file (a ``filelock.FileLock``).

``DeferredJournal`` is the controller's journal before the run is known to start: its run id is
fixed (the workers get it at once), but its file is created, with the events appended so far,
only by ``start``; a run that never starts leaves no journal.
"""

from __future__ import annotations

import json
import os
import threading
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


def _fsync_directory(directory: Path) -> None:
    """Make a file's creation or rename in ``directory`` durable (the file's own fsync does not)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def point_latest(directory: Path, run_id: str) -> None:
    """Point ``directory/latest`` at ``run_id``, atomically and durably."""
    pointer = directory / f".{LATEST}.{os.getpid()}.tmp"
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(run_id + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, directory / LATEST)
    _fsync_directory(directory)


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
        _fsync_directory(directory)
        if make_latest:
            point_latest(directory, journal.run_id)
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

    @classmethod
    def newest_unfinished(cls, directory: Path, *, environment: str | None = None) -> Unfinished:
        """The newest run of ``environment`` whose rollback plan is unfinished, and what was looked at.

        Unfinished: it journaled changes, and neither a rollback finished with PASS nor the run
        finished PROMOTED. Newest first by the time of its first event, looking past runs without
        changes (a run stopped by bad input before it changed anything, a dry run, a run blocked
        in preflight), runs rolled back already and runs of another environment; a later run that
        finished PROMOTED (the same environment) supersedes every older one: the search stops there.
        """
        unfinished = Unfinished(None)
        for journal in sorted((cls(path) for path in directory.glob("*.jsonl")), key=_started_at, reverse=True):
            events = journal.events()
            started = next((e for e in events if e.get("event") == "run_started"), {})
            if started.get("dry_run") or (environment is not None and started.get("environment") not in
                                          (None, environment)):
                continue
            finished = [e for e in events if e.get("event") == "run_finished"]
            if finished and finished[-1].get("decision") == "PROMOTED":
                return Unfinished(None, superseded_by=journal)
            if not journal.plan():
                continue
            rolled_back = [e for e in events if e.get("event") == "rollback_finished"]
            if rolled_back and rolled_back[-1].get("outcome") == "PASS":
                unfinished = Unfinished(None, rolled_back=unfinished.rolled_back or journal)
                continue
            return Unfinished(journal, rolled_back=unfinished.rolled_back)
        return unfinished
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
        self._write(line.encode("utf-8"))
        if "undo" in fields and self.started:  # the run starts changing things: it is the one to look at
            self.make_latest()
        return record

    def make_latest(self) -> None:
        """Point ``latest`` at this run unless it already is."""
        try:
            current = (self.path.parent / LATEST).read_text(encoding="utf-8").strip()
        except OSError:
            current = ""
        if current != self.run_id:
            point_latest(self.path.parent, self.run_id)

    def _write(self, data: bytes) -> None:
        """Append whole lines under the file's lock, durably; after a cut-off last line, on a new line."""
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            lock_descriptor(fd, poll_interval=_APPEND_POLL_S)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock

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

    def damage(self) -> list[int]:
        """Byte offsets of the lines that are not a complete event (a line cut off by a power loss)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        offsets: list[int] = []
        offset = 0
        for line in raw.split(b"\n"):
            if line.strip():
                try:
                    complete = isinstance(json.loads(line), dict)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    complete = False
                if not complete or offset + len(line) == len(raw):  # the last line has no line end
                    offsets.append(offset)
            offset += len(line) + 1
        return offsets

    def describe_damage(self) -> str:
        """One warning line naming the journal and where it is damaged, or "" when it is not."""
        offsets = self.damage()
        if not offsets:
            return ""
        where = ", ".join(f"byte {offset}" for offset in offsets)
        return (f"warning: journal {self.path}: incomplete line at {where} (cut off, for example by a power loss);"
                " ignored: the rollback runs from the complete lines")

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

    @property
    def started(self) -> bool:
        """The journal's file exists (a ``DeferredJournal``: the run has started)."""
        return self.path.is_file()


def _started_at(journal: Journal) -> float:
    with open(journal.path, "rb") as handle:
        first = handle.readline()
    try:
        return float(json.loads(first)["ts"])
    except (ValueError, KeyError, TypeError):
        return journal.path.stat().st_mtime


@dataclass(frozen=True)
class Unfinished:
    """What ``Journal.newest_unfinished`` found: the journal to roll back, else why there is none."""

    journal: Journal | None
    superseded_by: Journal | None = None  # a newer run finished PROMOTED
    rolled_back: Journal | None = None  # the newest run with changes, rolled back already

    def why_none(self, directory: Path) -> str:
        if self.superseded_by is not None:
            return (f"the newest finished release, run {self.superseded_by.run_id}, was PROMOTED: it supersedes"
                    " any older unfinished run")
        if self.rolled_back is not None:
            finished = self.rolled_back.last("rollback_finished") or {}
            return (f"run {self.rolled_back.run_id} was rolled back already"
                    f" (rollback finished PASS by process {finished.get('pid')})")
        return f"no run in {directory} journaled a change that is not rolled back"


class DeferredJournal(Journal):
    """A journal whose file is created only when the run starts; events appended before are kept until then."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._pending: list[bytes] | None = []
        self._start_lock = threading.Lock()  # notifications append from their own threads

    @classmethod
    def reserve(cls, directory: Path, run_id: str | None = None) -> DeferredJournal:
        """A run id in ``directory`` (made if missing: collection writes the run's items file there); no journal yet."""
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / f"{run_id or new_run_id()}.jsonl")

    @property
    def started(self) -> bool:
        return self._pending is None

    def start(self, *, make_latest: bool = True) -> None:
        """Create the file with the events appended so far; ``make_latest`` points ``latest`` at it."""
        with self._start_lock:
            if self._pending is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            super()._write(b"".join(self._pending))
            _fsync_directory(self.path.parent)
            self._pending = None
        if make_latest:
            point_latest(self.path.parent, self.run_id)

    def _write(self, data: bytes) -> None:
        with self._start_lock:
            if self._pending is not None:
                self._pending.append(data)
                return
        super()._write(data)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.started:
            with self._start_lock:
                pending = b"".join(self._pending or [])
            return [e for e in (json.loads(line) for line in pending.splitlines() if line.strip())
                    if kind is None or e.get("event") == kind]
        return super().events(kind)
